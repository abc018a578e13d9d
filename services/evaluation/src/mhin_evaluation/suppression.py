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

import threading
from collections import OrderedDict
from collections.abc import Iterable

from mhin_evaluation.domain import AggregateRow, Measure
from mhin_measures.complementary import SHOWN, Cell, CellKey, Marks, protect
from mhin_measures.hierarchy import NATIONAL_UNIT, Level


def table_key(row: AggregateRow) -> CellKey:
    return CellKey(row.level.value, row.unit, row.stratum)


class Patterns:
    """:func:`patterns` with the pattern of each measure and period kept while its
    aggregates stay exactly the same (a series asks for every period, and choosing a
    pattern costs far more than reading the aggregates again). Shared by the gRPC
    server's threads."""

    def __init__(self, threshold: int, size: int = 1024) -> None:
        self._threshold = threshold
        self._size = size
        self._lock = threading.Lock()
        self._known: OrderedDict[tuple[str, str], tuple[tuple, dict[CellKey, Marks]]] = (
            OrderedDict())

    def __call__(self, rows: Iterable[AggregateRow], measure: Measure
                 ) -> dict[tuple[str, CellKey], Marks]:
        by_period: dict[str, list[AggregateRow]] = {}
        for row in rows:
            by_period.setdefault(row.period, []).append(row)
        found: dict[tuple[str, CellKey], Marks] = {}
        for period, period_rows in sorted(by_period.items()):
            figures = tuple(sorted(
                (table_key(row), row.numerator, row.denominator,
                 row.owner_arc.name if row.owner_arc else "")
                for row in period_rows))
            slot = (measure.id, period)
            with self._lock:
                known = self._known.get(slot)
            if known is None or known[0] != figures:
                table = patterns(period_rows, measure, self._threshold)
                known = (figures, {key: marks for (_, key), marks in table.items()})
            with self._lock:
                self._known[slot] = known
                self._known.move_to_end(slot)
                if len(self._known) > self._size:
                    self._known.popitem(last=False)
            found.update(((period, key), marks) for key, marks in known[1].items())
        return found


def patterns(rows: Iterable[AggregateRow], measure: Measure, threshold: int
             ) -> dict[tuple[str, CellKey], Marks]:
    """The marks of every withheld aggregate among ``rows`` (whole periods of one
    measure), by period and table key."""
    tables: dict[str, dict[CellKey, Cell]] = {}
    parents: dict[tuple[str, str], tuple[str, str]] = {
        (Level.PROJECT.value, measure.project_id): (Level.NATIONAL.value, NATIONAL_UNIT)}
    for row in rows:
        owner = row.owner_arc.name if row.owner_arc else ""
        tables.setdefault(row.period, {})[table_key(row)] = Cell(
            row.numerator, row.denominator, owner)
        if row.level is Level.SITE and owner:
            parents[(Level.SITE.value, row.unit)] = (Level.ARC.value, owner)
        elif row.level is Level.ARC:
            parents[(Level.ARC.value, row.unit)] = (Level.PROJECT.value, measure.project_id)
    return {(period, key): marks
            for period, cells in sorted(tables.items())
            for key, marks in protect(measure.type, cells, parents, threshold).items()}


def marks_of(found: dict[tuple[str, CellKey], Marks], row: AggregateRow) -> Marks:
    return found.get((row.period, table_key(row)), SHOWN)
