"""Cells and their roll-up into aggregates: the pure core of the stream processors.

A cell is the latest version of one measure x site x period x stratum. It counts
towards one aggregate per level of the hierarchy (its site, its ARC, its project,
the nation) and per stratum it rolls up to (``mhin_measures.strata.rollup_strata``:
itself, each coarser combination of its groups, and ``""``, all strata).

:class:`Rollup` keeps the sums of every aggregate and changes them by the difference
a new version of a cell makes, so an update costs the same however many cells an
aggregate has. A version that is not newer than the stored one changes nothing.

Sums are exact: every double is a whole number of 2**-1074 units, so numbers are
added as integers of those units and converted back to the nearest double only for
publication. Corrections subtract exactly what they replace, and the result does not
depend on the order of the additions, so the stream and a batch recomputation
(``mhin_aggregator.checker``) agree to the last bit.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from mhin_measures.hierarchy import NATIONAL_UNIT, AggregateKey, Level, SeriesKey, cell_key
from mhin_measures.periods import sort_key
from mhin_measures.rates import MeasureType
from mhin_measures.spc import Direction
from mhin_measures.strata import rollup_strata

SCALE_BITS = 1074
_SCALE = 1 << SCALE_BITS


def exact(number: float) -> int:
    """``number`` as a whole number of 2**-1074 units (exact for every finite double)."""
    numerator, denominator = number.as_integer_ratio()
    return numerator << (SCALE_BITS + 1 - denominator.bit_length())


def to_float(units: int) -> float:
    """The double nearest to ``units`` (int / int is correctly rounded in Python)."""
    return units / _SCALE


class Measure(NamedTuple):
    """What an aggregate's value is computed with (copied into each observation)."""

    measure_type: MeasureType
    multiplier: float
    direction: Direction | None


@dataclass(frozen=True, slots=True)
class Cell:
    """The latest version of one measure x site x period x stratum, as the ``cells``
    table stores it. ``partition`` is the observation topic's partition it came from,
    which is also its changelog partition: a worker rebuilds the sums of exactly the
    partitions it is assigned."""

    measure_id: str
    site_id: str
    arc: str
    project_id: str
    period: str
    stratum: str
    numerator: float
    denominator: float
    version: int
    measure: Measure
    partition: int

    @property
    def key(self) -> str:
        return cell_key(self.measure_id, self.site_id, self.period, self.stratum)

    def to_record(self) -> dict[str, Any]:
        """The table value (JSON in the changelog)."""
        return {
            "measure_id": self.measure_id,
            "site_id": self.site_id,
            "arc": self.arc,
            "project_id": self.project_id,
            "period": self.period,
            "stratum": self.stratum,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "version": self.version,
            "measure_type": self.measure.measure_type.value,
            "multiplier": self.measure.multiplier,
            "direction": self.measure.direction.value if self.measure.direction else None,
            "partition": self.partition,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Cell:
        direction = record["direction"]
        return cls(
            measure_id=record["measure_id"],
            site_id=record["site_id"],
            arc=record["arc"],
            project_id=record["project_id"],
            period=record["period"],
            stratum=record["stratum"],
            numerator=record["numerator"],
            denominator=record["denominator"],
            version=record["version"],
            measure=Measure(
                MeasureType(record["measure_type"]),
                record["multiplier"],
                Direction(direction) if direction else None,
            ),
            partition=record["partition"],
        )


def aggregate_keys(cell: Cell) -> Iterator[tuple[AggregateKey, str]]:
    """Each aggregate ``cell`` counts towards, with the ARC owning that aggregate
    (its site's ARC at SITE and ARC level, none above)."""
    units = (
        (Level.SITE, cell.site_id, cell.arc),
        (Level.ARC, cell.arc, cell.arc),
        (Level.PROJECT, cell.project_id, ""),
        (Level.NATIONAL, NATIONAL_UNIT, ""),
    )
    for stratum in strata_of(cell.stratum):
        for level, unit, owner in units:
            yield AggregateKey(cell.measure_id, level, unit, cell.period, stratum), owner


strata_of = lru_cache(maxsize=4096)(rollup_strata)
period_order = lru_cache(maxsize=4096)(sort_key)


@dataclass(slots=True)
class Total:
    """The sums of one aggregate, in 2**-1074 units (see :func:`exact`)."""

    owner_arc: str
    numerator: int = 0
    denominator: int = 0
    cells: int = 0

    @property
    def figures(self) -> tuple[float, float]:
        """Numerator and denominator as doubles."""
        return to_float(self.numerator), to_float(self.denominator)


class Outcome(enum.Enum):
    """What an observation did to the stored cell."""

    APPLIED = "applied"
    """A newer version: stored, and the sums changed by the difference."""
    REPLAYED = "replayed"
    """The stored version again (a redelivery): its aggregates are published again,
    in case the delivery before a crash stored the cell but never published them."""
    STALE = "stale"
    """An older version than the stored one: ignored."""


class Rollup:
    """The sums of every aggregate of a set of cells, updated cell by cell."""

    def __init__(self) -> None:
        self.totals: dict[AggregateKey, Total] = {}
        self.measures: dict[str, Measure] = {}
        self.tables: dict[tuple[str, str], set[AggregateKey]] = {}
        """The aggregates of each measure and period (what one disclosure pattern covers)."""
        self.parents: dict[str, dict[tuple[str, str], tuple[str, str]]] = {}
        """Per measure, the unit ``(level, unit)`` each unit rolls up to."""
        self.projects: dict[str, set[str]] = {}
        """Per measure, its projects (one: a measure is a project's)."""
        self._periods: dict[SeriesKey, set[str]] = {}
        self._changed: set[AggregateKey] = set()

    def observe(self, stored: Cell | None, cell: Cell) -> Outcome:
        """Apply ``cell`` given the version of it already ``stored`` (if any)."""
        if stored is None or cell.version > stored.version:
            if stored is not None:
                self._count(stored, -1)
            self._count(cell, +1)
            return Outcome.APPLIED
        if cell.version == stored.version:
            self._changed.update(key for key, _ in aggregate_keys(stored))
            return Outcome.REPLAYED
        return Outcome.STALE

    def add_all(self, cells: Iterable[Cell]) -> None:
        """Count ``cells`` in (a rebuild or a batch recomputation); nothing is marked
        as changed."""
        for cell in cells:
            self._count(cell, +1)
        self._changed.clear()

    def take_changes(self) -> set[AggregateKey]:
        """The aggregates changed or replayed since the last call."""
        changed, self._changed = self._changed, set()
        return changed

    def restore_changes(self, changed: Iterable[AggregateKey]) -> None:
        """Mark ``changed`` (taken from the sums these replace) as changed again, as
        far as these sums have them."""
        self._changed.update(key for key in changed if key in self.totals)

    def series_points(self, series: SeriesKey) -> list[tuple[str, Total]]:
        """The series' aggregates that have cells, oldest period first."""
        points = []
        for period in sorted(self._periods.get(series, ()), key=period_order):
            total = self.totals[series.at(period)]
            if total.cells:
                points.append((period, total))
        return points

    def series(self) -> set[SeriesKey]:
        return set(self._periods)

    def _count(self, cell: Cell, sign: int) -> None:
        self.measures[cell.measure_id] = cell.measure
        parents = self.parents.setdefault(cell.measure_id, {})
        self.projects.setdefault(cell.measure_id, set()).add(cell.project_id)
        if (Level.SITE.value, cell.site_id) not in parents:
            parents[(Level.SITE.value, cell.site_id)] = (Level.ARC.value, cell.arc)
            parents[(Level.ARC.value, cell.arc)] = (Level.PROJECT.value, cell.project_id)
            parents[(Level.PROJECT.value, cell.project_id)] = (Level.NATIONAL.value,
                                                              NATIONAL_UNIT)
        numerator = sign * exact(cell.numerator)
        denominator = sign * exact(cell.denominator)
        totals = self.totals
        for key, owner in aggregate_keys(cell):
            total = totals.get(key)
            if total is None:
                total = totals[key] = Total(owner)
                self._periods.setdefault(key.series, set()).add(key.period)
                self.tables.setdefault((key.measure_id, key.period), set()).add(key)
            total.numerator += numerator
            total.denominator += denominator
            total.cells += sign
            self._changed.add(key)
