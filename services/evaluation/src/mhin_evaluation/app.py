"""evaluation use cases: each one transaction that loads, applies a domain rule,
stores the result and records its events in the outbox; queries apply disclosure
control for the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from mhin_evaluation import domain, events, impact_domain, store, suppression
from mhin_evaluation.domain import (
    AggregateView,
    Level,
    Measure,
    MeasureDraft,
    Observation,
    ObservationDraft,
    Outcome,
    ProjectSites,
    Site,
    SpcChart,
    Stratifier,
)
from mhin_evaluation.reference_measures import reference_measures
from mhin_measures import disclosure, periods
from mhin_measures.complementary import CellKey, Marks
from mhin_measures.hierarchy import SeriesKey
from mhin_platform.auth import Principal, Role, require_national, require_write
from mhin_platform.db import Database
from mhin_platform.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from mhin_platform.paging import decode_page_token, page_of
from mhin_platform.reference import Arc
from mhin_platform.usecases import utc_now

MAX_BATCH = 10_000


@dataclass(frozen=True)
class Problem:
    """Why one observation of a batch would be refused."""

    index: int
    field: str
    message: str
    permission_denied: bool = False


@dataclass(frozen=True)
class Breakdown:
    measure: Measure
    total: AggregateView | None
    groups: list[AggregateView]


class EvaluationApp:
    def __init__(self, database: Database, disclosure_threshold: int = disclosure.DEFAULT_THRESHOLD,
                 clock: Callable[[], datetime] = utc_now, instance_arc: Arc | None = None) -> None:
        self._db = database
        self._pattern_cache = suppression.Patterns(disclosure_threshold)
        self._clock = clock
        self._instance_arc = instance_arc

    # ------------------------------------------------------------- measure definitions

    def load_reference_measures(self) -> int:
        """Define the shipped measures that are not defined yet; how many were. An ARC's
        own instance defines none: it learns them from the national instance's topic."""
        if self._instance_arc is not None:
            return 0
        added = 0
        with self._db.transaction() as session:
            for draft in reference_measures():
                if store.get_measure(session, draft.id) is None:
                    self._define(session, draft)
                    added += 1
        return added

    def define_measure(self, principal: Principal, draft: MeasureDraft) -> Measure:
        self._require_national_instance()
        require_national(principal, "define measures")
        with self._db.transaction() as session:
            if (existing := store.get_measure(session, draft.id)) is not None:
                if existing.same_definition(draft):
                    return existing
                raise AlreadyExists(f"measure {draft.id!r} is already defined differently; "
                                    "definitions never change: give a new measure a new id")
            if store.project_version(session, draft.project_id) is None:
                raise InvalidArgument("measure.project_id",
                                      f"unknown project {draft.project_id!r}")
            return self._define(session, draft)

    def _require_national_instance(self) -> None:
        """Measures have one writer, the national instance: ARC instances only read them."""
        if self._instance_arc is not None:
            raise FailedPrecondition(
                f"this is the {self._instance_arc.name} instance: measures are defined on the "
                "national instance, and every ARC's instance learns them from it")

    def _define(self, session: Session, draft: MeasureDraft) -> Measure:
        measure = domain.define(draft, self._clock())
        store.add_measure(session, measure)
        events.measure_defined(session, measure)
        return measure

    def get_measure(self, measure_id: str) -> Measure:
        with self._db.read() as session:
            return _measure(session, measure_id)

    def list_measures(self, project_id: str, page_size: int,
                      page_token: str) -> tuple[list[Measure], str]:
        filters = {"project_id": project_id}
        after = decode_page_token(page_token, filters)
        with self._db.read() as session:
            found = store.list_measures(session, project_id, after[0] if after else None,
                                        page_size + 1)
        return page_of(found, page_size, filters, lambda measure: [measure.id])

    def project_sites(self, project_id: str) -> ProjectSites:
        with self._db.read() as session:
            found = store.project_sites(session, project_id)
        if found is None:
            raise NotFound(f"project {project_id!r} is not known (yet) to evaluation")
        return found

    # ------------------------------------------------------------- observations

    def submit(self, principal: Principal,
               draft: ObservationDraft) -> tuple[Observation, Outcome]:
        return self._record(principal, [draft], lambda _: "observation")[0]

    def submit_batch(self, principal: Principal,
                     drafts: Sequence[ObservationDraft]) -> list[tuple[Observation, Outcome]]:
        """All or nothing: the first bad observation refuses the whole batch."""
        _check_batch_size(drafts)
        return self._record(principal, drafts, lambda index: f"observations.{index}")

    def check_batch(self, principal: Principal,
                    drafts: Sequence[ObservationDraft]) -> list[Problem]:
        """Every problem submit_batch would refuse the batch for; records nothing."""
        _check_batch_size(drafts)
        problems: list[Problem] = []
        with self._db.read() as session:
            batch = _Batch.load(session, drafts, self._clock())
            seen: dict[tuple[str, str, str, str], int] = {}
            for index, draft in enumerate(drafts):
                field = f"observations.{index}"
                try:
                    checked = batch.check(principal, draft, field)
                    _refuse_repeat(seen, checked, index, field)
                except InvalidArgument as exc:
                    problems.append(Problem(index, exc.field, exc.message))
                except PermissionDenied as exc:
                    problems.append(Problem(index, f"{field}.site_id", str(exc),
                                            permission_denied=True))
        return problems

    def _record(self, principal: Principal, drafts: Sequence[ObservationDraft],
                field_of: Callable[[int], str]) -> list[tuple[Observation, Outcome]]:
        now = self._clock()
        with self._db.transaction() as session:
            batch = _Batch.load(session, drafts, now)
            seen: dict[tuple[str, str, str, str], int] = {}
            checked = []
            for index, draft in enumerate(drafts):
                checked.append(batch.check(principal, draft, field_of(index)))
                _refuse_repeat(seen, checked[-1], index, field_of(index))
            earlier = store.observations_by_key(session, [c.key for c in checked])
            results = [
                domain.record(c, earlier.get(c.key), batch.sites[c.site_id],
                              batch.measures[c.measure_id], principal, now)
                for c in checked
            ]
            store.add_observations(session, [o for o, out in results if out is Outcome.RECORDED])
            store.replace_observations(session,
                                       [o for o, out in results if out is Outcome.CORRECTED])
            events.observations_recorded(session, [
                (o, batch.measures[o.measure_id]) for o, out in results
                if out is not Outcome.UNCHANGED
            ])
        return results

    # ------------------------------------------------------------- aggregate queries

    def aggregate(self, principal: Principal, key: SeriesKey,
                  period: str) -> tuple[Measure, AggregateView]:
        with self._db.read() as session:
            measure, key = _resolve(session, key, "series")
            period = _period(period, measure)
            row = store.get_aggregate(session, key.at(period))
            if row is None:
                raise NotFound(f"no aggregate of {key.measure_id} for {key.level.value} "
                               f"{key.unit}, {period}, {key.stratum or 'all strata'} (yet)")
            marks = self._patterns(session, principal, measure, [period])
        return measure, self._view(row, measure, principal, marks)

    def series(self, principal: Principal, key: SeriesKey) -> tuple[Measure, list[AggregateView]]:
        with self._db.read() as session:
            measure, key = _resolve(session, key, "series")
            rows = store.series(session, key.measure_id, key.level, key.unit, key.stratum)
            marks = self._patterns(session, principal, measure, [row.period for row in rows])
        views = [self._view(row, measure, principal, marks) for row in rows]
        return measure, domain.series_order(views)

    def breakdown(self, principal: Principal, measure_id: str, level: Level, unit: str,
                  period: str, stratifier: Stratifier) -> Breakdown:
        with self._db.read() as session:
            measure, key = _resolve(session, SeriesKey(measure_id, level, unit, ""), "")
            period = _period(period, measure)
            wanted = domain.breakdown_strata(stratifier, measure)
            rows = store.period_strata(session, measure.id, key.level, key.unit, period,
                                       ["", *wanted])
            marks = self._patterns(session, principal, measure, [period])
        total = rows.get("")
        return Breakdown(
            measure,
            total=None if total is None else self._view(total, measure, principal, marks),
            groups=[self._view(rows[s], measure, principal, marks) for s in wanted if s in rows],
        )

    def spc(self, principal: Principal, key: SeriesKey, rebase_periods: Sequence[str] = (),
            no_rebase: bool = False, fix_after_n_points: int = 0,
            screen_outliers: bool = False) -> SpcChart:
        """The XmR chart of a series; a site's is rebased at its go-live period once it
        has one, unless told other rebase periods or none."""
        measure, views = self.series(principal, key)
        for index, period in enumerate(rebase_periods):
            try:
                periods.validate_period(period, measure.frequency)
            except ValueError as exc:
                raise InvalidArgument(f"rebase_periods.{index}", str(exc)) from None
        if no_rebase:
            rebase_periods = ()
        elif not rebase_periods and key.level is Level.SITE:
            with self._db.read() as session:
                site = store.sites_by_id(session, [key.unit.strip()]).get(key.unit.strip())
            if site is not None and site.go_live is not None:
                rebase_periods = (impact_domain.period_of(site.go_live, measure).id,)
        return domain.spc_chart(views, measure, rebase_periods=rebase_periods,
                                fix_after_n_points=fix_after_n_points,
                                screen_outliers=screen_outliers)

    def _patterns(self, session: Session, principal: Principal, measure: Measure,
                  periods: Sequence[str]) -> dict[tuple[str, CellKey], Marks]:
        """What complementary suppression withholds in these periods of the measure
        (nothing to work out for a national caller, who sees everything)."""
        if principal.role is Role.NATIONAL_ADMIN or not periods:
            return {}
        rows = store.period_aggregates(session, measure.id, sorted(set(periods)))
        return self._pattern_cache(rows, measure)

    def _view(self, row: domain.AggregateRow, measure: Measure, principal: Principal,
              marks: dict[tuple[str, CellKey], Marks]) -> AggregateView:
        return domain.view(row, measure, principal, suppression.marks_of(marks, row))


class _Batch:
    """The measures and sites a batch of observations refers to, loaded once."""

    def __init__(self, measures: dict[str, Measure], sites: dict[str, Site],
                 now: datetime) -> None:
        self.measures = measures
        self.sites = sites
        self._today = now.date()

    @classmethod
    def load(cls, session: Session, drafts: Sequence[ObservationDraft], now: datetime) -> _Batch:
        return cls(store.measures_by_id(session, {d.measure_id for d in drafts}),
                   store.sites_by_id(session, {d.site_id for d in drafts}), now)

    def check(self, principal: Principal, draft: ObservationDraft,
              field: str) -> ObservationDraft:
        with _fields_under(field):
            checked = domain.check_observation(draft, self.measures.get(draft.measure_id),
                                               self.sites.get(draft.site_id), self._today)
        try:
            require_write(principal, self.sites[draft.site_id].arc)
        except PermissionDenied as exc:
            raise PermissionDenied(f"{field}: {exc}") from None
        return checked


def _refuse_repeat(seen: dict[tuple[str, str, str, str], int], checked: ObservationDraft,
                   index: int, field: str) -> None:
    first = seen.setdefault(checked.key, index)
    if first != index:
        raise InvalidArgument(field, f"repeats observation {first} (same measure, site, "
                              "period and stratum): send each once")


def _check_batch_size(drafts: Sequence[ObservationDraft]) -> None:
    if not 1 <= len(drafts) <= MAX_BATCH:
        raise InvalidArgument("observations", f"send 1 to {MAX_BATCH} observations per call, "
                              f"not {len(drafts)}")


def _measure(session: Session, measure_id: str) -> Measure:
    measure = store.get_measure(session, measure_id)
    if measure is None:
        raise NotFound(f"measure {measure_id!r} is not defined")
    return measure


def _resolve(session: Session, key: SeriesKey, prefix: str) -> tuple[Measure, SeriesKey]:
    """The measure and the key as aggregates are stored under (canonical unit and stratum)."""
    measure = _measure(session, key.measure_id)
    with _fields_under(prefix):
        unit = domain.canonical_unit(key.level, key.unit)
        stratum = domain.canonical_series_stratum(key.stratum, measure)
    return measure, SeriesKey(measure.id, key.level, unit, stratum)


def _period(period: str, measure: Measure) -> str:
    try:
        return periods.validate_period(period, measure.frequency)
    except ValueError as exc:
        raise InvalidArgument("period", str(exc)) from None


@contextmanager
def _fields_under(prefix: str) -> Iterator[None]:
    """Name a field relative to ``prefix`` (the request field it belongs to)."""
    try:
        yield
    except InvalidArgument as exc:
        if not prefix:
            raise
        raise InvalidArgument(f"{prefix}.{exc.field}", exc.message) from None
