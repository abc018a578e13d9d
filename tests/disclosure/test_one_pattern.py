"""The shared topic and the evaluation service's answers withhold the same aggregates:
from the same aggregates, the stream processors' pattern (``mhin_aggregator.
suppression``, over their roll-up) and evaluation's (``mhin_evaluation.suppression``,
over its read model) are equal, mark for mark, for every measure type."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from disclosure_audit import random_table

from mhin_aggregator import suppression as stream
from mhin_aggregator.rollup import Cell, Measure, Rollup
from mhin_evaluation import domain
from mhin_evaluation import suppression as queries
from mhin_evaluation.reference_measures import reference_measures
from mhin_measures.rates import MeasureType
from mhin_platform.reference import Arc

ARCS = (Arc.GREATER_MANCHESTER.name, Arc.YORKSHIRE_AND_HUMBER.name, Arc.NORTH_WEST_COAST.name)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("kind", list(MeasureType))
def test_the_stream_and_the_queries_choose_the_same_pattern(kind):
    draft = next(d for d in reference_measures() if d.type is kind)
    measure = domain.define(draft, NOW)
    rng = random.Random(f"one-pattern-{kind}")
    for period in ("2025-01", "2025-02", "2025-03"):
        table = random_table(rng, kind, arcs=ARCS, project=measure.project_id)
        rollup = Rollup()
        rollup.add_all(
            Cell(measure.id, site, arc, measure.project_id, period, stratum, numerator,
                 denominator, 1, Measure(kind, measure.multiplier, None), 0)
            for site, arc, stratum, numerator, denominator in table.observations)
        published = {(key.level.value, key.unit, key.stratum): marks for key, marks in
                     stream.table_marks(rollup, measure.id, period, 5).items()}
        rows = [domain.AggregateRow(
            measure_id=key.measure_id, level=key.level, unit=key.unit,
            period=key.period, stratum=key.stratum,
            owner_arc=Arc[total.owner_arc] if total.owner_arc else None,
            numerator=total.figures[0], denominator=total.figures[1],
            observation_count=total.cells, computed_at=NOW)
            for key, total in rollup.totals.items()]
        answered = {tuple(key): marks for (_, key), marks in
                    queries.patterns(rows, measure, 5).items()}
        assert published, "the table has small counts to protect"
        assert answered == published
