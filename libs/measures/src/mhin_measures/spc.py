"""Statistical process control: XmR charts with NHS England "Making Data Count"
(MDC) special-cause rules.

Implementation in progress: the signatures and result types are stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

LIMIT_FACTOR = 2.66
"""Process limits are mean +/- 2.66 x mean moving range (3 sigma, sigma = MR/1.128)."""

MIN_POINTS_FOR_LIMITS = 15
"""Fewer points than this: limits are computed but flagged unreliable."""

RUN_LENGTH = 7
"""Points in a run for a shift or a trend."""


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
    """An XmR analysis of a series. Limits are None for fewer than two points."""

    mean: float | None
    mean_moving_range: float | None
    upper_limit: float | None
    lower_limit: float | None
    upper_near_limit: float | None
    """Mean + 2 sigma: beyond it a point is "near" the upper limit (two-of-three rule)."""
    lower_near_limit: float | None
    limits_reliable: bool
    """False with fewer than MIN_POINTS_FOR_LIMITS points."""
    points: tuple[SpcPoint, ...]


def analyse(values: Sequence[float], direction: Direction | None) -> SpcResult:
    """XmR analysis of ``values`` (oldest first) classed by ``direction``."""
    raise NotImplementedError


def latest_signal(result: SpcResult) -> SpcPoint | None:
    """The newest point if special cause fired at it, else None: what a stream
    publishes a signal for on each update."""
    points = result.points
    if points and points[-1].rules:
        return points[-1]
    return None
