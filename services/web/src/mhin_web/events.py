"""What the web follows on the shared topics: each aggregate and SPC signal the
stream processors publish says which series changed, and the pages following that
series are told to fetch it again (through gRPC, with their own user's token: the
event's figures are never shown). The web is a notifier, not a consumer group
member: every replica reads every partition from its end, commits nothing."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from prometheus_client import Counter

from mhin.evaluation.v1 import aggregate_events_pb2
from mhin_platform.events import topic_names
from mhin_platform.events.dead_letter import dead_letter_headers, dead_letter_topic
from mhin_platform.events.envelope import EnvelopeError, event_from_record
from mhin_web.convert import LEVEL_NAMES

log = logging.getLogger(__name__)
Followed = aggregate_events_pb2.AggregateUpdated | aggregate_events_pb2.SpcSignalRaised
FOLLOWED: dict[str, type[Followed]] = {
    topic_names.EVALUATION_AGGREGATE: aggregate_events_pb2.AggregateUpdated,
    topic_names.EVALUATION_SPC_SIGNAL: aggregate_events_pb2.SpcSignalRaised,
}
DEAD_LETTERED = Counter("mhin_web_dead_lettered_records",
                        "Records of the followed topics the web could not decode, by topic",
                        ["topic"])
CONSUMER_NAME = "web.follower"  # who dead-lettered a record (the dlq headers say)
ASSIGNMENT_POLL_SECONDS = 0.05
FollowKey = tuple[str, str, str]  # measure id, level, unit


@dataclass(frozen=True)
class Change:
    stratum: str
    period: str
    computed_at: float  # seconds since the epoch


@dataclass(eq=False)  # one per open page, told apart by identity
class Follower:
    """One open page: the changes since it last fetched, and a flag that wakes it."""

    key: FollowKey
    changes: list[Change] = field(default_factory=list)
    woken: asyncio.Event = field(default_factory=asyncio.Event)

    def take(self) -> list[Change]:
        taken, self.changes = self.changes, []
        self.woken.clear()
        return taken


class Hub:
    """The open pages by the series they follow."""

    def __init__(self) -> None:
        self._followers: dict[FollowKey, set[Follower]] = {}

    def follow(self, key: FollowKey) -> Follower:
        follower = Follower(key)
        self._followers.setdefault(key, set()).add(follower)
        return follower

    def leave(self, follower: Follower) -> None:
        followers = self._followers.get(follower.key, set())
        followers.discard(follower)
        if not followers:
            self._followers.pop(follower.key, None)

    @property
    def open_pages(self) -> int:
        return sum(len(followers) for followers in self._followers.values())

    def publish(self, key: FollowKey, change: Change) -> None:
        for follower in self._followers.get(key, ()):
            follower.changes.append(change)
            follower.woken.set()


def change_of(message: aggregate_events_pb2.AggregateUpdated
              | aggregate_events_pb2.SpcSignalRaised) -> tuple[FollowKey, Change]:
    key = (message.measure_id, LEVEL_NAMES.get(message.level, ""), message.unit)
    return key, Change(message.stratum, message.period,
                       message.computed_at.ToMicroseconds() / 1e6)


class TopicFollower:
    """Reads the followed topics from their end and tells the hub what changed."""

    def __init__(self, bootstrap: str, hub: Hub) -> None:
        self._bootstrap = bootstrap
        self._hub = hub
        self.ready = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None

    async def run(self) -> None:
        # No group: every partition of the followed topics is this process's, read
        # from the end ("latest"), nothing committed.
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None,
                                          enable_auto_commit=False, auto_offset_reset="latest",
                                          client_id="mhin-web")
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap, acks="all",
                                          enable_idempotence=True, client_id="mhin-web")
        await self._consumer.start()
        await self._producer.start()
        try:
            self._consumer.subscribe(list(FOLLOWED))
            while {tp.topic for tp in self._consumer.assignment()} != set(FOLLOWED):
                await asyncio.sleep(ASSIGNMENT_POLL_SECONDS)  # the topics' metadata arrives
            for partition in self._consumer.assignment():  # resolve "latest" before ready
                await self._consumer.position(partition)
            self.ready.set()
            log.info("following %s from their end", ", ".join(FOLLOWED))
            async for record in self._consumer:
                await self._handle(record)
        finally:
            await self._consumer.stop()
            await self._producer.stop()

    async def _handle(self, record) -> None:
        try:
            event = event_from_record(record.topic, record.key, record.value, record.headers)
            message = event.decode(FOLLOWED[record.topic])
        except EnvelopeError as error:
            await self._dead_letter(record, str(error))
            return
        key, change = change_of(message)
        self._hub.publish(key, change)

    async def _dead_letter(self, record, reason: str) -> None:
        """What cannot be decoded goes to ``<topic>.dlq`` with the reason, as every
        platform consumer does; the follower then moves on."""
        log.warning("dead-lettering record %s:%s@%s: %s", record.topic, record.partition,
                    record.offset, reason)
        assert self._producer is not None
        await self._producer.send_and_wait(
            dead_letter_topic(record.topic), key=record.key, value=record.value,
            headers=dead_letter_headers(reason=reason, consumer=CONSUMER_NAME,
                                        topic=record.topic, partition=record.partition,
                                        offset=record.offset,
                                        original=list(record.headers or [])))
        DEAD_LETTERED.labels(record.topic).inc()
