"""The faust aggregator as the benchmarks run it: its own process (``mhin-aggregator``,
as deployed), by default on topics of its own under a fresh prefix with a fresh
consumer group, so every run starts from empty state.

What it did is read back from the broker, never from inside the worker: its
consumer group's committed offsets, and the timestamps of what it wrote.
"""

from __future__ import annotations

import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from mhin_bench.context import BenchContext, BenchError
from mhin_bench.observations import end_offsets
from mhin_bench.process import ServiceProcess
from mhin_platform.events.dead_letter import dead_letter_topic
from mhin_platform.events.topics import ensure_topics


class AggregatorWorker(ServiceProcess):
    def __init__(self, context: BenchContext, name: str, *, own_topics: bool = True) -> None:
        from mhin_aggregator.settings import AggregatorSettings

        tag = f"{name}-{uuid.uuid4().hex[:6]}"
        folder = context.folder(f"aggregator/{tag}")
        settings = {
            "kafka_bootstrap_servers": context.bootstrap,
            "topic_prefix": f"bench-{tag}." if own_topics else "",
            "consumer_group": f"bench-{tag}",
            "data_dir": str(folder / "data"),
            "log_level": "WARNING",
        }
        super().__init__("mhin-aggregator", settings, folder / "worker.log")
        self.context = context
        self.group = settings["consumer_group"]
        self.settings = AggregatorSettings(**settings)
        ensure_topics(context.bootstrap, self.settings.topic_specs(), replication_factor=1)

    def topic(self, declared: str) -> str:
        return self.settings.topic_name(declared)

    def wait_until_committed(self, topic: str, offsets: dict[int, int], timeout: float,
                             after_first_write_to: tuple[str, float] | None = None) -> None:
        """Until the worker has committed ``offsets`` (all it was given) on ``topic`` or,
        with ``after_first_write_to=(topic, seconds)``, until ``seconds`` have passed
        since its first write to that topic; ``timeout`` bounds the wait for either."""
        wanted, deadline = sum(offsets.values()), time.monotonic() + timeout
        first_write: float | None = None
        admin = KafkaAdminClient(bootstrap_servers=self.context.bootstrap)
        try:
            while (done := self._committed(admin, topic)) < wanted:
                self.check_alive()
                now = time.monotonic()
                if after_first_write_to and first_write is None and sum(
                        end_offsets(self.context.bootstrap, after_first_write_to[0]).values()):
                    first_write, deadline = now, now + after_first_write_to[1]
                if now > deadline:
                    if first_write is not None:
                        return
                    raise BenchError(f"the aggregator committed {done} of {wanted} records "
                                     f"in {timeout:.0f} s; log in {self.log}")
                time.sleep(0.2)
        finally:
            admin.close()

    def _committed(self, admin: KafkaAdminClient, topic: str) -> int:
        try:
            offsets = admin.list_group_offsets([self.group]).get(self.group, {})
        except KafkaError as exc:  # the coordinator moves or loads in the group's first moments
            if not exc.retriable:
                raise
            return 0
        return sum(max(meta.offset, 0) for tp, meta in offsets.items() if tp.topic == topic)

    def check_nothing_dead_lettered(self, observation_topic: str) -> None:
        dead = sum(end_offsets(self.context.bootstrap, dead_letter_topic(observation_topic))
                   .values())
        if dead:
            raise BenchError(f"the aggregator dead-lettered {dead} benchmark observations")


def record_times(bootstrap: str, topic: str) -> list[float]:
    """The timestamps (seconds) of every record on ``topic``, in no particular order."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             consumer_timeout_ms=2000, auto_offset_reset="earliest")
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        ends = {tp: offset for tp, offset in consumer.end_offsets(partitions).items()}
        times: list[float] = []
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for records in consumer.poll(timeout_ms=1000, max_records=50_000).values():
                times += [record.timestamp / 1000 for record in records]
        return times
    finally:
        consumer.close()
