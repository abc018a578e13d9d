"""Complementary (secondary) suppression: which further figures to withhold so that no
suppressed count can be derived from the figures an audience sees.

Primary suppression (:mod:`mhin_measures.disclosure`) hides small counts one aggregate
at a time. The aggregates of one measure and period are tied by sums, so a hidden count
could be recovered by subtraction: a breakdown's total minus its other groups, a
project minus its ARCs, an ARC minus its sites, the nation minus its projects. This
module chooses, for one measure and period (a *table*), the extra figures to hide.

The relations (each "total = sum of parts", over the aggregates that exist; an absent
aggregate has no data, so it counts as a known 0):

- hierarchy: for every stratum, a parent unit is the sum of its child units (site ->
  ARC -> project -> national, as ``parents`` says);
- strata: for every unit, a stratum is the sum, over the groups of any stratifier it
  does not name, of the stratum that adds that group (``""`` = the sum of ``sex=F``,
  ``sex=M``, ``sex=Not stated``; ``sex=F`` = the sum of ``sex=F|age_band=...``).

The figures protected are the counts of people or events: the numerator of COUNT and
RATIO (a RATIO's denominator is an exposure, always shown), the cases of a MEAN (its
sum of values is hidden exactly where they are), and a PROPORTION's numerator and its
complement (denominator - numerator, "47 of 50" discloses 3): a PROPORTION's numerator
and denominator are withheld together, protected for both.

Who sees what (audiences): an outsider
sees only what the pattern shows; each ARC also sees its own sites and ARC in full
(and so knows any project or national figure made of its data alone); a national
caller sees everything. The pattern is one for all audiences, so the shared topic and
every caller's answers agree (an ARC sees the pattern minus its own aggregates), and
it is chosen against every ARC's extra knowledge as well as an outsider's, so what an
ARC reads on the shared topic adds nothing to what its answers show.

How the pattern is chosen, for each figure (deterministic: relations, cells and
audiences are always taken in the order of their keys, so the same table gives the
same pattern however it was built, and an audience learns nothing from asking again):

1. Start from the primary cells (small counts).
2. Go through the relations in order. For each audience (outsider, then each ARC by
   code), look at the relation's members hidden from it. The relation is safe for
   that audience when none is hidden, or when at least two are and either the total
   is one of them or the hidden parts add up to at least the threshold (each could
   then be anything from 0 to that sum, as far as this relation tells). Otherwise hide
   one more member, the "next-smallest cell": the smallest non-zero figure among those
   the audience does not already know (a zero adds nothing to hide behind, so zeros
   come last), ties broken by key; and look again. Repeat passes until one hides
   nothing.
3. Relations also combine: one can bound a cell that another then subtracts, and
   several together can fix a cell none fixes alone. So for each audience, find the
   hidden cells the relations fix by linear algebra (elimination), and bound
   every hidden cell by propagating all the relations at once (each cell at least 0;
   each equation narrows each of its cells to what the others' bounds leave; whole
   numbers rounded inwards). Where a cell is fixed, or its bounds are less than the
   threshold apart, or a small count's bounds leave out any of 1 to threshold - 1
   (the attacker would know more than that it is small), hide the next-smallest cell
   of its relations (or, if they are all hidden, of its neighbours' relations), at
   most a few per round, and go back to 2. Stop when no audience has such a cell.

Cells are only ever added, so it ends. The result is not the least suppression
possible (that is an integer programme), but it keeps to neighbours of what must be
protected: never a whole table for one small count.

The checker in the tests (``tests/support/disclosure_audit.py``) solves, for each
audience, every hidden figure's bounds by integer programming over all the relations
at once and confirms none is recovered or narrowed below the threshold.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from mhin_measures.disclosure import DEFAULT_THRESHOLD, Disclosed, disclose, withheld
from mhin_measures.rates import MeasureType, value
from mhin_measures.strata import parse_stratum

NUMERATOR = "numerator"
DENOMINATOR = "denominator"


class CellKey(NamedTuple):
    """One aggregate of a table: a unit at a level, and a stratum (``""`` = all)."""

    level: str
    unit: str
    stratum: str

    @property
    def unit_key(self) -> tuple[str, str]:
        return self.level, self.unit


@dataclass(frozen=True)
class Cell:
    """An aggregate's sums, and the ARC owning it (``""`` above the ARC level)."""

    numerator: float
    denominator: float
    owner: str = ""


class Mark(Enum):
    """Why a figure is shown or not to anyone who does not see it in full."""

    SHOWN = "shown"
    PRIMARY = "primary"
    """A small count (or, for a PROPORTION's numerator, a small complement)."""
    SECONDARY = "secondary"
    """Not small itself; withheld so that a small count elsewhere cannot be derived."""


@dataclass(frozen=True)
class Marks:
    """The marks of one aggregate's numerator and denominator."""

    numerator: Mark = Mark.SHOWN
    denominator: Mark = Mark.SHOWN

    @property
    def suppressed(self) -> bool:
        return self != SHOWN

    @property
    def secondary_only(self) -> bool:
        """Withheld only for secondary reasons: no figure of its own is small."""
        marks = (self.numerator, self.denominator)
        return Mark.SECONDARY in marks and Mark.PRIMARY not in marks


SHOWN = Marks()

Relation = tuple[CellKey, tuple[CellKey, ...]]
"""A total and its parts."""
_Equation = tuple[list[tuple[CellKey, float]], float]
"""Hidden cells with coefficients, and the known rest: sum of coefficient x cell +
constant = 0."""
_Audience = tuple[frozenset[CellKey], frozenset[CellKey]]
"""What an audience knows (figures it sees in full or computes from them), and the
aggregates it has a part in (:func:`contributions`)."""
_HideNext = Callable[[Iterable[CellKey], frozenset[CellKey]], bool]


def protected_figures(measure_type: MeasureType) -> tuple[str, ...]:
    """The figures that are counts of people or events, each protected on its own."""
    kind = MeasureType(measure_type)
    if kind is MeasureType.PROPORTION:
        return NUMERATOR, DENOMINATOR
    if kind is MeasureType.MEAN:
        return (DENOMINATOR,)
    return (NUMERATOR,)


def relations(keys: Iterable[CellKey], parents: Mapping[tuple[str, str], tuple[str, str]]
              ) -> list[Relation]:
    """Every "total = sum of parts" among ``keys``, in a fixed order. ``parents`` maps a
    unit ``(level, unit)`` to the unit it rolls up to."""
    present = set(keys)
    parts: dict[tuple[str, CellKey], list[CellKey]] = defaultdict(list)
    for key in present:
        parent = parents.get(key.unit_key)
        if parent is not None and CellKey(*parent, key.stratum) in present:
            parts[("", CellKey(*parent, key.stratum))].append(key)
        for name in parse_stratum(key.stratum):
            coarser = _without(key.stratum, name)
            total = CellKey(key.level, key.unit, coarser)
            if total in present:
                parts[(name, total)].append(key)
    return [(total, tuple(sorted(members)))
            for (_, total), members in sorted(parts.items())]


def _without(stratum: str, name: str) -> str:
    return "|".join(pair for pair in stratum.split("|") if pair.split("=", 1)[0] != name)


def own_data(cells: Mapping[CellKey, Cell], table_relations: list[Relation], arc: str,
             zeros: Iterable[CellKey] = ()) -> frozenset[CellKey]:
    """The aggregates ``arc`` can compute from its own: its own sites and ARC, and any
    total of the hierarchy whose parts are all its own or known ``zeros`` (a project
    whose only ARC with data it is)."""
    nothing = set(zeros)
    return _closure(cells, table_relations, arc, lambda members, own: all(
        m in own or m in nothing for m in members))


def contributions(cells: Mapping[CellKey, Cell], table_relations: list[Relation],
                  arc: str) -> frozenset[CellKey]:
    """The aggregates that count some of ``arc``'s data: its own, and the totals of the
    hierarchy above them. ``arc`` knows part of each, so a bound it finds there says
    little about the others' part; the other ARCs' aggregates and the totals it has no
    part in are the ones whose small counts must stay anywhere from 1 to threshold - 1
    for it."""
    return _closure(cells, table_relations, arc, lambda members, found: True)


def _closure(cells: Mapping[CellKey, Cell], table_relations: list[Relation], arc: str,
             admits: Callable[[tuple[CellKey, ...], set[CellKey]], bool]) -> frozenset[CellKey]:
    """``arc``'s own aggregates, and every total of the hierarchy above them that has
    one of them as a part and whose parts ``admits``, until no more are added."""
    found = {key for key, cell in cells.items() if cell.owner == arc}
    hierarchy = [(total, members) for total, members in table_relations
                 if members and members[0].unit_key != total.unit_key]
    grown = True
    while grown:
        grown = False
        for total, members in hierarchy:
            if total not in found and any(m in found for m in members) and admits(
                    members, found):
                found.add(total)
                grown = True
    return frozenset(found)


def protect(measure_type: MeasureType, cells: Mapping[CellKey, Cell],
            parents: Mapping[tuple[str, str], tuple[str, str]],
            threshold: int = DEFAULT_THRESHOLD) -> dict[CellKey, Marks]:
    """The marks of every aggregate of one table (one measure and period); aggregates
    with nothing withheld are left out."""
    kind = MeasureType(measure_type)
    primary: dict[str, set[CellKey]] = {name: set() for name in protected_figures(kind)}
    for key, cell in cells.items():
        shown = disclose(kind, cell.numerator, cell.denominator, 1.0, threshold)
        if NUMERATOR in primary and shown.numerator_suppressed:
            primary[NUMERATOR].add(key)
        if DENOMINATOR in primary and shown.denominator_suppressed:
            primary[DENOMINATOR].add(key)
    if not any(primary.values()):
        return {}
    table_relations = relations(cells, parents)
    owners = sorted({cell.owner for cell in cells.values() if cell.owner})
    numerators = {key: cell.numerator for key, cell in cells.items()}
    denominators = {key: cell.denominator for key, cell in cells.items()}

    shares = {arc: contributions(cells, table_relations, arc) for arc in owners}

    def audiences(zeros: frozenset[CellKey]) -> list[_Audience]:
        return [(zeros, frozenset()), *((own_data(cells, table_relations, arc, zeros) | zeros,
                                         shares[arc]) for arc in owners)]

    hidden: dict[str, frozenset[CellKey]] = {}
    if kind is MeasureType.PROPORTION:
        # Numerator and denominator are withheld together, so what is hidden is a
        # numerator and its complement (denominator - numerator), both counts of people
        # at least 0, tied by the same sums and by nothing else: protecting each of them
        # on the same cells protects all three. A 0 of 0 hides nothing (everyone knows
        # both parts are 0 once the denominator shows), so it is never chosen.
        complements = {key: cell.denominator - cell.numerator for key, cell in cells.items()}
        zeros = frozenset(key for key, cell in cells.items() if not cell.denominator)
        cells_hidden = frozenset(primary[NUMERATOR] | primary[DENOMINATOR])
        while True:
            grown = _complete(cells_hidden, numerators, table_relations, audiences(zeros),
                              threshold)
            grown = _complete(grown, complements, table_relations, audiences(zeros),
                              threshold)
            if grown == cells_hidden:
                break
            cells_hidden = grown
        hidden = {NUMERATOR: cells_hidden, DENOMINATOR: cells_hidden}
    else:
        for name, keys in primary.items():
            figures = numerators if name == NUMERATOR else denominators
            hidden[name] = _complete(frozenset(keys), figures, table_relations,
                                     audiences(frozenset()), threshold)
    if kind is MeasureType.MEAN:
        primary[NUMERATOR], hidden[NUMERATOR] = primary[DENOMINATOR], hidden[DENOMINATOR]

    def mark(name: str, key: CellKey) -> Mark:
        if key in primary.get(name, ()):
            return Mark.PRIMARY
        return Mark.SECONDARY if key in hidden.get(name, ()) else Mark.SHOWN

    withheld = set().union(*hidden.values())
    return {key: Marks(mark(NUMERATOR, key), mark(DENOMINATOR, key)) for key in withheld}


def _complete(start: frozenset[CellKey], figures: Mapping[CellKey, float],
              table_relations: list[Relation], audiences: list[_Audience],
              threshold: int) -> frozenset[CellKey]:
    hidden = set(start)
    if not hidden:
        return frozenset()
    touching: dict[CellKey, list[Relation]] = defaultdict(list)
    for relation in table_relations:
        for member in (*relation[1], relation[0]):
            touching[member].append(relation)

    def hide_next(members: Iterable[CellKey], known: frozenset[CellKey]) -> bool:
        candidates = [m for m in members if m not in hidden and m not in known]
        if not candidates:
            return False
        hidden.add(min(candidates, key=lambda m: (figures[m] == 0, figures[m], m)))
        return True

    # weak cells with nothing left to hide around them (everything near is hidden or
    # known to the audience already): hiding more elsewhere would not help them
    beyond_help: set[tuple[int, CellKey]] = set()
    while True:
        _apply_rules(hidden, table_relations, audiences, threshold, figures, hide_next)
        weak = _weak(hidden, figures, table_relations, audiences, threshold, beyond_help)
        if weak is None:
            return frozenset(hidden)
        audience, keys = weak
        before = len(hidden)
        for key in keys:
            if len(hidden) - before >= _WIDEN_AT_ONCE:
                break
            if not _widen(key, audiences[audience][0], hidden, touching, hide_next):
                beyond_help.add((audience, key))


def _apply_rules(hidden: set[CellKey], table_relations: list[Relation],
                 audiences: list[_Audience], threshold: int,
                 figures: Mapping[CellKey, float], hide_next: _HideNext) -> None:
    """Step 2 of the module's method, repeated until a pass hides nothing."""
    added = True
    while added:
        added = False
        for total, parts in table_relations:
            members = (*parts, total)
            for known, _ in _distinct(audiences, hidden):
                while not _safe(total, members, hidden, known, figures, threshold):
                    # In a whole table a member the audience cannot see that is not made
                    # of its own data implies another such member in the same relation.
                    # Only a table still arriving (a total before all of its parts) can
                    # leave none, and its parts do not sum to the total then, so no
                    # value follows from them: nothing more to hide here.
                    if not hide_next(members, known):
                        break
                    added = True


def _distinct(audiences: list[_Audience], hidden: set[CellKey]) -> list[_Audience]:
    """The outsider, and the ARCs that know a hidden cell: one that knows none sees
    exactly what an outsider sees, and is as safe."""
    return [audiences[0], *(audience for audience in audiences[1:] if audience[0] & hidden)]


def _widen(key: CellKey, known: frozenset[CellKey], hidden: set[CellKey],
           touching: Mapping[CellKey, list[Relation]], hide_next: _HideNext) -> bool:
    """Hide one more cell near ``key``: in a relation of ``key`` if any has a cell left
    to hide, else in the relations of the hidden cells of those, and so on outwards;
    False when all around is hidden or known already."""
    seen = {key}
    ring = [key]
    while ring:
        members = sorted({m for cell in ring for total, parts in touching[cell]
                          for m in (*parts, total)})
        if hide_next(members, known):
            return True
        ring = [m for m in members if m in hidden and m not in known and m not in seen]
        seen.update(ring)
    return False


_UPDATES = 20
"""Bound updates per hidden cell at most: propagation round a cycle of relations can
creep one unit at a time; stopping early leaves bounds wider (still sound)."""


_WIDEN_AT_ONCE = 4
"""Cells hidden per round of propagation: each round costs a propagation, and hiding
one cell often widens several weak neighbours at once."""


def _weak(hidden: set[CellKey], figures: Mapping[CellKey, float],
          table_relations: list[Relation], audiences: list[_Audience], threshold: int,
          beyond_help: set[tuple[int, CellKey]]) -> tuple[int, list[CellKey]] | None:
    """The first audience (its index) with hidden cells that the relations fix, or
    bound less than the threshold apart, or (a small count) to less than all of 1 to
    threshold - 1, and those cells by key, leaving out those ``beyond_help``; None
    when there is none."""
    whole = all(float(number).is_integer() for number in figures.values())
    for audience, (known, shares) in enumerate(audiences):
        if audience and not known & hidden:
            continue  # it sees no more than an outsider (see _distinct)
        free = {key for key in hidden if key not in known}
        equations: list[_Equation] = []
        for total, parts in table_relations:
            terms: list[tuple[CellKey, float]] = []
            constant = 0.0
            for member, sign in ((total, 1.0), *((part, -1.0) for part in parts)):
                if member in free:
                    terms.append((member, sign))
                else:
                    constant += sign * figures[member]
            if terms:
                equations.append((terms, constant))
        reduced = _reduce(equations)
        low, high = _propagate(free, equations + reduced, whole)
        weak = sorted({key for key in free if high[key] - low[key] < threshold
                       or (0 < figures[key] < threshold and key not in shares
                           and (low[key] > 1 or high[key] < threshold - 1))}
                      | {terms[0][0] for terms, _ in reduced if len(terms) == 1})
        weak = [key for key in weak if (audience, key) not in beyond_help]
        if weak:
            return audience, weak
    return None


_ZERO = 1e-9
"""Below this a coefficient of the elimination is 0: the relations' coefficients are
whole numbers, and their combinations stay small fractions."""


def _reduce(equations: list[_Equation]) -> list[_Equation]:
    """The equations in reduced row echelon form (Gauss-Jordan elimination):
    combinations of them in which each pivot cell appears once. A row left with one
    cell fixes it by linear algebra alone; the others, propagated with the original
    equations, find bounds that only a combination of relations gives."""
    pivots: dict[CellKey, tuple[dict[CellKey, float], float]] = {}
    for terms, number in equations:
        row: dict[CellKey, float] = defaultdict(float)
        for member, coefficient in terms:
            row[member] += coefficient
        constant = number
        for pivot, (pivot_row, pivot_constant) in pivots.items():
            factor = row.get(pivot)
            if factor:
                for member, coefficient in pivot_row.items():
                    row[member] -= factor * coefficient
                constant -= factor * pivot_constant
        row = {member: coefficient for member, coefficient in row.items()
               if abs(coefficient) > _ZERO}
        if not row:
            continue
        pivot = min(row)
        scale = row[pivot]
        row = {member: coefficient / scale for member, coefficient in row.items()}
        row[pivot] = 1.0
        constant /= scale
        for other, (other_row, other_constant) in list(pivots.items()):
            factor = other_row.get(pivot)
            if factor:
                for member, coefficient in row.items():
                    updated = other_row.get(member, 0.0) - factor * coefficient
                    if abs(updated) > _ZERO:
                        other_row[member] = updated
                    else:
                        other_row.pop(member, None)
                pivots[other] = (other_row, other_constant - factor * constant)
        pivots[pivot] = (row, constant)
    return [(sorted(row.items()), constant) for _, (row, constant) in sorted(pivots.items())]


def _propagate(free: set[CellKey], equations: list[_Equation], whole: bool
               ) -> tuple[dict[CellKey, float], dict[CellKey, float]]:
    """Bounds of the ``free`` cells (each at least 0) under ``equations``, tightened
    equation by equation until nothing changes (a worklist: an equation is looked at
    again when a bound of one of its cells moves)."""
    low = dict.fromkeys(free, 0.0)
    high = dict.fromkeys(free, math.inf)
    using: dict[CellKey, list[int]] = defaultdict(list)
    for index, (terms, _) in enumerate(equations):
        for member, _coefficient in terms:
            using[member].append(index)
    pending = list(range(len(equations)))
    queued = set(pending)
    budget = _UPDATES * max(len(free), 1)
    while pending and budget > 0:
        index = pending.pop()
        queued.discard(index)
        terms, constant = equations[index]
        for member in _tighten(terms, constant, low, high, whole):
            budget -= 1
            for other in using[member]:
                if other not in queued:
                    queued.add(other)
                    pending.append(other)
    return low, high


def _tighten(terms: list[tuple[CellKey, float]], constant: float, low: dict[CellKey, float],
             high: dict[CellKey, float], whole: bool) -> list[CellKey]:
    """Tighten the bounds of one equation's cells (sum of coefficient x cell + constant
    = 0); the cells whose bounds moved."""
    # the least and most the terms can add up to, infinite parts counted apart
    least, most, least_inf, most_inf = constant, constant, 0, 0
    spans = []
    for member, coefficient in terms:
        ends = (coefficient * low[member], coefficient * high[member])
        lo, hi = min(ends), max(ends)
        spans.append((lo, hi))
        if math.isinf(lo):
            least_inf += 1
        else:
            least += lo
        if math.isinf(hi):
            most_inf += 1
        else:
            most += hi
    moved = []
    for (member, coefficient), (lo, hi) in zip(terms, spans, strict=True):
        # this term = -(constant + the others), so it lies within these bounds
        # (an infinite bound of this term is not in the sums: leave it out)
        others_least = (-math.inf if least_inf - math.isinf(lo)
                        else least - (0.0 if math.isinf(lo) else lo))
        others_most = (math.inf if most_inf - math.isinf(hi)
                       else most - (0.0 if math.isinf(hi) else hi))
        ends = (-others_most / coefficient, -others_least / coefficient)
        new_lo, new_hi = min(ends), max(ends)
        if whole:
            new_lo = math.ceil(new_lo - 1e-9) if math.isfinite(new_lo) else new_lo
            new_hi = math.floor(new_hi + 1e-9) if math.isfinite(new_hi) else new_hi
        if new_lo > low[member] + 1e-9 or new_hi < high[member] - 1e-9:
            low[member] = max(low[member], new_lo)
            high[member] = min(high[member], new_hi)
            moved.append(member)
    return moved


def _safe(total: CellKey, members: tuple[CellKey, ...], hidden: set[CellKey],
          known: frozenset[CellKey], figures: Mapping[CellKey, float], threshold: int) -> bool:
    withheld = [m for m in members if m in hidden and m not in known]
    if not withheld:
        return True
    if len(withheld) < 2:
        return False
    return total in withheld or sum(figures[m] for m in withheld) >= threshold


def disclosed(measure_type: MeasureType, numerator: float, denominator: float | None,
              multiplier: float, marks: Marks, *, in_full: bool) -> Disclosed:
    """One aggregate's figures as a caller sees them: in full, or with the figures its
    marks withhold (primary or secondary) absent and flagged, and the value withheld
    when a figure it is built on is."""
    kind = MeasureType(measure_type)
    shown_denominator = None if kind is MeasureType.COUNT else denominator
    computed = value(kind, numerator, denominator, multiplier)
    if in_full:
        return Disclosed(numerator, shown_denominator, computed)
    return withheld(numerator, shown_denominator, computed,
                    hide_numerator=marks.numerator is not Mark.SHOWN,
                    hide_denominator=marks.denominator is not Mark.SHOWN,
                    numerator_secondary=marks.numerator is Mark.SECONDARY,
                    denominator_secondary=marks.denominator is Mark.SECONDARY)
