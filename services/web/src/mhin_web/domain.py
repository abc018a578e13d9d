"""Pure rules of the web pages: what a page is asked for, how a Making Data Count
chart marks each point, the rows a data table (and its CSV) holds, and the session
rules. No I/O: the views are built from what the services' gRPC APIs answered."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import jwt

from mhin_measures.hierarchy import NATIONAL_UNIT, Level
from mhin_platform.reference import Arc


class BadRequest(ValueError):
    """A page was asked for with a bad value: ``field`` names it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


# Ids, ARC codes and strata ("ethnicity=Black", "sex=F|age_band=5-11"): what a URL may carry.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:=|+&/-]{0,199}$")


def checked_id(field_name: str, value: str | None, *, required: bool = True) -> str:
    """``value`` if it looks like an id; BadRequest naming the field if not."""
    value = (value or "").strip()
    if not value:
        if required:
            raise BadRequest(field_name, "is required")
        return ""
    if not _ID.match(value):
        raise BadRequest(field_name, f"{value[:40]!r} is not a valid id")
    return value


@dataclass(frozen=True)
class SeriesRequest:
    """One series of one measure: the level of the hierarchy, its unit (a site id, an
    ARC code, a project id, none for national) and a stratum ("" for everyone)."""

    project_id: str
    measure_id: str
    level: Level
    unit: str
    stratum: str

    @classmethod
    def parse(cls, query: dict[str, str]) -> SeriesRequest:
        project_id = checked_id("project", query.get("project"))
        measure_id = checked_id("measure", query.get("measure"), required=False)
        if query.get("at"):  # the page's one "series" choice: "<level>:<unit>"
            level_text, _, unit_text = query["at"].partition(":")
            query = {**query, "level": level_text, "unit": unit_text}
        try:
            level = Level(query.get("level") or "project")
        except ValueError:
            raise BadRequest("level", f"{query.get('level')!r} is not one of "
                             + ", ".join(level.value for level in reversed(Level))) from None
        unit = checked_id("unit", query.get("unit"), required=False)
        if level is Level.NATIONAL:
            unit = NATIONAL_UNIT
        elif level is Level.PROJECT:
            unit = unit or project_id
        elif not unit:
            raise BadRequest("unit", f"a {level.value} series needs its unit (which "
                             f"{'site' if level is Level.SITE else 'ARC'})")
        stratum = checked_id("stratum", query.get("stratum"), required=False)
        return cls(project_id, measure_id, level, unit, stratum)

    @property
    def follow_key(self) -> tuple[str, str, str]:
        """What a page follows on the shared topics: every stratum of this unit."""
        return (self.measure_id, self.level.value, self.unit)


# ----------------------------------------------------------------- SPC, Making Data Count

class Variation(StrEnum):
    COMMON_CAUSE = "common cause"
    IMPROVEMENT = "special cause improvement"
    CONCERN = "special cause concern"
    NEITHER = "special cause (no direction)"


@dataclass(frozen=True)
class Marker:
    """How a point is drawn: colour and shape both carry the meaning (WCAG: colour
    is never the only signal), as the Making Data Count charts do."""

    colour: str
    shape: str
    label: str


# Making Data Count's palette: grey common cause, blue improvement, orange concern,
# purple special cause where the measure has no direction of improvement.
MARKERS = {
    Variation.COMMON_CAUSE: Marker("#768692", "circle", "Common cause"),
    Variation.IMPROVEMENT: Marker("#005EB8", "square", "Improvement"),
    Variation.CONCERN: Marker("#ED8B00", "triangle-down", "Concern"),
    Variation.NEITHER: Marker("#7C2855", "diamond", "Special cause (no direction)"),
}

RULE_LABELS = {
    "POINT_BEYOND_LIMIT": "a point beyond a process limit",
    "SHIFT": "a run of points on one side of the mean",
    "TREND": "a run of points rising or falling",
    "TWO_OF_THREE": "two of three points near a limit",
}


@dataclass(frozen=True)
class SpcPoint:
    period: str
    value: float | None
    suppressed: bool
    variation: Variation
    rules: tuple[str, ...] = ()

    @property
    def marker(self) -> Marker:
        return MARKERS[self.variation]

    @property
    def shown_value(self) -> str:
        return "suppressed" if self.suppressed else figure(self.value)

    @property
    def reasons(self) -> str:
        return "; ".join(RULE_LABELS.get(rule, rule.lower()) for rule in self.rules)


@dataclass(frozen=True)
class SpcChart:
    title: str
    direction: str  # "up", "down" or "" (no direction of improvement)
    points: tuple[SpcPoint, ...]
    mean: float | None
    upper_limit: float | None
    lower_limit: float | None
    limits_reliable: bool
    verdict: Variation

    @property
    def icon(self) -> VariationIcon:
        return variation_icon(self.verdict, self.direction, self.points)

    @property
    def limits_label(self) -> str:
        return "Process limits" if self.limits_reliable else "Trial limits (too few points yet)"


@dataclass(frozen=True)
class VariationIcon:
    """Making Data Count's variation icon: the variation of the latest points and,
    for special cause, whether it is high or low."""

    variation: Variation
    letter: str  # "H" high, "L" low, "" common cause
    text: str

    @property
    def colour(self) -> str:
        return MARKERS[self.variation].colour


def variation_icon(verdict: Variation, direction: str,
                   points: tuple[SpcPoint, ...]) -> VariationIcon:
    if verdict is Variation.COMMON_CAUSE:
        return VariationIcon(verdict, "", "Common cause variation")
    high = {"up": verdict is Variation.IMPROVEMENT, "down": verdict is Variation.CONCERN}.get(
        direction)
    if high is None:  # no direction: tell high from low by the latest special point
        special = [p for p in points if p.variation is verdict and p.value is not None]
        high = bool(special) and _above_half(special, points)
    letter = "H" if high else "L"
    side = "high" if high else "low"
    names = {Variation.IMPROVEMENT: "improvement", Variation.CONCERN: "concern",
             Variation.NEITHER: "variation"}
    return VariationIcon(verdict, letter, f"Special cause {names[verdict]}: {side} values")


def _above_half(special: list[SpcPoint], points: tuple[SpcPoint, ...]) -> bool:
    values = [p.value for p in points if p.value is not None]
    middle = (max(values) + min(values)) / 2
    return special[-1].value >= middle  # type: ignore[operator]


def figure(value: float | None) -> str:
    if value is None:
        return "no value"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def spc_rows(chart: SpcChart) -> Table:
    rows = [(p.period, p.shown_value, p.marker.label if not p.suppressed else "-", p.reasons)
            for p in chart.points]
    return Table(("Period", "Value", "Variation", "Special-cause rules"), rows,
                 caption=f"{chart.title}: SPC chart data (mean {figure(chart.mean)}, "
                         f"limits {figure(chart.lower_limit)} to {figure(chart.upper_limit)}"
                         f"{'' if chart.limits_reliable else ', trial limits'})")


# ----------------------------------------------------------------- breakdowns

@dataclass(frozen=True)
class Bar:
    """One group of a breakdown, each figure withheld exactly where gRPC withheld it."""

    group: str
    value: float | None
    numerator: float | None
    denominator: float | None
    value_suppressed: bool
    numerator_suppressed: bool = False
    denominator_suppressed: bool = False

    @property
    def shown_value(self) -> str:
        return "suppressed" if self.value_suppressed else figure(self.value)


@dataclass(frozen=True)
class Breakdown:
    title: str
    period: str
    stratifier: str
    bars: tuple[Bar, ...]


def breakdown_rows(breakdown: Breakdown) -> Table:
    rows = [(bar.group, bar.shown_value,
             "suppressed" if bar.numerator_suppressed else figure(bar.numerator),
             "suppressed" if bar.denominator_suppressed else figure(bar.denominator))
            for bar in breakdown.bars]
    return Table(("Group", "Value", "Numerator", "Denominator"), rows,
                 caption=f"{breakdown.title} by {breakdown.stratifier}, {breakdown.period}")


# ----------------------------------------------------------------- impact (interrupted time series)

@dataclass(frozen=True)
class ImpactEffect:
    """An estimated effect with its 95% CI, on the scale the service named."""

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    scale: str  # "rate ratio" or "difference"

    @property
    def text(self) -> str:
        """'rate ratio 0.89 (95% CI 0.84 to 0.95), p = 0.001'."""
        return (f"{self.scale} {self.estimate:.2f} (95% CI {self.ci_low:.2f} to "
                f"{self.ci_high:.2f}), {p_text(self.p_value)}")


def p_text(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


@dataclass(frozen=True)
class ImpactPeriod:
    period: str
    observed: float | None
    fitted: float | None
    counterfactual: float | None
    after_go_live: bool
    excluded: bool

    @property
    def drawn_counterfactual(self) -> float | None:
        """The counterfactual is drawn from go-live on: before it, it is the fitted line."""
        return self.counterfactual if self.after_go_live else None


@dataclass(frozen=True)
class ImpactChart:
    title: str
    model: str
    go_live_date: str
    go_live_period: str
    points_before: int
    points_after: int
    level_change: ImpactEffect
    slope_change: ImpactEffect | None
    periods: tuple[ImpactPeriod, ...]


@dataclass(frozen=True)
class Impact:
    """A site's impact estimate, or the service's own reason why there is none."""

    chart: ImpactChart | None = None
    reason: str = ""


def impact_rows(chart: ImpactChart) -> Table:
    rows = [(p.period, figure(p.observed), figure(p.fitted), figure(p.drawn_counterfactual)
             if p.after_go_live else "-",
             ("after go-live" if p.after_go_live else "before go-live")
             + (" (not in the fit)" if p.excluded else ""))
            for p in chart.periods]
    return Table(("Period", "Observed", "Fitted", "Counterfactual", "Phase"), rows,
                 caption=f"{chart.title}: observed, fitted and counterfactual values "
                         f"(go-live {chart.go_live_date}, period {chart.go_live_period})")


# ----------------------------------------------------------------- tables and CSV

@dataclass(frozen=True)
class Table:
    """A chart's text alternative, and exactly what its CSV download holds."""

    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    caption: str = ""

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return out.getvalue()


# ----------------------------------------------------------------- the session

@dataclass(frozen=True)
class Session:
    """Who the token says is signed in, for display only: the services check the
    token on every call, and the page shows only what they answered."""

    subject: str
    role: str
    arc: str | None
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    @property
    def who(self) -> str:
        where = f", {Arc.parse(self.arc).value}" if self.arc else ""
        return f"{self.subject} ({self.role.replace('_', ' ')}{where})"


def read_token(token: str) -> Session:
    """The claims of a bearer token, unverified (the web holds no token secret);
    BadRequest("token") if it is not a token at all or has no expiry."""
    token = token.strip()
    try:
        claims = jwt.decode(token, options={"verify_signature": False,
                                            "require": ["sub", "exp"]})
    except jwt.InvalidTokenError as exc:
        raise BadRequest("token", f"is not a bearer token ({exc})") from None
    return Session(str(claims["sub"]), str(claims.get("role", "")), claims.get("arc"),
                   datetime.fromtimestamp(int(claims["exp"]), UTC))


# ----------------------------------------------------------------- overview

def tally(items: list[str]) -> list[tuple[str, int]]:
    """How many of each, most first (ties by name): needs by area, by source."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


def counts_table(caption: str, what: str, counts: list[tuple[str, int]]) -> Table:
    return Table((what, "Needs"), [(name, str(count)) for name, count in counts],
                 caption=caption)


@dataclass(frozen=True)
class RankedOption:
    option: str
    total: float
    rank: int


@dataclass(frozen=True)
class WeightRange:
    criterion: str
    weight: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Ranking:
    title: str
    status: str
    options: tuple[RankedOption, ...]
    ranges: tuple[WeightRange, ...]
    top_option: str

    def table(self) -> Table:
        return Table(("Rank", "Option", "Total"),
                     [(str(o.rank), o.option, f"{o.total:.2f}") for o in self.options],
                     caption=f"{self.title}: MCDA ranking ({self.status})")

    def ranges_table(self) -> Table:
        return Table(("Criterion", "Weight", "Lowest weight", "Highest weight"),
                     [(r.criterion, f"{r.weight:g}", f"{r.lower:.1f}", f"{r.upper:.1f}")
                      for r in self.ranges],
                     caption=f"Weights within which {self.top_option} stays top")
