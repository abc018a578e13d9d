"""Impact estimation's rules on evaluation's values: pure, no I/O. What an estimate
is of (a site's series, a project's sites), which period go-live falls in, and when
an estimate must be withheld (it would disclose a suppressed value)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from mhin_evaluation import domain, suppression
from mhin_evaluation.domain import AggregateRow, Measure, Site
from mhin_measures import disclosure, its, periods
from mhin_measures.complementary import CellKey, Marks
from mhin_measures.hierarchy import Level
from mhin_measures.periods import GRANULARITY_OF, Period
from mhin_measures.rates import MeasureType
from mhin_platform.auth import Principal, Role

SITE_SCOPE = "site"
PROJECT_SCOPE = "project"
SHARED_AUDIENCE = Principal("mhin.evaluation.impact topic", Role.VIEWER)
"""Who reads the impact topic: anyone downstream, so it sees what a viewer sees."""


@dataclass(frozen=True)
class Comparators:
    auto: bool = False
    site_ids: tuple[str, ...] = ()


NO_COMPARATORS = Comparators()


@dataclass(frozen=True)
class SeriesRef:
    """A series as aggregates key it (canonical unit and stratum)."""

    measure_id: str
    level: Level
    unit: str
    stratum: str


@dataclass(frozen=True)
class SiteImpact:
    key: SeriesRef
    site: Site
    measure: Measure
    withheld: str | None
    """Why the estimate is withheld from the caller; None when it is not."""
    estimate: its.Estimate | None
    controlled: its.Controlled | None = None


@dataclass(frozen=True)
class PooledSite:
    site: Site
    estimate: its.Estimate | None
    not_estimable: str


@dataclass(frozen=True)
class PooledImpact:
    project_id: str
    measure: Measure
    stratum: str
    withheld: str | None
    sites: tuple[PooledSite, ...]
    random_effects: its.RandomEffects | None
    site_fixed_effects: its.SiteFixedEffects | None
    reference_stratum: str = ""
    ratio_to_reference: its.Effect | None = None


def period_of(day: date, measure: Measure) -> Period:
    """The period of the measure's frequency that contains ``day``."""
    granularity = GRANULARITY_OF[measure.frequency]
    months = {"month": 1, "quarter": 3, "year": 12}[granularity.value]
    first_month = (day.month - 1) // months * months + 1
    return Period(date(day.year, first_month, 1), granularity)


def points(rows: Sequence[AggregateRow], measure: Measure) -> list[its.Point]:
    count = measure.type is MeasureType.COUNT
    return [its.Point(row.period, row.numerator, None if count else row.denominator)
            for row in rows]


def withheld_reason(rows: Sequence[AggregateRow], measure: Measure, principal: Principal,
                    marks: dict[tuple[str, CellKey], Marks], label: str) -> str | None:
    """Why an estimate over ``rows`` is withheld from ``principal``: a value it may not
    see, small or withheld to protect another (``marks``, the periods' pattern)."""
    hidden = [row.period for row in rows
              if _suppressed(domain.view(row, measure, principal,
                                         suppression.marks_of(marks, row)).shown)]
    if not hidden:
        return None
    return (f"{label} has {len(hidden)} period(s) with a value suppressed for this audience "
            f"({', '.join(sorted(hidden, key=periods.sort_key)[:3])}"
            f"{', ...' if len(hidden) > 3 else ''}): the estimate would disclose them")


def _suppressed(shown: disclosure.Disclosed) -> bool:
    return bool(shown.numerator_suppressed or shown.denominator_suppressed
                or shown.value_suppressed)


def live_by(site: Site, last: Period) -> bool:
    """Whether the site had gone live by the end of ``last``."""
    return site.go_live is not None and site.go_live <= last.end


def summed(rows: Sequence[AggregateRow], measure: Measure) -> list[its.Point]:
    """Comparators' series summed per period (rates from summed parts)."""
    sums: dict[str, list[float]] = {}
    for row in rows:
        total = sums.setdefault(row.period, [0.0, 0.0])
        total[0] += row.numerator
        total[1] += row.denominator
    count = measure.type is MeasureType.COUNT
    return [its.Point(period, numerator, None if count else denominator)
            for period, (numerator, denominator) in sums.items()]
