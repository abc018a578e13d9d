"""Publishing a batch's records with aiokafka's batch API.

A batch of observations changes thousands of aggregates, each published twice.
Sent one by one (faust's ``Topic.send``, or aiokafka's ``send``), a record costs
tens of microseconds; built straight into one record batch per topic partition it
costs a few, and each batch is delivered with one request per partition. Records go
to the partition Kafka's default partitioner gives their key (murmur2), as every
other client writing the same key would choose, so a compacted topic never holds one
key on two partitions. aiokafka's murmur2 is pure Python, so each key's partition is
remembered: the same aggregates are published again and again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2
from mode import Service


@lru_cache(maxsize=1 << 18)
def _key_hash(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF


def default_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner puts ``key`` in."""
    return _key_hash(key) % partitions


class BatchPublisher(Service):
    """An idempotent producer (acks=all) whose records wait in per-partition record
    batches until :meth:`flush`, which returns once the broker has them all."""

    def __init__(self, bootstrap_servers: str, *, client_id: str, max_batch_bytes: int,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = {
            "bootstrap_servers": bootstrap_servers.split(","),
            "client_id": client_id,
            "acks": "all",
            "enable_idempotence": True,
            "max_batch_size": max_batch_bytes,
            "max_request_size": max(max_batch_bytes * 2, 1_048_576),
        }
        self._producer: AIOKafkaProducer | None = None
        self._partitions: dict[str, int] = {}
        self._open: dict[tuple[str, int], Any] = {}
        self._full: list[tuple[str, int, Any]] = []
        self._in_flight: set[asyncio.Future] = set()

    async def on_start(self) -> None:
        # aiokafka binds a producer to the running loop: create it here
        self._producer = AIOKafkaProducer(**self._settings)
        await self._producer.start()

    async def on_stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    @property
    def _live_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("the publisher has not started")
        return self._producer

    async def prepare(self, topics: Iterable[str]) -> None:
        """Start if needed and learn the partition counts of ``topics``."""
        await self.maybe_start()
        for topic in topics:
            if topic not in self._partitions:
                self._partitions[topic] = len(await self._live_producer.partitions_for(topic))

    def add(self, topic: str, key: bytes | None, value: bytes | None,
            headers: list[tuple[str, bytes]], *, partition: int | None = None) -> None:
        """Queue a record for the next :meth:`send`, in ``partition`` or by its key
        (``prepare`` must then know the topic)."""
        if partition is None:
            # A keyless record (the dead letter of one) has no partition to keep to.
            partition = 0 if key is None else default_partition(key, self._partitions[topic])
        slot = (topic, partition)
        batch = self._open.get(slot)
        if batch is None:
            batch = self._open[slot] = self._live_producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            self._full.append((topic, partition, batch))
            batch = self._open[slot] = self._live_producer.create_batch()
            batch.append(key=key, value=value, timestamp=None, headers=headers)

    async def send(self) -> None:
        """Hand everything queued to the producer, without waiting for the broker."""
        ready = self._full + [(topic, partition, batch)
                              for (topic, partition), batch in self._open.items()]
        self._full, self._open = [], {}
        for topic, partition, batch in ready:
            batch.close()
            # waits while the partition's previous batch is still queued: backpressure
            delivery = await self._live_producer.send_batch(batch, topic, partition=partition)
            self._in_flight.add(delivery)
            delivery.add_done_callback(self._in_flight.discard)

    async def flush(self) -> None:
        """Send everything queued and wait until the broker has acknowledged every
        record handed over so far, by any caller."""
        await self.send()
        if self._in_flight:
            await asyncio.gather(*self._in_flight)
