"""What a benchmark returns: figures measured over several runs, with a target."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    """A target from the issue, judged on a figure's median."""

    op: str  # ">=" or "<="
    value: float

    def met(self, measured: float) -> bool:
        return measured >= self.value if self.op == ">=" else measured <= self.value

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


def at_least(value: float) -> Target:
    return Target(">=", value)


def at_most(value: float) -> Target:
    return Target("<=", value)


@dataclass
class Figure:
    """One measured quantity: its value in each run, its unit, and a target if any.

    A derived figure (a ratio of two others) has one value per pair of runs it was
    computed from, so it carries min/median/max like any other figure.
    """

    name: str
    unit: str
    runs: list[float]
    target: Target | None = None
    note: str = ""
    benchmark: str = field(default="")

    @property
    def min(self) -> float:
        return min(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def max(self) -> float:
        return max(self.runs)

    @property
    def verdict(self) -> str:
        """"met", "missed", or "" when the figure has no target."""
        if self.target is None:
            return ""
        return "met" if self.target.met(self.median) else "missed"

    def as_dict(self) -> dict[str, object]:
        return {
            "benchmark": self.benchmark,
            "name": self.name,
            "unit": self.unit,
            "runs": self.runs,
            "min": self.min,
            "median": self.median,
            "max": self.max,
            "target": str(self.target) if self.target else None,
            "verdict": self.verdict or None,
            "note": self.note,
        }


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (0 < fraction <= 1) of ``values``."""
    if not values:
        raise ValueError("no values to take a percentile of")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Pairwise ratios of runs measured side by side (run i of one with run i of the other)."""
    return [n / d for n, d in zip(numerators, denominators, strict=True)]
