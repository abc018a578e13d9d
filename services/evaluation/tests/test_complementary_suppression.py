"""Complementary suppression over the real service: for each audience, everything its
gRPC answers show (every level, unit, stratum and period, through GetSeries,
GetAggregate, GetBreakdown and GetSpc) gives no suppressed figure away to a
differencing attack (``tests/support/disclosure_audit.py``)."""

from __future__ import annotations

import random

from disclosure_audit import (
    Seen,
    Table,
    attack,
    audience_own_data,
    audience_shares,
    random_table,
)

from mhin.evaluation.v1 import (
    aggregate_events_pb2,
    evaluation_pb2,
    measure_definition_pb2,
    measure_pb2,
)
from mhin_devkit.harness import Caller
from mhin_measures.complementary import CellKey
from mhin_measures.rates import MeasureType

THRESHOLD = 5
ARCS = ("GREATER_MANCHESTER", "YORKSHIRE_AND_HUMBER", "NORTH_WEST_COAST")
AUDIENCES = (("viewer", None, ""), ("arc_member", "greater-manchester", ARCS[0]),
             ("arc_member", "yorkshire-and-humber", ARCS[1]),
             ("arc_member", "north-west-coast", ARCS[2]))
LEVELS = {"site": aggregate_events_pb2.LEVEL_SITE, "arc": aggregate_events_pb2.LEVEL_ARC,
          "project": aggregate_events_pb2.LEVEL_PROJECT,
          "national": aggregate_events_pb2.LEVEL_NATIONAL}
TYPES = {MeasureType.COUNT: measure_pb2.MEASURE_TYPE_COUNT,
         MeasureType.PROPORTION: measure_pb2.MEASURE_TYPE_PROPORTION}
PERIODS = ("2025-01", "2025-02")


def test_no_audience_recovers_a_suppressed_figure_from_its_answers(evaluation):
    project = evaluation.project()
    rng = random.Random("evaluation-complementary")
    for kind, proto_type in TYPES.items():
        changes = {"type": proto_type,
                   "stratifiers": [measure_definition_pb2.STRATIFIER_SEX]}
        if kind is MeasureType.COUNT:
            changes.update(denominator="", multiplier=1)
        measure = evaluation.define_measure(project.id, **changes).id
        tables = {period: random_table(rng, kind, stratifiers=("sex",), arcs=ARCS,
                                       project=project.id, most_sites=2)
                  for period in PERIODS}
        for period, table in tables.items():
            for key, cell in sorted(table.cells.items()):
                evaluation.publish_aggregate(
                    measure, LEVELS[key.level], key.unit, period, cell.numerator,
                    cell.denominator, stratum=key.stratum, owner_arc=cell.owner,
                    measure_type=proto_type)
        last_period, last_table = PERIODS[-1], tables[PERIODS[-1]]
        last = max(last_table.cells)
        evaluation.wait_for_aggregate(series_key(measure, last), last_period,
                                      last_table.cells[last].numerator)

        hidden_somewhere = 0
        for role, arc, code in AUDIENCES:
            api = evaluation.api(role, arc)
            seen = answers(api, measure, tables)
            for period, table in tables.items():
                own = audience_own_data(kind, table.cells, table.parents, code)
                shares = audience_shares(table.cells, table.parents, code)
                audit = attack(kind, seen[period], table.parents, THRESHOLD, own, shares,
                               table.cells)
                assert audit.findings == [], (role, arc, period, audit.findings[:3])
                hidden_somewhere += audit.hidden
        assert hidden_somewhere > 0, "the random tables have small counts to protect"


def series_key(measure: str, key: CellKey) -> evaluation_pb2.SeriesKey:
    return evaluation_pb2.SeriesKey(measure_id=measure, level=LEVELS[key.level], unit=key.unit,
                                    stratum=key.stratum)


def answers(api: Caller, measure: str, tables: dict[str, Table]
            ) -> dict[str, dict[CellKey, Seen]]:
    """Everything ``api``'s caller is shown, per period, checked to agree wherever two
    calls show the same aggregate (one pattern for all of them)."""
    seen: dict[str, dict[CellKey, Seen]] = {period: {} for period in tables}
    flags: dict[tuple[str, CellKey], tuple[bool, bool]] = {}

    def record(period: str, key: CellKey, aggregate: evaluation_pb2.Aggregate) -> None:
        figures = Seen(
            aggregate.numerator if aggregate.HasField("numerator") else None,
            aggregate.denominator if aggregate.HasField("denominator") else (
                None if aggregate.denominator_suppressed else 0.0))
        assert seen[period].setdefault(key, figures) == figures, (period, key)
        marked = (aggregate.numerator_secondary, aggregate.denominator_secondary)
        assert flags.setdefault((period, key), marked) == marked, (period, key)
        if aggregate.numerator_secondary:
            assert aggregate.numerator_suppressed

    units = sorted({(key.level, key.unit) for table in tables.values() for key in table.cells})
    strata = sorted({key.stratum for table in tables.values() for key in table.cells})
    for level, unit in units:
        for stratum in strata:
            key = CellKey(level, unit, stratum)
            points = api.GetSeries(evaluation_pb2.GetSeriesRequest(
                series=series_key(measure, key))).points
            for point in points:
                record(point.period, key, point)
            chart = api.GetSpc(evaluation_pb2.GetSpcRequest(series=series_key(measure, key)))
            for spc_point, point in zip(chart.points, points, strict=True):
                assert spc_point.suppressed == point.value_suppressed
                assert spc_point.HasField("value") == point.HasField("value")
            if stratum == "":
                for period in (p for p, table in tables.items() if key in table.cells):
                    record(period, key, api.GetAggregate(evaluation_pb2.GetAggregateRequest(
                        series=series_key(measure, key), period=period)).aggregate)
        for period in (p for p, table in tables.items()
                       if CellKey(level, unit, "") in table.cells):
            breakdown = api.GetBreakdown(evaluation_pb2.GetBreakdownRequest(
                measure_id=measure, level=LEVELS[level], unit=unit, period=period,
                stratifier=measure_definition_pb2.STRATIFIER_SEX))
            for group in breakdown.groups:
                record(period, CellKey(level, unit, group.stratum), group)
    for period, table in tables.items():
        assert set(seen[period]) == set(table.cells), "every aggregate was asked for"
    return seen
