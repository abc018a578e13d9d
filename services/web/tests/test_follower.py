"""The web's follower of the shared topics against a real broker: an aggregate or SPC
signal published on the declared topics reaches the pages following its series, and
no other; what cannot be read goes to the topic's dead-letter topic with its reason."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from mhin.evaluation.v1 import aggregate_events_pb2 as pb
from mhin_platform.events.envelope import new_event
from mhin_web.events import CONSUMER_NAME, Hub, TopicFollower

pytestmark = pytest.mark.integration
WAIT_SECONDS = 30.0


def publish(bootstrap: str, topic: str, message=None, key: str = "k", raw: bytes | None = None):
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        if raw is not None:
            producer.send(topic, key=key.encode(), value=raw)
        else:
            event = new_event(topic=topic, key=key, source="tests", message=message)
            producer.send(topic, key=key.encode(), value=event.data, headers=event.headers())
        producer.flush(10)
    finally:
        producer.close()


class DeadLetters:
    """A dead-letter topic read from its end as it was when opened."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        partitions = [TopicPartition(topic, p) for p in self.consumer.partitions_for_topic(topic)]
        self.consumer.assign(partitions)
        self.consumer.seek_to_end()
        for partition in partitions:
            self.consumer.position(partition)

    def wait_for_key(self, key: str) -> list:
        found: list = []
        deadline = time.monotonic() + WAIT_SECONDS
        while not found and time.monotonic() < deadline:
            for batch in self.consumer.poll(timeout_ms=200).values():
                found += [record for record in batch if record.key == key.encode()]
        self.consumer.close()
        assert found, f"nothing dead-lettered under {key}"
        return found


async def test_a_published_change_reaches_only_the_pages_following_its_series(
        kafka_bootstrap, declared_topics_created):
    hub = Hub()
    follower = TopicFollower(kafka_bootstrap, hub)
    task = asyncio.create_task(follower.run())
    try:
        await asyncio.wait_for(follower.ready.wait(), WAIT_SECONDS)
        mine = hub.follow(("measure-w", "site", "site-1"))
        other = hub.follow(("measure-w", "site", "site-2"))
        computed_at = Timestamp(seconds=1_800_000_000)
        dead_letters = DeadLetters(kafka_bootstrap, "mhin.evaluation.aggregate.dlq")
        bad_key = f"bad-{id(hub)}"
        publish(kafka_bootstrap, "mhin.evaluation.aggregate", raw=b"not an event", key=bad_key)
        publish(kafka_bootstrap, "mhin.evaluation.aggregate", pb.AggregateUpdated(
            measure_id="measure-w", level=pb.LEVEL_SITE, unit="site-1", period="2025-01",
            stratum="sex=F", computed_at=computed_at))
        publish(kafka_bootstrap, "mhin.evaluation.spc-signal", pb.SpcSignalRaised(
            measure_id="measure-w", level=pb.LEVEL_SITE, unit="site-1", period="2025-02",
            computed_at=computed_at))
        async with asyncio.timeout(WAIT_SECONDS):
            while len(mine.changes) < 2:
                await mine.woken.wait()
                await asyncio.sleep(0.05)
        changes = mine.take()
        # two topics: no order between them
        assert sorted((c.stratum, c.period, c.computed_at) for c in changes) == [
            ("", "2025-02", 1_800_000_000.0), ("sex=F", "2025-01", 1_800_000_000.0)]
        assert not other.changes and not other.woken.is_set()
        (dead,) = await asyncio.to_thread(dead_letters.wait_for_key, bad_key)
        headers = {name: value.decode() for name, value in dead.headers}
        assert (dead.value, headers["dlq_consumer"]) == (b"not an event", CONSUMER_NAME)
        assert "missing CloudEvents header" in headers["dlq_reason"]
        hub.leave(mine)
        hub.leave(other)
        assert hub.open_pages == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
