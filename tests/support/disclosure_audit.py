"""A differencing attack on published aggregates, for the tests of complementary
suppression: what can an audience work out about the figures hidden from it?

The attacker knows every figure it sees (of one measure and period: every level, unit
and stratum), which aggregates exist (an absent one has no data), the sums that tie
them (``mhin_measures.complementary.relations``: the hierarchy and the strata), that
every count is a whole number at least 0 and, for a PROPORTION, that a numerator never
exceeds its denominator. For each hidden figure (and each hidden small PROPORTION
complement, denominator - numerator: "47 of 50" discloses 3) it solves the smallest
and largest value those constraints allow, by integer linear programming (scipy's
``milp``; a MEAN's sum of values is continuous). A figure is *recovered* when both
bounds meet. A small count (1 to threshold - 1) is *narrowed* when its bounds leave
out any of 1 to threshold - 1: the attacker then knows more of it than that it is
small (which its mark says anyway). A hidden figure made only of the audience's own
data (an ARC's own sites) is not a disclosure to it and is not judged; nor is the
narrowing of a total the audience has a part in (it knows that part).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from mhin_measures.complementary import (
    DENOMINATOR,
    NUMERATOR,
    SHOWN,
    Cell,
    CellKey,
    Mark,
    Marks,
    contributions,
    own_data,
    relations,
)
from mhin_measures.rates import MeasureType
from mhin_measures.strata import rollup_strata

UNBOUNDED = 1e7


@dataclass(frozen=True)
class Seen:
    """One aggregate as the audience sees it: None for a hidden figure."""

    numerator: float | None
    denominator: float | None


@dataclass(frozen=True)
class Finding:
    key: CellKey
    figure: str  # numerator, denominator or complement
    low: float
    high: float
    recovered: bool


@dataclass
class Audit:
    hidden: int = 0
    """Hidden figures judged (own data excluded)."""
    findings: list[Finding] = field(default_factory=list)

    @property
    def recovered(self) -> list[Finding]:
        return [f for f in self.findings if f.recovered]


def attack(measure_type: MeasureType, seen: Mapping[CellKey, Seen],
           parents: Mapping[tuple[str, str], tuple[str, str]], threshold: int,
           own: frozenset[CellKey] = frozenset(),
           shares: frozenset[CellKey] = frozenset(),
           truth: Mapping[CellKey, Cell] | None = None) -> Audit:
    """Every hidden figure of one table the audience can pin down or narrow. ``own``
    are the aggregates made of the audience's data alone; ``truth``, when given, is
    checked to lie within every bound (a check of the attack itself)."""
    kind = MeasureType(measure_type)
    figures = [NUMERATOR] if kind in (MeasureType.COUNT, MeasureType.RATIO) else [
        NUMERATOR, DENOMINATOR]
    variables: dict[tuple[str, CellKey], int] = {}
    for key in sorted(seen):
        for name in figures:
            if getattr(seen[key], name) is None:
                variables[(name, key)] = len(variables)
    audit = Audit()
    if not variables:
        return audit
    rows: list[np.ndarray] = []
    lower: list[float] = []
    upper: list[float] = []

    def known(name: str, key: CellKey) -> float | None:
        number = getattr(seen[key], name)
        return None if number is None else float(number)

    for total, parts in relations(seen, parents):
        for name in figures:
            row = np.zeros(len(variables))
            constant = 0.0
            for member, sign in ((total, 1.0), *((part, -1.0) for part in parts)):
                number = known(name, member)
                if number is None:
                    row[variables[(name, member)]] += sign
                else:
                    constant += sign * number
            if row.any():
                rows.append(row)
                lower.append(-constant)
                upper.append(-constant)
    if kind is MeasureType.PROPORTION:
        for key in seen:  # numerator <= denominator
            row = np.zeros(len(variables))
            bound = 0.0
            for name, sign in ((NUMERATOR, 1.0), (DENOMINATOR, -1.0)):
                number = known(name, key)
                if number is None:
                    row[variables[(name, key)]] += sign
                else:
                    bound -= sign * number
            if row.any():
                rows.append(row)
                lower.append(-np.inf)
                upper.append(bound)
    integral = np.array([0 if kind is MeasureType.MEAN and name == NUMERATOR else 1
                         for name, _ in variables])
    constraints = [LinearConstraint(np.array(rows), lower, upper)] if rows else []
    # a cap far above any figure stands for "no upper bound" (HiGHS reports an
    # unbounded integer program as "infeasible or unbounded")
    bounds = Bounds(np.zeros(len(variables)), np.full(len(variables), UNBOUNDED))

    def extreme(objective: np.ndarray) -> float:
        result = milp(objective, constraints=constraints, integrality=integral, bounds=bounds)
        assert result.status == 0, result.message
        return float(result.fun)

    targets: list[tuple[CellKey, str, np.ndarray]] = []
    for (name, key), index in variables.items():
        objective = np.zeros(len(variables))
        objective[index] = 1.0
        targets.append((key, name, objective))
    if kind is MeasureType.PROPORTION and truth is not None:
        for key in seen:  # the complements primary suppression protects: small ones
            complement = truth[key].denominator - truth[key].numerator
            if ((NUMERATOR, key) in variables or (DENOMINATOR, key) in variables) and (
                    0 < complement < threshold):
                objective = np.zeros(len(variables))
                for name, sign in ((DENOMINATOR, 1.0), (NUMERATOR, -1.0)):
                    if (name, key) in variables:
                        objective[variables[(name, key)]] = sign
                targets.append((key, "complement", objective))
    for key, name, objective in targets:
        if key in own:
            continue
        offset = 0.0
        if name == "complement":  # a known figure of the complement is a constant
            offset = (known(DENOMINATOR, key) or 0.0) - (known(NUMERATOR, key) or 0.0)
        low = extreme(objective) + offset
        high = -extreme(-objective) + offset
        if truth is not None:
            actual = _actual(truth[key], name)
            assert low - 1e-6 <= actual <= high + 1e-6, (key, name, low, actual, high)
        audit.hidden += 1
        recovered = high - low < 1e-6
        narrowed = False
        if truth is not None and not (kind is MeasureType.MEAN and name == NUMERATOR):
            actual = _actual(truth[key], name)
            # a small count must stay anywhere from 1 to threshold - 1 for all it tells
            narrowed = 0 < actual < threshold and key not in shares and (low > 1 + 1e-6
                                                   or high < threshold - 1 - 1e-6)
        if recovered or narrowed:
            audit.findings.append(Finding(key, name, low, high, recovered))
    return audit


def _actual(cell: Cell, name: str) -> float:
    return {NUMERATOR: cell.numerator, DENOMINATOR: cell.denominator,
            "complement": cell.denominator - cell.numerator}[name]


def audience_own_data(measure_type: MeasureType, truth: Mapping[CellKey, Cell],
                      parents: Mapping[tuple[str, str], tuple[str, str]],
                      arc: str) -> frozenset[CellKey]:
    """The aggregates ``arc`` computes from its own data (and, for a PROPORTION, the 0 of
    0 everyone knows); none for an outsider, ``""``."""
    if not arc:
        return frozenset()
    zeros = [key for key, cell in truth.items()
             if MeasureType(measure_type) is MeasureType.PROPORTION and not cell.denominator]
    return own_data(truth, relations(truth, parents), arc, zeros)


def audience_shares(truth: Mapping[CellKey, Cell],
                    parents: Mapping[tuple[str, str], tuple[str, str]],
                    arc: str) -> frozenset[CellKey]:
    """The aggregates ``arc`` has a part in (its own and the totals above them): it
    knows part of each, so only exact recovery is judged there."""
    if not arc:
        return frozenset()
    return contributions(truth, relations(truth, parents), arc)


def seen_by(truth: Mapping[CellKey, Cell], marks: Mapping[CellKey, Marks], arc: str
            ) -> dict[CellKey, Seen]:
    """What an audience sees of a table under a pattern: an ARC (``arc``) sees its own
    aggregates in full, everyone else the figures the marks do not withhold."""
    seen = {}
    for key, cell in truth.items():
        mark = marks.get(key, SHOWN)
        in_full = bool(arc) and cell.owner == arc
        seen[key] = Seen(
            cell.numerator if in_full or mark.numerator is Mark.SHOWN else None,
            cell.denominator if in_full or mark.denominator is Mark.SHOWN else None,
        )
    return seen


# ----------------------------------------------------------------- random tables

LEVELS = ("site", "arc", "project", "national")
GROUPS = {"sex": ("F", "M", "Not stated"), "age_band": ("5-11", "12-17", "Not stated")}


@dataclass(frozen=True)
class Table:
    measure_type: MeasureType
    cells: dict[CellKey, Cell]
    parents: dict[tuple[str, str], tuple[str, str]]
    observations: list[tuple[str, str, str, float, float]]
    """What the table was rolled up from: site, ARC, stratum, numerator, denominator."""

    @property
    def arcs(self) -> list[str]:
        return sorted({cell.owner for cell in self.cells.values() if cell.owner})


def random_table(rng: random.Random, measure_type: MeasureType | None = None, *,
                 stratifiers: tuple[str, ...] | None = None, arcs: tuple[str, ...] = (),
                 project: str = "p1", most_sites: int = 3) -> Table:
    """A measure's aggregates for one period, rolled up as the stream does: 2-3 ARCs
    (``arcs``, if given, else ``ARC_0``...) of one project with 1 to ``most_sites``
    sites each, 0-2 stratifiers (or ``stratifiers``), many small counts."""
    kind = measure_type or rng.choice(list(MeasureType))
    if stratifiers is None:
        stratifiers = rng.choice([(), ("sex",), ("age_band",), ("sex", "age_band")])
    parents: dict[tuple[str, str], tuple[str, str]] = {
        ("project", project): ("national", "national")}
    sites = []
    names = arcs or tuple(f"ARC_{a}" for a in range(3))
    for arc in names[:rng.randint(2, len(names))]:
        parents[("arc", arc)] = ("project", project)
        for s in range(rng.randint(1, most_sites)):
            site = f"{arc}-site-{s}"
            parents[("site", site)] = ("arc", arc)
            sites.append((site, arc))
    sums: dict[CellKey, list[float]] = {}
    observations: list[tuple[str, str, str, float, float]] = []
    owners: dict[CellKey, str] = {}
    for site, arc in sites:
        for combination in _combinations(stratifiers):
            if rng.random() < 0.15:  # no data for this group at this site
                continue
            numerator, denominator = _figures(rng, kind)
            stratum = "|".join(f"{name}={group}" for name, group in combination)
            observations.append((site, arc, stratum, numerator, denominator))
            for coarser in rollup_strata(stratum):
                for level, unit, owner in (("site", site, arc), ("arc", arc, arc),
                                           ("project", project, ""),
                                           ("national", "national", "")):
                    key = CellKey(level, unit, coarser)
                    total = sums.setdefault(key, [0.0, 0.0])
                    total[0] += numerator
                    total[1] += denominator
                    owners[key] = owner
    cells = {key: Cell(n, d, owners[key]) for key, (n, d) in sums.items()}
    return Table(kind, cells, parents, observations)


def _combinations(stratifiers: tuple[str, ...]) -> list[tuple[tuple[str, str], ...]]:
    combos: list[tuple[tuple[str, str], ...]] = [()]
    for name in stratifiers:
        combos = [(*combo, (name, group)) for combo in combos for group in GROUPS[name]]
    return combos


def _small_heavy(rng: random.Random) -> int:
    draw = rng.random()
    if draw < 0.2:
        return 0
    if draw < 0.6:
        return rng.randint(1, 4)
    return rng.randint(5, 30)


def _figures(rng: random.Random, kind: MeasureType) -> tuple[float, float]:
    if kind is MeasureType.COUNT:
        return float(_small_heavy(rng)), 0.0
    if kind is MeasureType.PROPORTION:
        numerator = _small_heavy(rng)
        return float(numerator), float(numerator + _small_heavy(rng))
    if kind is MeasureType.RATIO:
        return float(_small_heavy(rng)), float(rng.randint(100, 1000))
    cases = _small_heavy(rng)
    return round(cases * rng.uniform(0.5, 3.0), 2), float(cases)
