"""The observation events every stream benchmark reads: real envelopes
(``mhin_platform.events`` CloudEvents headers + ``mhin.evaluation.v1.ObservationRecorded``)
produced once per suite onto a topic of the benchmarks' own with the observations
topic's partitions (the declared one is left to the end-to-end benchmark, where
evaluation writes it), keyed and partitioned as evaluation's producer would.

They are written in whole record batches (aiokafka's batch API) rather than one
``send`` at a time: the suite makes and copies hundreds of thousands of events, and
the platform's producer is not what these benchmarks measure."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as AioTopicPartition
from aiokafka.partitioner import DefaultPartitioner
from google.protobuf.timestamp_pb2 import Timestamp
from kafka import KafkaConsumer, TopicPartition

from mhin.common.v1 import arc_pb2
from mhin.evaluation.v1 import measure_pb2
from mhin.evaluation.v1.observation_events_pb2 import ObservationRecorded
from mhin_platform.events import topic_names
from mhin_platform.events.envelope import Event, new_event

TOPIC = "bench.observation"
SHAPED_LIKE = topic_names.EVALUATION_OBSERVATION
SOURCE = "/mhin/evaluation"

# A shape like the network's: a few projects' measures, their sites in a handful of
# ARCs, two years of months, a few strata. Cells repeat once the grid is used up,
# with a higher version: corrections, as evaluation publishes them.
MEASURES = 24
SITES = 40
MONTHS = 24
STRATA = ("", "ethnicity=Asian", "ethnicity=Black", "ethnicity=Mixed", "ethnicity=White")
ARCS = (
    arc_pb2.ARC_GREATER_MANCHESTER, arc_pb2.ARC_YORKSHIRE_AND_HUMBER,
    arc_pb2.ARC_EAST_OF_ENGLAND, arc_pb2.ARC_NORTH_WEST_COAST,
)  # fmt: skip
CELLS = MEASURES * SITES * MONTHS * len(STRATA)


def observation(index: int, recorded_at: datetime) -> ObservationRecorded:
    """The ``index``-th observation of the grid (deterministic)."""
    cell, correction = index % CELLS, index // CELLS
    cell, stratum = divmod(cell, len(STRATA))
    cell, month = divmod(cell, MONTHS)
    measure, site = divmod(cell, SITES)
    stamp = Timestamp()
    stamp.FromDatetime(recorded_at)
    return ObservationRecorded(
        measure_id=f"measure-{measure:04d}",
        project_id=f"project-{measure % 3}",
        site_id=f"site-{site:04d}",
        arc=ARCS[site % len(ARCS)],
        period=f"{2023 + month // 12}-{month % 12 + 1:02d}",
        stratum=STRATA[stratum],
        numerator=float(index % 97),
        denominator=float(100 + index % 53),
        version=correction + 1,
        measure_type=measure_pb2.MEASURE_TYPE_PROPORTION,
        multiplier=100.0,
        direction=measure_pb2.DIRECTION_UP,
        recorded_at=stamp,
    )


def observation_event(index: int) -> Event:
    message = observation(index, datetime.now(UTC))
    cell = f"{message.measure_id}|{message.site_id}|{message.period}|{message.stratum}"
    return new_event(topic=TOPIC, key=message.measure_id, source=SOURCE, message=message,
                     subject=cell)


def record_bytes(event: Event) -> int:
    """Bytes of one record as the broker stores it, before batching: key, value, headers."""
    headers = sum(len(name) + len(value) for name, value in event.headers())
    return len(event.key.encode()) + len(event.data) + headers


@dataclass(frozen=True)
class ObservationSet:
    """``count`` events on ``topic`` between ``start`` and ``end`` offsets per partition."""

    topic: str
    count: int
    start: dict[int, int]
    end: dict[int, int]
    record_bytes: int
    produce_seconds: float

    @asynccontextmanager
    async def reader(self, bootstrap: str) -> AsyncIterator[AIOKafkaConsumer]:
        """A consumer assigned to every partition of the set, at its start offsets."""
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [AioTopicPartition(self.topic, p) for p in sorted(self.start)]
            consumer.assign(partitions)
            for partition in partitions:
                consumer.seek(partition, self.start[partition.partition])
            yield consumer
        finally:
            await consumer.stop()


Record = tuple[int, bytes, bytes, list[tuple[str, bytes]]]  # partition, key, value, headers


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return {tp.partition: offset for tp, offset in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


async def _write(bootstrap: str, topic: str, records: AsyncIterator[list[Record]]) -> None:
    """Write ``records`` in full batches, partition by partition, acks=all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        deliveries = []
        async for chunk in records:
            batches: dict[int, object] = {}
            for partition, key, value, headers in chunk:
                batch = batches.setdefault(partition, producer.create_batch())
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    deliveries.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = batches[partition] = producer.create_batch()
                    batch.append(key=key, value=value, timestamp=None, headers=headers)
            for partition, batch in batches.items():
                deliveries.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def _new_events(count: int, partitions: list[int]) -> AsyncIterator[list[Record]]:
    partitioner = DefaultPartitioner()
    for start in range(0, count, 10_000):
        chunk = []
        for index in range(start, min(start + 10_000, count)):
            event = observation_event(index)
            key = event.key.encode()
            chunk.append((partitioner(key, partitions, partitions), key, event.data,
                          event.headers()))
        yield chunk


def produce(bootstrap: str, count: int) -> ObservationSet:
    """Publish ``count`` observation events to :data:`TOPIC`."""
    start = end_offsets(bootstrap, TOPIC)
    began = time.perf_counter()
    asyncio.run(_write(bootstrap, TOPIC, _new_events(count, sorted(start))))
    return _written(bootstrap, TOPIC, count, start, time.perf_counter() - began)


async def _records_of(bootstrap: str, source: ObservationSet,
                      count: int) -> AsyncIterator[list[Record]]:
    async with source.reader(bootstrap) as consumer:
        left = count
        while left > 0:
            chunk = [(partition.partition, record.key, record.value, list(record.headers))
                     for partition, records in (await consumer.getmany(timeout_ms=500)).items()
                     for record in records if record.offset < source.end[partition.partition]]
            yield chunk[:left]
            left -= len(chunk)


def copy(bootstrap: str, source: ObservationSet, topic: str,
         count: int | None = None) -> ObservationSet:
    """The same records (key, value, headers, partition) on another topic, all or the
    first ``count``: a fresh copy for a run that must start from empty state."""
    count = source.count if count is None else min(count, source.count)
    start = end_offsets(bootstrap, topic)
    began = time.perf_counter()
    asyncio.run(_write(bootstrap, topic, _records_of(bootstrap, source, count)))
    return _written(bootstrap, topic, count, start, time.perf_counter() - began)


def _written(bootstrap: str, topic: str, count: int, start: dict[int, int],
             seconds: float) -> ObservationSet:
    end = end_offsets(bootstrap, topic)
    if sum(end.values()) - sum(start.values()) != count:
        raise RuntimeError(f"{topic} got {sum(end.values()) - sum(start.values())} records, "
                           f"expected {count}")
    return ObservationSet(topic, count, start, end, record_bytes(observation_event(0)), seconds)
