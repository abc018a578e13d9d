"""The disclosure pattern of the shared topic: complementary suppression
(``mhin_measures.complementary``) over one measure and period's aggregates, chosen
from the same figures, keys and hierarchy as the evaluation service's queries
(``mhin_evaluation.suppression``), so a viewer's answers and the shared topic hide the
same aggregates."""

from __future__ import annotations

from mhin_aggregator.rollup import Rollup
from mhin_measures.complementary import Cell, CellKey, Marks, protect
from mhin_measures.hierarchy import NATIONAL_UNIT, AggregateKey, Level


def table_marks(rollup: Rollup, measure_id: str, period: str, threshold: int
                ) -> dict[AggregateKey, Marks]:
    """The marks of the withheld aggregates of one measure and period."""
    keys = {CellKey(key.level.value, key.unit, key.stratum): key
            for key in rollup.tables.get((measure_id, period), ())
            if rollup.totals[key].cells}
    cells = {}
    for table_key, key in keys.items():
        total = rollup.totals[key]
        numerator, denominator = total.figures
        cells[table_key] = Cell(numerator, denominator, total.owner_arc)
    parents = rollup.parents.get(measure_id, {})
    if len(rollup.projects.get(measure_id, ())) > 1:
        # Not the platform's data (a measure is one project's), but the synthetic
        # workloads': an ARC's sites in several projects do not add up per project, so
        # the relations kept are sites -> ARC -> national.
        parents = {unit: parent if unit[0] == Level.SITE else (Level.NATIONAL.value, NATIONAL_UNIT)
                   for unit, parent in parents.items() if unit[0] in (Level.SITE, Level.ARC)}
    found = protect(rollup.measures[measure_id].measure_type, cells, parents, threshold)
    return {keys[table_key]: marks for table_key, marks in found.items()}
