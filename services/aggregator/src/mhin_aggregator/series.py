"""SPC per series: which updated points of a series show special cause that was
not there before (the XmR analysis itself is ``mhin_measures.spc``)."""

from __future__ import annotations

from collections.abc import Collection, Container, Sequence
from dataclasses import dataclass

from mhin_measures import spc
from mhin_measures.hierarchy import SeriesKey


@dataclass(frozen=True)
class Signal:
    """Special cause at one point of a series."""

    series: SeriesKey
    period: str
    point: spc.SpcPoint
    result: spc.SpcResult


Cause = tuple[tuple[spc.SpcRule, ...], spc.Variation]
"""The rules a point breaks and the variation they mean."""


class SpcWatch:
    """Remembers the special cause (rules and variation) each point of each series
    showed when it was last updated, so that a signal is raised when special cause
    appears or changes at an updated point, not again each time the series changes
    elsewhere. A point is judged only when it is updated: the series may already hold
    points that are not (a round analyses the sums as they are, which batches applied
    since the round began may have moved on), and those must still be signalled when
    their own update comes. The memory is lost with the process: after a restart a
    point still showing special cause is signalled again when it is next updated
    (signals are at-least-once; their key and period identify a repeat)."""

    def __init__(self) -> None:
        self._seen: dict[SeriesKey, dict[str, Cause]] = {}

    def check(
        self,
        series: SeriesKey,
        points: Sequence[tuple[str, float]],
        updated: Collection[str],
        direction: spc.Direction | None,
    ) -> list[Signal]:
        """Analyse ``points`` ((period, value), oldest first) and return the signals
        at the ``updated`` periods whose special cause is new or changed."""
        result = spc.analyse([value for _, value in points], direction)
        seen = self._seen.setdefault(series, {})
        signals = []
        for (period, _), point in zip(points, result.points, strict=True):
            if period not in updated:
                continue
            if not point.rules:
                seen.pop(period, None)
                continue
            cause = (point.rules, point.variation)
            if seen.get(period) != cause:
                seen[period] = cause
                signals.append(Signal(series, period, point, result))
        return signals

    def keep_only(self, series: Container[SeriesKey]) -> None:
        """Forget the series not in ``series`` (partitions moved to another worker)."""
        self._seen = {key: points for key, points in self._seen.items() if key in series}
