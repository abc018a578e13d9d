"""One batch of observation events against the cells table, and why the published
aggregates are right after any crash under at-least-once delivery.

1. The ``cells`` table is the only durable state. A batch's changelog writes go out
   with its aggregates (``CellTable``) and are acknowledged by the broker before the
   batch's events are (``SignalStage`` flushes the publisher, then acks), so a
   committed offset never runs ahead of the table.
2. The sums are a function of the table: rebuilt from it for the assigned partitions
   after every recovery, and otherwise changed only together with it.
3. Every aggregate an event changes is published, and acknowledged, before the event
   is. A crash before that replays the event; it finds its version stored
   (``Outcome.REPLAYED``) and its aggregates are published again from sums that
   already count it. An older version changes nothing.

So whatever a crash interrupts, the latest record of each aggregate key on the
topics ends equal to the sums of the latest version of every cell. (SPC signals
follow the aggregates: ``signals``.)
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import Counter as Metric
from prometheus_client import Histogram

from mhin_aggregator import SERVICE_NAME
from mhin_aggregator.observations import Unusable, read_cell
from mhin_aggregator.publication import aggregate_updates
from mhin_aggregator.publisher import BatchPublisher
from mhin_aggregator.rollup import Cell, Outcome, Rollup
from mhin_aggregator.suppression import table_marks
from mhin_aggregator.tables import CellTable
from mhin_measures.complementary import SHOWN, Marks
from mhin_measures.hierarchy import AggregateKey
from mhin_platform.events.dead_letter import dead_letter_headers
from mhin_platform.events.envelope import Event
from mhin_platform.protoconv import timestamp

log = logging.getLogger(__name__)

OBSERVATIONS = Metric(
    "mhin_aggregator_observations", "Observation records processed, by outcome.", ["outcome"]
)
PUBLISHED = Metric(
    "mhin_aggregator_published", "Records published, by kind.", ["kind"]
)
BATCH_SECONDS = Histogram(
    "mhin_aggregator_batch_duration_seconds",
    "Time to apply a batch of observations and send what it changed.",
)
DEAD_LETTERED = "dead_lettered"
IGNORED = "ignored"


@dataclass(frozen=True)
class OutputTopics:
    aggregates: str
    restricted_aggregates: str
    spc_signals: str
    dead_observations: str

    def __iter__(self) -> Iterator[str]:
        return iter(astuple(self))


@dataclass(frozen=True)
class Batch:
    """What a batch did: its outcome counts and the aggregates it changed."""

    outcomes: dict[str, int]
    changed: set[AggregateKey]


class Envelopes:
    """CloudEvents headers for the records of one batch: the platform's headers for
    the batch's time, each record with its own id (``<batch uuid>-<n>``, cheaper
    than a uuid per record)."""

    def __init__(self, moment: datetime) -> None:
        self._moment = moment
        self._batch = uuid.uuid4().hex
        self._count = 0
        self._templates: dict[str, list[tuple[str, bytes]]] = {}

    def headers(self, message: Message) -> list[tuple[str, bytes]]:
        event_type = message.DESCRIPTOR.full_name
        template = self._templates.get(event_type)
        if template is None:
            template = self._templates[event_type] = Event(
                topic="", key="", type=event_type, source=SERVICE_NAME, data=b"",
                id="", time=self._moment,
            ).headers()
        self._count += 1
        event_id = f"{self._batch}-{self._count}".encode()
        return [(name, event_id if name == "ce_id" else value) for name, value in template]


class ObservationProcessor:
    def __init__(self, cells: CellTable, publisher: BatchPublisher, topics: OutputTopics, *,
                 threshold: int) -> None:
        self.cells = cells
        self.publisher = publisher
        self.topics = topics
        self.threshold = threshold
        self.rollup = Rollup()
        self._marks: dict[tuple[str, str], dict[AggregateKey, Marks]] = {}
        """The disclosure pattern of each measure and period as last published."""
        self._restricted_at: dict[AggregateKey, Timestamp] = {}
        """When each aggregate's restricted record was last computed: its shared record
        carries the same time, so a reader of both can tell they hold the same sums."""
        self._outcomes: Counter[str] = Counter()
        self._dead: list[tuple[Any, str]] = []
        self._busy_seconds = 0.0  # applying the records of the next batch published

    async def prepare(self) -> None:
        """Have the publisher started and know the output topics."""
        await self.publisher.prepare(self.topics)

    def apply(self, messages: Iterable[Any]) -> None:
        """Apply records (faust Messages) to the table and the sums; what they change
        goes out with the next :meth:`publish_batch`."""
        started = time.perf_counter()
        for message in messages:
            self.observe(message)
        self._busy_seconds += time.perf_counter() - started

    def observe(self, message: Any) -> None:
        """Apply one record (a faust Message) to the table and the sums."""
        try:
            cell = read_cell(message.topic, message.partition, message.key, message.value,
                             message.headers)
        except Unusable as exc:
            self._dead.append((message, str(exc)))
            self._outcomes[DEAD_LETTERED] += 1
            return
        if cell is None:
            self._outcomes[IGNORED] += 1
            return
        record = self.cells.get(cell.key)
        stored = Cell.from_record(record) if record is not None else None
        outcome = self.rollup.observe(stored, cell)
        if outcome is Outcome.APPLIED:
            with self.cells.writing_for(message.partition):
                self.cells[cell.key] = cell.to_record()
        self._outcomes[outcome.value] += 1

    async def publish_batch(self) -> Batch:
        """Send the aggregates changed since the last call (and the changelog writes
        and dead letters) to the broker. Delivery is confirmed later, before the
        batch's events are acknowledged: ``SignalStage`` flushes the publisher first."""
        started = time.perf_counter()
        moment = datetime.now(UTC)
        computed_at = timestamp(moment)
        envelopes = Envelopes(moment)
        changed = self.rollup.take_changes()
        self._publish_aggregates(changed, computed_at, envelopes)
        self._dead_letter()
        await self.publisher.send()  # the changelog writes too (see CellTable)
        outcomes, self._outcomes = dict(self._outcomes), Counter()
        for outcome, count in outcomes.items():
            OBSERVATIONS.labels(outcome).inc(count)
        PUBLISHED.labels("aggregate").inc(len(changed))
        BATCH_SECONDS.observe(self._busy_seconds + time.perf_counter() - started)
        self._busy_seconds = 0.0
        return Batch(outcomes, changed)

    def shown_on_shared_topic(self, key: AggregateKey) -> bool:
        """Whether the shared topic shows ``key``'s figures (none withheld by its
        measure and period's disclosure pattern, as last published)."""
        return key not in self._table_marks(key.measure_id, key.period)

    def _table_marks(self, measure_id: str, period: str) -> dict[AggregateKey, Marks]:
        marks = self._marks.get((measure_id, period))
        if marks is None:
            marks = self._marks[(measure_id, period)] = table_marks(
                self.rollup, measure_id, period, self.threshold)
        return marks

    def _publish_aggregates(self, changed: Collection[AggregateKey], computed_at: Timestamp,
                            envelopes: Envelopes) -> None:
        """The restricted record of every changed aggregate (the shared ones follow in
        the next SPC round: :meth:`publish_shared`)."""
        add, topic = self.publisher.add, self.topics.restricted_aggregates
        totals, measures = self.rollup.totals, self.rollup.measures
        restricted_at = self._restricted_at
        for key in changed:
            restricted_at[key] = computed_at
            restricted, _ = aggregate_updates(key, totals[key], measures[key.measure_id],
                                              marks=SHOWN, computed_at=computed_at)
            add(topic, key.text.encode(), restricted.SerializeToString(),
                envelopes.headers(restricted))

    def publish_shared(self, table: tuple[str, str], changed: Collection[AggregateKey],
                       computed_at: Timestamp, envelopes: Envelopes) -> int:
        """Queue the shared records of one measure and period (``table``) after
        ``changed`` (its aggregates changed since the last call): theirs, and those of
        every other aggregate of the table whose disclosure marks moved (the whole
        table after a rebuild, when the marks last published are not known). The
        pattern is the table's, so it is recomputed whole. How many were queued."""
        if table[0] not in self.rollup.measures:  # its partition moved to another worker
            return 0
        before = self._marks.pop(table, None)
        after = self._table_marks(*table)
        keys = set(changed)
        if before is None:
            keys.update(self.rollup.tables.get(table, ()))
        else:
            keys.update(key for key in before.keys() | after.keys()
                        if before.get(key) != after.get(key))
        totals, measures = self.rollup.totals, self.rollup.measures
        restricted_at = self._restricted_at
        for key in keys:
            _, shared = aggregate_updates(key, totals[key], measures[key.measure_id],
                                          marks=after.get(key, SHOWN),
                                          computed_at=restricted_at.get(key, computed_at))
            self.publisher.add(self.topics.aggregates, key.text.encode(),
                               shared.SerializeToString(), envelopes.headers(shared))
        return len(keys)

    def _dead_letter(self) -> None:
        dead, self._dead = self._dead, []
        for message, reason in dead:
            log.warning("dead-lettering observation record", extra={
                "topic": message.topic, "partition": message.partition,
                "offset": message.offset, "reason": reason})
            headers = dead_letter_headers(
                reason=reason, consumer=SERVICE_NAME, topic=message.topic,
                partition=message.partition, offset=message.offset,
                original=list(message.headers or []),
            )
            self.publisher.add(self.topics.dead_observations, message.key, message.value,
                               headers)

    def rebuild(self, partitions: Collection[int]) -> None:
        """Recompute the sums from the table's cells of ``partitions`` (after a
        recovery: the table then holds what survived, and the sums must match it)."""
        started = time.perf_counter()
        unpublished = self.rollup.take_changes()
        self.rollup = Rollup()
        self._marks = {}  # republished whole when next changed (see _publish_aggregates)
        self._restricted_at = {}
        self.rollup.add_all(
            Cell.from_record(record)
            for record in self.cells.values()
            if record["partition"] in partitions
        )
        # events applied but not yet published (the agent catching up) are still
        # unacknowledged: what they changed must go out before they are acked
        self.rollup.restore_changes(unpublished)
        log.info("rebuilt the sums from the cells table", extra={
            "partitions": sorted(partitions), "aggregates": len(self.rollup.totals),
            "seconds": round(time.perf_counter() - started, 3)})
