"""The web's follower of the shared topics against a real broker: an aggregate or SPC
signal published on the declared topics reaches the pages following its series, and
no other; what cannot be read is counted and skipped."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from kafka import KafkaProducer

from mhin.evaluation.v1 import aggregate_events_pb2 as pb
from mhin_platform.events.envelope import new_event
from mhin_web.events import UNREADABLE, Hub, TopicFollower

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
        unreadable_before = UNREADABLE.labels("mhin.evaluation.aggregate")._value.get()
        publish(kafka_bootstrap, "mhin.evaluation.aggregate", raw=b"not an event")
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
        assert [(c.stratum, c.period, c.computed_at) for c in changes] == [
            ("sex=F", "2025-01", 1_800_000_000.0), ("", "2025-02", 1_800_000_000.0)]
        assert not other.changes and not other.woken.is_set()
        assert UNREADABLE.labels("mhin.evaluation.aggregate")._value.get() == unreadable_before + 1
        hub.leave(mine)
        hub.leave(other)
        assert hub.open_pages == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
