"""A real stream worker for a test: its own topics and consumer group on the session
broker, the worker itself as a subprocess (``python -m mhin_aggregator``) that can
be stopped, killed with SIGKILL and started again."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from mhin_aggregator.checker import Report, check, lag
from mhin_aggregator.settings import OBSERVATION_TOPIC, AggregatorSettings
from mhin_devkit.synthetic import Observation
from mhin_platform.events.envelope import Event
from mhin_platform.events.producer import create_producer, publish
from mhin_platform.events.topics import ensure_topics
from mhin_platform.settings import load_settings

CATCH_UP_SECONDS = 240.0


class WorkerRun:
    """One worker group on its own topics; ``start``/``kill``/``stop`` its process."""

    def __init__(self, bootstrap: str, folder: Path, name: str) -> None:
        prefix = f"test.{name[:40]}.{uuid.uuid4().hex[:8]}."
        self.env = {
            **{key: value for key, value in os.environ.items() if not key.startswith("MHIN_")},
            "MHIN_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "MHIN_TOPIC_PREFIX": prefix,
            "MHIN_CONSUMER_GROUP": prefix + "stream-processors",
            "MHIN_INSTANCE_ID": "worker-1",
            "MHIN_DATA_DIR": str(folder / "data"),
            "MHIN_LOG_LEVEL": "INFO",
            "MHIN_BATCH_SIZE": "500",
        }
        self.settings = load_settings(AggregatorSettings, **{
            key.removeprefix("MHIN_").lower(): value
            for key, value in self.env.items() if key.startswith("MHIN_")
        })
        ensure_topics(bootstrap, self.settings.topic_specs(), replication_factor=1)
        self.log = folder / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._producer: KafkaProducer | None = None

    @property
    def observation_topic(self) -> str:
        return self.settings.topic_name(OBSERVATION_TOPIC)

    def event(self, observation: Observation) -> Event:
        """The ObservationRecorded event evaluation would publish on this run's topic."""
        return observation.event(self.observation_topic)

    def publish(self, events: Iterable[Event]) -> None:
        """Publish events in order (as they are: the same event twice is a duplicate
        delivery, like an outbox relay resending after a crash)."""
        if self._producer is None:
            self._producer = create_producer(self.settings.kafka_bootstrap_servers,
                                             client_id="tests", linger_ms=20)
        publish(self._producer, list(events))

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mhin_aggregator"], env=self.env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL: nothing flushed, nothing committed, nothing said."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def lag(self) -> int:
        return lag(self.settings)

    def commit_where_the_topic_ends(self) -> None:
        """Commit the (stopped) group's offset on every observation partition at the
        partition's end, as a new group placed at the present is: offset 0 on an empty
        partition."""
        bootstrap = self.settings.kafka_bootstrap_servers
        consumer = KafkaConsumer(bootstrap_servers=bootstrap)
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            partitions = [TopicPartition(self.observation_topic, partition) for partition
                          in consumer.partitions_for_topic(self.observation_topic)]
            ends = consumer.end_offsets(partitions)
            admin.alter_group_offsets(self.settings.consumer_group, {
                partition: OffsetAndMetadata(end, "", -1) for partition, end in ends.items()})
        finally:
            consumer.close()
            admin.close()

    def wait_for_lag_below(self, remaining: int, timeout: float = CATCH_UP_SECONDS) -> int:
        deadline = time.monotonic() + timeout
        while (left := self.lag()) > remaining:
            self._require_running()
            if time.monotonic() > deadline:
                raise AssertionError(f"{left} observations still unprocessed after "
                                     f"{timeout:.0f}s:\n" + self.tail())
            time.sleep(0.2)
        return left

    def logged(self, text: str) -> int:
        """How many times ``text`` appears in the worker's log (all its runs)."""
        return self.log.read_text(errors="replace").count(text) if self.log.exists() else 0

    def wait_for_log(self, text: str, count: int, timeout: float = CATCH_UP_SECONDS) -> None:
        """Wait until ``text`` appears ``count`` times in the worker's log."""
        deadline = time.monotonic() + timeout
        while self.logged(text) < count:
            self._require_running()
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged {count} times:\n" + self.tail())
            time.sleep(0.05)

    def checked(self) -> Report:
        """Wait until every observation is committed, run the checker and require
        the aggregates to equal its recomputation and the shared topic to be clean."""
        self.wait_for_lag_below(0)
        report = check(self.settings)
        problems = [f"{d.topic} {d.key}: {d.problem}" for d in report.differences[:20]]
        assert report.ok, "\n".join(problems + report.disclosure_breaches[:20])
        return report

    def _require_running(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the worker exited ({self.process.returncode}):\n"
                                 + self.tail())

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        self.stop()
        if self._producer is not None:
            self._producer.close()


@pytest.fixture
def worker_run(kafka_bootstrap: str, tmp_path: Path,
               request: pytest.FixtureRequest) -> Iterator[WorkerRun]:
    run = WorkerRun(kafka_bootstrap, tmp_path, _run_name(request))
    yield run
    run.close()


@pytest.fixture
def other_worker_run(kafka_bootstrap: str, tmp_path: Path,
                     request: pytest.FixtureRequest) -> Iterator[WorkerRun]:
    """A second worker group on topics of its own, for a test comparing two runs."""
    folder = tmp_path / "other"
    folder.mkdir()
    run = WorkerRun(kafka_bootstrap, folder, "other-" + _run_name(request))
    yield run
    run.close()


def _run_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())
