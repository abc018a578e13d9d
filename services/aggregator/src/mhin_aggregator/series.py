"""SPC per series: which updated points of a series show special cause that was
not there before (the XmR analysis itself is ``mhin_measures.spc``)."""

from __future__ import annotations

from collections.abc import Collection, Container, Sequence
from dataclasses import dataclass

from mhin_aggregator.rollup import SeriesKey
from mhin_measures import spc


@dataclass(frozen=True)
class Signal:
    """Special cause at one point of a series."""

    series: SeriesKey
    period: str
    point: spc.SpcPoint
    result: spc.SpcResult


class SpcWatch:
    """Remembers the rules that fired at each point of each series, so that a signal
    is raised when special cause appears at an updated point, not again each time the
    series changes elsewhere. The memory is lost with the process: after a restart a
    point still showing special cause is signalled again when it is next updated
    (signals are at-least-once; their key and period identify a repeat)."""

    def __init__(self) -> None:
        self._fired: dict[SeriesKey, dict[str, tuple[spc.SpcRule, ...]]] = {}

    def check(
        self,
        series: SeriesKey,
        points: Sequence[tuple[str, float]],
        updated: Collection[str],
        direction: spc.Direction | None,
    ) -> list[Signal]:
        """Analyse ``points`` ((period, value), oldest first) and return the signals
        at the ``updated`` periods whose rules changed and are not empty."""
        result = spc.analyse([value for _, value in points], direction)
        fired = {
            period: point.rules
            for (period, _), point in zip(points, result.points, strict=True)
            if point.rules
        }
        before = self._fired.get(series, {})
        self._fired[series] = fired
        return [
            Signal(series, period, result.points[index], result)
            for index, (period, _) in enumerate(points)
            if period in updated and fired.get(period) and fired[period] != before.get(period)
        ]

    def keep_only(self, series: Container[SeriesKey]) -> None:
        """Forget the series not in ``series`` (partitions moved to another worker)."""
        self._fired = {key: rules for key, rules in self._fired.items() if key in series}
