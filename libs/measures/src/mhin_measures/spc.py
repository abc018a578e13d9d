"""Statistical process control: XmR charts with NHS England "Making Data Count"
(MDC) special-cause rules.

Sources. MDC (https://www.england.nhs.uk/publication/making-data-count/) describes
the rules in words; the exact formulation here follows NHSRplotthedots
(github.com/nhs-r-community/NHSRplotthedots, R/ptd_spc_standard.R and
R/ptd_calculate_point_type.R), the NHS-R Community package written to reproduce
the MDC Excel tools, with its ``screen_outliers = FALSE`` setting, which is what
the Excel tools do.

The chart:

- centre line: the mean of all points;
- moving range of a point: |value - previous value|; MR: their mean;
- process limits: mean +/- 2.66 x MR (3 sigma, with sigma = MR / 1.128);
- "near" limits: mean +/- (2/3) x 2.66 x MR (2 sigma).

The rules (a point can fire several):

1. POINT_BEYOND_LIMIT: a value strictly above the upper or below the lower process
   limit. A value exactly on a limit is not beyond it.
2. SHIFT: 7 or more consecutive points all above or all below the mean. A point
   exactly on the mean belongs to neither side and breaks the run (MDC and the
   NHSRplotthedots ``relative_to_mean = sign(y - mean)`` test). Every point of the
   run is flagged.
3. TREND: 7 or more consecutive points each higher (or each lower) than the one
   before, i.e. 6 rises or 6 falls in a row. An unchanged value breaks the trend.
   Every point of the run is flagged.
4. TWO_OF_THREE: within 3 consecutive points all on the same side of the mean, 2 or
   3 lie in the outer third between the near limit and the process limit (beyond
   2 sigma, not beyond 3 sigma: a point beyond the limit already fires rule 1). The
   points near the limit are flagged.

Variation of a flagged point, high or low, oriented by the measure's direction
(UP: high is IMPROVEMENT; DOWN: low is; none: NEITHER). When rules disagree the
first of this order decides, as in NHSRplotthedots: beyond a limit (the side of the
limit), trend (rising is high), two of three (the side of the mean), shift (the
side of the mean).

Short series: limits are computed from 2 points on and every rule applies, but
with fewer than MIN_POINTS_FOR_LIMITS points ``limits_reliable`` is False: they are
trial limits that move with each new point. MDC guidance asks for at least 15
points before limits are treated as meaningful (NHSRplotthedots warns below 12).

Rebased charts (``analyse_segments``), as NHSRplotthedots' ``rebase`` and Making Data
Count practice after a deliberate change: the series is cut at each rebase point and
each segment has its own mean and limits, with the rules applied within it. Options:
``fix_after_n_points`` takes a segment's mean and limits from its first N points (a
fixed baseline); ``screen_outliers`` leaves moving ranges above 3.267 x their mean
out of the limits (NHSRplotthedots screens by default, the MDC Excel tool does not:
here the default is the Excel tool's, unscreened).

Values are compared to the mean and the limits with a relative tolerance of 1e-9,
so that a value meant to be on the mean or a limit is not pushed off it by
floating-point rounding. Undefined values (a rate over a zero denominator) are not
points: leave them out rather than passing zero.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

LIMIT_FACTOR = 2.66
"""Process limits are mean +/- 2.66 x mean moving range (3 sigma, sigma = MR/1.128)."""

NEAR_LIMIT_FACTOR = LIMIT_FACTOR * 2 / 3
"""Near limits (2 sigma) are mean +/- 1.773 x mean moving range."""

MIN_POINTS_FOR_LIMITS = 15
"""Fewer points than this: limits are computed but flagged unreliable (trial limits)."""

RUN_LENGTH = 7
"""Points in a run for a shift or a trend."""

_TOLERANCE = 1e-9


class Direction(StrEnum):
    """Which way is better; names equal ``mhin.evaluation.v1.Direction`` suffixes.
    A measure without a direction uses ``None``."""

    UP = "up"
    DOWN = "down"


class SpcRule(StrEnum):
    """MDC special-cause rules; names equal ``mhin.evaluation.v1.SpcRule`` suffixes."""

    POINT_BEYOND_LIMIT = "point beyond a process limit"
    SHIFT = "shift: 7 or more points on one side of the mean"
    TREND = "trend: 7 or more points rising or falling"
    TWO_OF_THREE = "two of three points near a process limit"


class Variation(StrEnum):
    """A point's variation; names equal ``mhin.evaluation.v1.SpcVariation`` suffixes."""

    COMMON_CAUSE = "common cause"
    IMPROVEMENT = "special cause: improvement"
    CONCERN = "special cause: concern"
    NEITHER = "special cause: neither improvement nor concern"


@dataclass(frozen=True)
class SpcPoint:
    """One point of the series and what the rules say about it."""

    index: int
    value: float
    moving_range: float | None
    """|value - previous value|; None for the first point."""
    rules: tuple[SpcRule, ...]
    """Rules that fired at this point, in SpcRule order; empty for common cause."""
    variation: Variation


@dataclass(frozen=True)
class SpcResult:
    """An XmR analysis of a series. The statistics are None when the series is too
    short to have them: no mean without points, no limits without two."""

    mean: float | None
    mean_moving_range: float | None
    upper_limit: float | None
    lower_limit: float | None
    upper_near_limit: float | None
    """Mean + 2 sigma: above it a point is near the upper limit (two-of-three rule)."""
    lower_near_limit: float | None
    limits_reliable: bool
    """False with fewer than MIN_POINTS_FOR_LIMITS points (trial limits)."""
    points: tuple[SpcPoint, ...]


def analyse(values: Sequence[float], direction: Direction | None = None) -> SpcResult:
    """XmR analysis of ``values`` (oldest first, one per period, no gaps filled with
    zeros) classed by ``direction`` (None: no better direction). ValueError for a
    value that is not a finite number."""
    xs = [_finite(value, index) for index, value in enumerate(values)]
    return _analyse(xs, direction, 0, None, screen_outliers=False)


SCREEN_FACTOR = 3.267
"""Moving-range screening: ranges above 3.267 x the mean moving range (its upper
range limit) are left out of the mean moving range, as NHSRplotthedots'
``screen_outliers = TRUE`` does. The MDC Excel tools do not screen; neither do we
unless asked."""


@dataclass(frozen=True)
class Segment:
    """One part of a rebased chart: its own mean, limits and rules."""

    start: int
    """Index of its first point in the whole series."""
    baseline_points: int
    """Points the mean and limits come from (all, or the first fix_after_n_points)."""
    result: SpcResult
    """Its analysis; point indexes are those of the whole series."""


def analyse_segments(values: Sequence[float], direction: Direction | None = None, *,
                     rebase_at: Sequence[int] = (), fix_after_n_points: int | None = None,
                     screen_outliers: bool = False) -> tuple[Segment, ...]:
    """A rebased XmR chart (NHSRplotthedots' ``rebase``): the series is cut before
    each index of ``rebase_at`` and each segment has its own mean and limits; the
    rules apply within a segment (a run or a moving range never spans a rebase).
    ``fix_after_n_points``: each segment's mean and limits come from its first N
    points only (a fixed baseline the later points are judged against).
    ``screen_outliers``: moving ranges above SCREEN_FACTOR x their mean are left out
    of the limits. ValueError naming the option for a bad one."""
    xs = [_finite(value, index) for index, value in enumerate(values)]
    cuts = list(rebase_at)
    if any(not 0 < cut < len(xs) for cut in cuts) or cuts != sorted(set(cuts)):
        raise ValueError(f"rebase_at: {cuts} must be increasing indexes inside the series "
                         f"of {len(xs)} points")
    if fix_after_n_points is not None and fix_after_n_points < 2:
        raise ValueError(f"fix_after_n_points: needs at least 2 points (a moving range), "
                         f"not {fix_after_n_points}")
    bounds = [0, *cuts, len(xs)]
    return tuple(
        Segment(start, min(end - start, fix_after_n_points or end - start),
                _analyse(xs[start:end], direction, start, fix_after_n_points,
                         screen_outliers=screen_outliers))
        for start, end in zip(bounds, bounds[1:], strict=False) if end > start
    )


def _analyse(xs: list[float], direction: Direction | None, offset: int,
             fix_after_n_points: int | None, *, screen_outliers: bool) -> SpcResult:
    if not xs:
        return SpcResult(None, None, None, None, None, None, False, ())
    baseline = xs[:fix_after_n_points] if fix_after_n_points else xs
    mean = math.fsum(baseline) / len(baseline)
    ranges = [abs(current - previous) for previous, current in zip(xs, xs[1:], strict=False)]
    baseline_ranges = ranges[:len(baseline) - 1]
    mean_range = math.fsum(baseline_ranges) / len(baseline_ranges) if baseline_ranges else None
    if screen_outliers and mean_range is not None:
        kept = [r for r in baseline_ranges if r <= SCREEN_FACTOR * mean_range]
        mean_range = math.fsum(kept) / len(kept) if kept else mean_range
    limits = None if mean_range is None else _Limits.around(mean, mean_range)
    points = tuple(
        SpcPoint(offset + index, x, ranges[index - 1] if index else None,
                 *_classified(signs, direction))
        for index, (x, signs) in enumerate(zip(xs, _fire_rules(xs, mean, limits), strict=True))
    )
    return SpcResult(
        mean=mean,
        mean_moving_range=mean_range,
        upper_limit=limits.upper if limits else None,
        lower_limit=limits.lower if limits else None,
        upper_near_limit=limits.upper_near if limits else None,
        lower_near_limit=limits.lower_near if limits else None,
        limits_reliable=len(baseline) >= MIN_POINTS_FOR_LIMITS,
        points=points,
    )


def latest_signal(result: SpcResult) -> SpcPoint | None:
    """The newest point if special cause fired at it, else None: what a stream
    publishes a signal for on each update."""
    points = result.points
    if points and points[-1].rules:
        return points[-1]
    return None


@dataclass(frozen=True)
class _Limits:
    upper: float
    lower: float
    upper_near: float
    lower_near: float

    @classmethod
    def around(cls, mean: float, mean_range: float) -> _Limits:
        spread, near = LIMIT_FACTOR * mean_range, NEAR_LIMIT_FACTOR * mean_range
        return cls(mean + spread, mean - spread, mean + near, mean - near)

    def marks(self, x: float) -> tuple[int, int]:
        """(beyond, near) for x: +1/-1 when x is above the upper/below the lower
        limit; +1/-1 when it is in the outer third above/below the mean; else 0."""
        upper, lower = _compare(x, self.upper), _compare(x, self.lower)
        if upper > 0 or lower < 0:
            return upper if upper > 0 else lower, 0
        if _compare(x, self.upper_near) > 0:
            return 0, 1
        return 0, -1 if _compare(x, self.lower_near) < 0 else 0


def _fire_rules(xs: list[float], mean: float,
                limits: _Limits | None) -> list[tuple[int, int, int, int]]:
    """Per point, the sign each rule fired with, in SpcRule order: +1 (high: beyond
    the upper limit, above the mean, rising), -1 (low) or 0 (not fired)."""
    sides = [_compare(x, mean) for x in xs]
    shift, trend = _runs(sides, RUN_LENGTH), _trends(xs)
    beyond: Sequence[int]
    if limits is None:
        beyond = two_of_three = [0] * len(xs)
    else:
        beyond, near = zip(*(limits.marks(x) for x in xs), strict=True)
        two_of_three = _two_of_three(near, sides)
    return list(zip(beyond, shift, trend, two_of_three, strict=True))


def _two_of_three(near: Sequence[int], sides: list[int]) -> list[int]:
    """Mark the near points of every 3 consecutive points all on one side of the
    mean of which at least 2 are near the limit on that side."""
    marks = [0] * len(near)
    for start in range(len(near) - 2):
        window = range(start, start + 3)
        side = sides[start]
        if side == 0 or any(sides[i] != side for i in window):
            continue
        close = [i for i in window if near[i] == side]
        if len(close) >= 2:
            for i in close:
                marks[i] = side
    return marks


def _trends(xs: list[float]) -> list[int]:
    """Runs of RUN_LENGTH points are runs of RUN_LENGTH - 1 steps of one sign; a
    point at the turn of two trends takes the later one."""
    steps = [_compare(current, previous) for previous, current in zip(xs, xs[1:], strict=False)]
    marks = [0] * len(xs)
    for step_index, sign in enumerate(_runs(steps, RUN_LENGTH - 1)):
        if sign:
            marks[step_index] = marks[step_index + 1] = sign
    return marks


def _runs(signs: list[int], length: int) -> list[int]:
    """Mark every element of each run of at least ``length`` equal non-zero signs."""
    marks = [0] * len(signs)
    start = 0
    for end in range(1, len(signs) + 1):
        if end == len(signs) or signs[end] != signs[start]:
            if signs[start] != 0 and end - start >= length:
                marks[start:end] = [signs[start]] * (end - start)
            start = end
    return marks


_RULES = tuple(SpcRule)
_PRIORITY = (SpcRule.POINT_BEYOND_LIMIT, SpcRule.TREND, SpcRule.TWO_OF_THREE, SpcRule.SHIFT)


@functools.cache
def _classified(signs: tuple[int, int, int, int],
                direction: Direction | None) -> tuple[tuple[SpcRule, ...], Variation]:
    """The rules fired (``signs`` in SpcRule order) and the variation they make: few
    combinations, each worked out once."""
    fired = {rule: sign for rule, sign in zip(_RULES, signs, strict=True) if sign}
    return tuple(fired), _variation(fired, direction)


def _variation(fired: dict[SpcRule, int], direction: Direction | None) -> Variation:
    sign = next((fired[rule] for rule in _PRIORITY if rule in fired), 0)
    if sign == 0:
        return Variation.COMMON_CAUSE
    if direction is None:
        return Variation.NEITHER
    better = 1 if Direction(direction) is Direction.UP else -1
    return Variation.IMPROVEMENT if sign == better else Variation.CONCERN


def _compare(x: float, reference: float) -> int:
    if math.isclose(x, reference, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE * 1e-3):
        return 0
    return 1 if x > reference else -1


def _finite(value: float, index: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"values[{index}] must be a finite number, not {value!r}")
    return float(value)
