"""Behind the restricted aggregates: the shared aggregates (their disclosure pattern is
a whole measure and period's) and special-cause signals for the series a batch
changed, after the batch's restricted aggregates are out, and the batch's events
acknowledged only then.

An XmR analysis of a series costs more than everything else an observation does, so
it must not hold up the aggregates (whose latency matters) nor run once per batch
when a backfill updates the same series in batch after batch. The agent submits each
batch's changed series and its still unacknowledged events; a round analyses every
series changed since the previous round once, publishes the signals, waits for the
broker, and only then acknowledges the events. A crash before that replays them,
and replayed events mark their series changed again: signals are at-least-once.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Any

from mode import Service
from prometheus_client import Counter

from mhin_aggregator.processor import PUBLISHED, Envelopes, ObservationProcessor
from mhin_aggregator.publication import spc_signal
from mhin_aggregator.series import SpcWatch
from mhin_measures import rates
from mhin_measures.hierarchy import AggregateKey, SeriesKey
from mhin_platform.protoconv import timestamp

SPC_SECONDS = Counter(
    "mhin_aggregator_spc_seconds", "Time spent analysing series (XmR and signals)."
)
SERIES_ANALYSED = Counter(
    "mhin_aggregator_spc_series_analysed", "Series given an XmR analysis."
)
Acknowledge = Callable[[], Awaitable[None]]
# A round runs in slices between which it sleeps, so that on one event loop the agent
# (and the stream feeding it) keeps most of the time: a long round then only delays
# signals, never aggregates, and coalesces more series.
SLICE_SECONDS = 0.002
PAUSE_SECONDS = 0.004


class SignalStage(Service):
    """Rounds of SPC at most every ``interval`` seconds (sooner when ``max_pending``
    events wait), so that a series updated by many batches is analysed once per
    round."""

    def __init__(self, processor: ObservationProcessor, *, interval: float, max_pending: int,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.processor = processor
        self.watch = SpcWatch()
        self.interval = interval
        self.max_pending = max_pending
        self._dirty: defaultdict[SeriesKey, set[str]] = defaultdict(set)
        self._acknowledgements: list[Acknowledge] = []
        self._pending = 0
        self._last_round = -math.inf
        self._work = asyncio.Event()
        self._full = asyncio.Event()
        self._room = asyncio.Event()

    async def submit(self, changed: Collection[AggregateKey], events: int,
                     acknowledge: Acknowledge) -> None:
        """Queue a batch of ``events`` and the aggregates it changed; ``acknowledge``
        acks the events once their signals are out. Waits while ``max_pending``
        events wait for a round (backpressure)."""
        await self.maybe_start()
        for key in changed:
            self._dirty[key.series].add(key.period)
        self._acknowledgements.append(acknowledge)
        self._pending += events
        self._work.set()
        while self._pending >= self.max_pending:
            self._full.set()
            self._room.clear()
            await self._room.wait()

    @Service.task
    async def _rounds(self) -> None:
        while not self.should_stop:
            await self._work.wait()
            # after a quiet spell a round starts at once (the shared records wait for
            # it); within ``interval`` of the last one, later batches join it instead
            wait = self._last_round + self.interval - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), timeout=wait)
            self._last_round = time.monotonic()
            self._work.clear()
            self._full.clear()
            dirty, self._dirty = self._dirty, defaultdict(set)
            acknowledgements, self._acknowledgements = self._acknowledgements, []
            self._pending = 0
            self._room.set()
            await self._shared(dirty)
            await self._signal(dirty)
            # every record of the batches in this round, not only the signals
            await self.processor.publisher.flush()
            for acknowledge in acknowledgements:
                await acknowledge()

    async def _shared(self, dirty: dict[SeriesKey, set[str]]) -> None:
        """The shared records of every measure and period changed since the last round,
        each table's disclosure pattern computed once for all the batches that changed
        it (it costs more than anything else the stream does)."""
        tables: defaultdict[tuple[str, str], list[AggregateKey]] = defaultdict(list)
        for series, periods in dirty.items():
            for period in periods:
                tables[(series.measure_id, period)].append(
                    series.at(period))
        moment = datetime.now(UTC)
        computed_at, envelopes = timestamp(moment), Envelopes(moment)
        published = 0
        for table in sorted(tables):
            published += self.processor.publish_shared(table, tables[table], computed_at,
                                                       envelopes)
            await asyncio.sleep(PAUSE_SECONDS)  # the agent's turn between tables
        PUBLISHED.labels("shared_aggregate").inc(published)

    async def _signal(self, dirty: dict[SeriesKey, set[str]]) -> None:
        processor = self.processor
        rollup, publisher, topic = processor.rollup, processor.publisher, processor.topics
        moment = datetime.now(UTC)
        computed_at, envelopes = timestamp(moment), Envelopes(moment)
        published = 0
        slice_started = time.perf_counter()
        for series, periods in dirty.items():
            if time.perf_counter() - slice_started > SLICE_SECONDS:
                await asyncio.sleep(PAUSE_SECONDS)
                slice_started = time.perf_counter()
            measure = rollup.measures.get(series.measure_id)
            if measure is None:  # its partition moved to another worker
                continue
            points = rollup.series_points(series)
            totals = dict(points)
            if not any(period in totals and processor.shown_on_shared_topic(
                           series.at(period))
                       for period in periods):
                continue  # a signal at these points would not be published anyway
            started = time.perf_counter()
            SERIES_ANALYSED.inc()
            values = [
                (period, value)
                for period, total in points
                if (value := rates.value(measure.measure_type, *total.figures,
                                         measure.multiplier)) is not None
            ]
            for signal in self.watch.check(series, values, periods, measure.direction):
                # a signal carries the point's value: it goes out only where the shared
                # topic shows that value (no small number, none that would give one away)
                if processor.shown_on_shared_topic(
                        series.at(signal.period)):
                    message = spc_signal(signal, computed_at=computed_at)
                    publisher.add(topic.spc_signals, series.text.encode(),
                                  message.SerializeToString(), envelopes.headers(message))
                    published += 1
            SPC_SECONDS.inc(time.perf_counter() - started)
        PUBLISHED.labels("spc_signal").inc(published)
