"""What the growth benchmark stores and asks for, service by service.

Rows are bulk-loaded through each service's own store functions (the columns its
normal path writes), one transaction per step: a million calls through the APIs
would take longer than the whole suite may.

needs-intake: copies of one need spread over the ARCs, a second apart.

evaluation: the observations of a network that grows by projects of one shape
(:data:`MEASURES` measures, :data:`SITES` sites in two ARCs, :data:`MONTHS` months,
one observation per ethnicity group: :data:`PER_PROJECT` observations), with the
aggregates the aggregator publishes for them (its own roll-up rule: site, ARC,
project and national, per group and for all groups). A query about one project's
measure finds the same rows however many projects are stored, so the figures show
what the size of the tables costs, not a bigger answer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import Message
from sqlalchemy import func, select

from mhin.common.v1 import arc_pb2
from mhin.evaluation.v1 import aggregate_events_pb2, evaluation_pb2, measure_definition_pb2
from mhin.needs.v1 import needs_pb2
from mhin_aggregator import rollup
from mhin_evaluation import domain as evaluation_domain
from mhin_evaluation import main as evaluation_main
from mhin_evaluation import store as evaluation_store
from mhin_measures.hierarchy import AggregateKey
from mhin_measures.periods import Frequency
from mhin_measures.rates import MeasureType
from mhin_measures.spc import Direction
from mhin_needs import domain as needs_domain
from mhin_needs import main as needs_main
from mhin_needs import store as needs_store
from mhin_platform.db import Database
from mhin_platform.reference import Arc, OrganisationType
from mhin_platform.runtime import ServiceDefinition

LOADED_AT = datetime(2026, 1, 1, tzinfo=UTC)
SAMPLES = 16  # different requests per query, spread over what is stored


@dataclass(frozen=True)
class Query:
    name: str
    method: str  # "/package.Service/Method"
    requests: Callable[[int], list[Message]]  # the requests to cycle through at a size


@dataclass(frozen=True)
class Subject:
    """A service whose queries are timed as its tables grow."""

    service: ServiceDefinition
    rows: str  # what a row is, for the notes ("observations")
    counted: str  # what the figure names count ("rows" for needs, as they always have)
    load: Callable[[Database, int, int], str]  # rows first..first+count-1; what else is stored
    queries: tuple[Query, ...]


def spread(count: int) -> list[int]:
    """Up to :data:`SAMPLES` of ``range(count)``, evenly spaced."""
    return list(range(count))[:: max(1, count // SAMPLES)][:SAMPLES]


# ----------------------------------------------------------------- needs-intake

NEEDS_BATCH = 20_000
NEEDS_PAGE = 50


def _template_need() -> needs_domain.Need:
    draft = needs_domain.NeedDraft(
        submitter=needs_domain.Organisation(name="Pennine Care NHS FT",
                                            type=OrganisationType.NHS_TRUST),
        arc=Arc.GREATER_MANCHESTER, title="Crisis support for young people out of hours",
        description="No out-of-hours crisis line for under-18s in the area.",
        sources=[needs_domain.ScopingExerciseSource(response_ref="SE-2021-017")],
    )
    return needs_domain.submit(draft, str(uuid.uuid4()), datetime(2021, 4, 1, tzinfo=UTC))


def load_needs(database: Database, first: int, count: int) -> str:
    """Store needs number ``first`` to ``first + count - 1``, spread over the ARCs."""
    template, arcs = _template_need(), list(Arc)
    with database.transaction() as session:
        for start in range(first, first + count, NEEDS_BATCH):
            needs_store.documents.add_many(session, [template.model_copy(update={
                "id": str(uuid.uuid4()), "arc": arcs[n % len(arcs)],
                "submitted_at": template.submitted_at + timedelta(seconds=n)})
                for n in range(start, min(start + NEEDS_BATCH, first + count))])
    return ""


NEEDS = Subject(needs_main.DEFINITION, "needs", "rows", load_needs, (
    Query("ListNeeds first page", "/mhin.needs.v1.NeedsService/ListNeeds",
          lambda rows: [needs_pb2.ListNeedsRequest(page={"page_size": NEEDS_PAGE})]),
    Query("ListNeeds by ARC", "/mhin.needs.v1.NeedsService/ListNeeds",
          lambda rows: [needs_pb2.ListNeedsRequest(page={"page_size": NEEDS_PAGE},
                                                   arc=arc_pb2.ARC_GREATER_MANCHESTER)]),
))  # fmt: skip

# ----------------------------------------------------------------- evaluation

MEASURES = 4
SITES = 25
MONTHS = tuple(f"{2024 + month // 12}-{month % 12 + 1:02d}" for month in range(20))
GROUPS = ("Asian", "Black", "Mixed", "White", "Other")
SERIES = len(MONTHS) * len(GROUPS)  # observations of one measure at one site
PER_PROJECT = MEASURES * SITES * SERIES  # 10,000: each size is whole projects
LATEST = MONTHS[-1]
_ARCS = list(Arc)
_FIGURES = rollup.Measure(MeasureType.PROPORTION, 100.0, Direction.UP)
_SITE_IDS = uuid.UUID("6f1c1f0e-2b1f-4c55-9a40-0d6e5d1b7a10")  # names site ids (uuid5)


def project_id(project: int) -> str:
    return f"growth-project-{project:04d}"


def measure_id(project: int, measure: int) -> str:
    return f"growth-{project:04d}-referrals-{measure}"


def site(project: int, number: int) -> evaluation_domain.Site:
    arc = _ARCS[(2 * project + number % 2) % len(_ARCS)]
    return evaluation_domain.Site(id=str(uuid.uuid5(_SITE_IDS, f"{project}/{number}")),
                                  project_id=project_id(project), name=f"Site {number}", arc=arc)


def _define_project(session, project: int) -> None:
    evaluation_store.replace_project(session, evaluation_domain.ProjectSites(
        project_id=project_id(project), version=1,
        sites=tuple(site(project, number) for number in range(SITES))), None)
    for measure in range(MEASURES):
        evaluation_store.add_measure(session, evaluation_domain.define(
            evaluation_domain.MeasureDraft(
                id=measure_id(project, measure), project_id=project_id(project),
                title="Referrals from minority ethnic communities",
                tag=evaluation_domain.MeasureTag(re_aim=evaluation_domain.ReAimDimension.REACH),
                type=MeasureType.PROPORTION, numerator="Referrals from minority ethnic groups",
                denominator="All referrals", multiplier=100, direction=Direction.UP,
                frequency=Frequency.MONTHLY,
                stratifiers=(evaluation_domain.Stratifier.ETHNICITY,)),
            LOADED_AT))


def _observations(project: int, first: int, end: int) -> list[evaluation_domain.Observation]:
    """The project's observations number ``first`` to ``end - 1`` (counted within it):
    each measure, site by site, month by month, group by group."""
    sites = [site(project, number) for number in range(SITES)]
    found = []
    for n in range(first, end):
        series, cell = divmod(n, SERIES)
        measure, number = divmod(series, SITES)
        month, group = divmod(cell, len(GROUPS))
        found.append(evaluation_domain.Observation.model_construct(  # valid by construction
            measure_id=measure_id(project, measure), site_id=sites[number].id,
            period=MONTHS[month], stratum=f"ethnicity={GROUPS[group]}",
            numerator=float(n % 37), denominator=float(40 + n % 11),
            project_id=project_id(project), arc=sites[number].arc, version=1,
            recorded_at=LOADED_AT, recorded_by="growth-benchmark"))
    return found


def _aggregates(observations: Sequence[evaluation_domain.Observation]
                ) -> list[evaluation_domain.AggregateRow]:
    """The aggregates the aggregator publishes for ``observations``: its roll-up rule,
    summed in doubles (exact here: the figures are small whole numbers)."""
    sums: dict[AggregateKey, list[Any]] = {}
    for o in observations:
        cell = rollup.Cell(o.measure_id, o.site_id, o.arc.name, o.project_id, o.period,
                           o.stratum, o.numerator, o.denominator or 0.0, o.version, _FIGURES, 0)
        for key, owner in rollup.aggregate_keys(cell):
            total = sums.setdefault(key, [owner, 0.0, 0.0, 0])
            total[1] += cell.numerator
            total[2] += cell.denominator
            total[3] += 1
    return [
        evaluation_domain.AggregateRow.model_construct(
            measure_id=key.measure_id, level=key.level,
            unit=key.unit, period=key.period, stratum=key.stratum,
            owner_arc=Arc[owner] if owner else None, numerator=numerator,
            denominator=denominator, observation_count=cells, computed_at=LOADED_AT)
        for key, (owner, numerator, denominator, cells) in sums.items()
    ]


def load_observations(database: Database, first: int, count: int) -> str:
    """Store observations number ``first`` to ``first + count - 1`` and the aggregates
    of every project they belong to (recomputed over the project's stored
    observations, so a step that ends inside a project leaves it consistent)."""
    end = first + count
    with database.transaction() as session:
        for project in range(first // PER_PROJECT, -(-end // PER_PROJECT)):
            start = project * PER_PROJECT
            if start >= first:
                _define_project(session, project)
            stored = _observations(project, 0, min(end, start + PER_PROJECT) - start)
            # in the order they would arrive: month by month
            new = sorted(stored[max(first - start, 0):], key=lambda o: o.period)
            evaluation_store.add_observations(session, new)
            evaluation_store.put_aggregates(
                session, sorted(_aggregates(stored), key=lambda a: a.period))
        aggregates = session.execute(select(func.count()).select_from(
            evaluation_store.aggregates)).scalar_one()
    return f" and {aggregates:,} aggregates"


def _series_stored(rows: int) -> list[tuple[int, int, int]]:
    """(project, measure, site number) of sampled series complete at ``rows``."""
    whole = [divmod(series, MEASURES * SITES) for series in spread(rows // SERIES)]
    return [(project, *divmod(rest, SITES)) for project, rest in whole]


def _site_series(rows: int) -> list[Message]:
    return [evaluation_pb2.GetSeriesRequest(series=evaluation_pb2.SeriesKey(
        measure_id=measure_id(project, measure), level=aggregate_events_pb2.LEVEL_SITE,
        unit=site(project, number).id)) for project, measure, number in _series_stored(rows)]


def _national_aggregate(rows: int) -> list[Message]:
    return [evaluation_pb2.GetAggregateRequest(series=evaluation_pb2.SeriesKey(
        measure_id=measure_id(project, measure), level=aggregate_events_pb2.LEVEL_NATIONAL),
        period=LATEST) for project, measure, _ in _series_stored(rows)]


def _breakdown(rows: int) -> list[Message]:
    return [evaluation_pb2.GetBreakdownRequest(
        measure_id=measure_id(project, measure), level=aggregate_events_pb2.LEVEL_NATIONAL,
        period=LATEST, stratifier=measure_definition_pb2.STRATIFIER_ETHNICITY)
        for project, measure, _ in _series_stored(rows)]


_EVALUATION = "/mhin.evaluation.v1.EvaluationService/"
EVALUATION = Subject(evaluation_main.DEFINITION, "observations", "observations",
                     load_observations, (
    Query("GetSeries of a site", _EVALUATION + "GetSeries", _site_series),
    Query("GetAggregate national, one month", _EVALUATION + "GetAggregate", _national_aggregate),
    Query("GetBreakdown by ethnicity, national", _EVALUATION + "GetBreakdown", _breakdown),
))  # fmt: skip
