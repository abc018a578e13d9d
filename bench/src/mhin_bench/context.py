"""What every benchmark is handed: the sizes to use and a context holding the suite's
private broker, a work folder, the Kafka tools and the shared observation events."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from mhin_bench import observations
from mhin_bench.observations import ObservationSet
from mhin_devkit.kafka_broker import LocalBroker, deploy_dir, ensure_jars, find_java, free_port
from mhin_platform.events.topics import TopicSpec, declared_topics, ensure_topics, topic


class BenchError(RuntimeError):
    """A benchmark could not measure what it set out to; the message says why."""


@dataclass(frozen=True)
class Sizes:
    runs: int  # runs per figure (min/median/max are taken over them)
    events: int  # observation events the stream benchmarks read
    aggregator_seconds: float  # longest the aggregator's rate is measured over, per run
    producer_records: int  # records Kafka's ProducerPerformance sends per run
    grpc_seconds: float  # measuring time per gRPC figure and run
    grpc_clients: tuple[int, ...]
    growth_rows: tuple[int, ...]  # rows stored at each step of the growth benchmark
    end_to_end_seconds: float  # load time per step of the end-to-end benchmark
    recovery_events: tuple[int, ...]  # events behind the changelog at each recovery step

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


FULL = Sizes(
    runs=3, events=100_000, aggregator_seconds=20.0, producer_records=200_000,
    grpc_seconds=2.0, grpc_clients=(1, 8, 32), growth_rows=(10_000, 100_000, 1_000_000),
    end_to_end_seconds=10.0, recovery_events=(2_000, 20_000),
)  # fmt: skip
QUICK = Sizes(
    runs=2, events=2_000, aggregator_seconds=2.0, producer_records=5_000, grpc_seconds=0.3,
    grpc_clients=(1, 4), growth_rows=(100, 1_000),
    end_to_end_seconds=1.0, recovery_events=(500,),
)  # fmt: skip


class BenchContext:
    def __init__(self, bootstrap: str, workdir: Path, sizes: Sizes, java: str,
                 jars: Path) -> None:
        self.bootstrap = bootstrap
        self.workdir = workdir
        self.sizes = sizes
        self.java = java
        self.jars = jars
        self.notes: dict[str, object] = {}  # settings benchmarks report for the record
        self._observations: ObservationSet | None = None

    def folder(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def observations(self) -> ObservationSet:
        """The observation events, produced on first use and shared by every benchmark."""
        if self._observations is None:
            self.create_topic(observations.TOPIC, topic(observations.SHAPED_LIKE).partitions)
            self._observations = observations.produce(self.bootstrap, self.sizes.events)
            self.notes["observation_events"] = self._observations.count
            self.notes["observation_record_bytes"] = self._observations.record_bytes
            self.notes["observation_produce_seconds"] = round(
                self._observations.produce_seconds, 1)
        return self._observations

    def fresh_platform_topics(self, timeout: float = 60.0) -> None:
        """Delete the declared topics and create them again, empty: a benchmark that
        runs the platform's processes on them then starts from nothing, not from the
        records (and a stream processor's changelog) an earlier benchmark left."""
        from kafka import KafkaAdminClient

        names = {spec.name for spec in declared_topics()}  # the dead-letter topics too
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="mhin-bench")
        try:
            existing = names & set(admin.list_topics())
            if existing:
                admin.delete_topics(sorted(existing))
            deadline = time.monotonic() + timeout
            while names & set(admin.list_topics()):
                if time.monotonic() > deadline:
                    raise BenchError("the declared topics were not deleted within "
                                     f"{timeout:.0f} s")
                time.sleep(0.2)
        finally:
            admin.close()
        ensure_topics(self.bootstrap, replication_factor=1)

    def create_topic(self, name: str, partitions: int) -> str:
        spec = TopicSpec(name=name, writer="bench", readers=("bench",), partitions=partitions,
                         cleanup_policy="delete", retention_ms=-1, dlq=False,
                         description="benchmark topic")
        ensure_topics(self.bootstrap, [spec], replication_factor=1)
        return name

    def kafka_tool(self, main_class: str, *args: str, timeout: float = 600.0) -> str:
        """Run one of Kafka's own tools on the broker's classpath; its stdout."""
        command = [
            self.java, "-Xmx512m",
            f"-Dlog4j2.configurationFile={deploy_dir() / 'log4j2.properties'}",
            "-cp", f"{self.jars}/*", main_class, *args,
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise BenchError(f"{main_class} exited {result.returncode}:\n"
                             + (result.stdout + result.stderr)[-3000:])
        return result.stdout


@contextlib.contextmanager
def bench_context(sizes: Sizes) -> Iterator[BenchContext]:
    """A private broker on free ports (never the one on 9092) with the declared topics."""
    java, jars = find_java(), ensure_jars(quiet=True)
    with tempfile.TemporaryDirectory(prefix="mhin-bench-") as folder:
        workdir = Path(folder)
        broker = LocalBroker(jars=jars, heap="1g", die_with_parent=True)
        broker.start(free_port(), free_port(), data_dir=workdir / "kafka",
                     log_file=workdir / "kafka.log", timeout=120.0)
        try:
            ensure_topics(broker.bootstrap_servers, replication_factor=1)
            yield BenchContext(broker.bootstrap_servers, workdir, sizes, java, jars)
        finally:
            broker.stop()
