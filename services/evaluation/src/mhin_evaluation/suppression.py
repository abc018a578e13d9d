"""Complementary suppression for the aggregate queries: the figures withheld from
callers who do not see a measure's data in full, beyond its small counts, so that none
can be recovered by subtraction (``mhin_measures.complementary``).

The pattern belongs to a measure and period as a whole (every level, unit and stratum
the stream processors computed), so a query loads the whole of each period it answers
for. It is the same pattern the stream processors apply to the shared
``mhin.evaluation.aggregate`` topic, from the same aggregates: the tables are keyed
alike (levels by their lower-case names, ARCs by code, the measure's project above
them), and the choice depends on nothing else."""

from __future__ import annotations

from collections.abc import Iterable

from mhin_evaluation.domain import NATIONAL_UNIT, AggregateRow, Level, Measure
from mhin_measures.complementary import SHOWN, Cell, CellKey, Marks, protect


def table_key(row: AggregateRow) -> CellKey:
    return CellKey(row.level.name.lower(), row.unit, row.stratum)


def patterns(rows: Iterable[AggregateRow], measure: Measure, threshold: int
             ) -> dict[tuple[str, CellKey], Marks]:
    """The marks of every withheld aggregate among ``rows`` (whole periods of one
    measure), by period and table key."""
    tables: dict[str, dict[CellKey, Cell]] = {}
    parents: dict[tuple[str, str], tuple[str, str]] = {
        ("project", measure.project_id): ("national", NATIONAL_UNIT)}
    for row in rows:
        owner = row.owner_arc.name if row.owner_arc else ""
        tables.setdefault(row.period, {})[table_key(row)] = Cell(
            row.numerator, row.denominator, owner)
        if row.level is Level.SITE and owner:
            parents[("site", row.unit)] = ("arc", owner)
        elif row.level is Level.ARC:
            parents[("arc", row.unit)] = ("project", measure.project_id)
    return {(period, key): marks
            for period, cells in sorted(tables.items())
            for key, marks in protect(measure.type, cells, parents, threshold).items()}


def marks_of(found: dict[tuple[str, CellKey], Marks], row: AggregateRow) -> Marks:
    return found.get((row.period, table_key(row)), SHOWN)
