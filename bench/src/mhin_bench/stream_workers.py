"""Benchmark of the stream workers on a real broker (not a test: it measures).

Two runs, each on a fresh set of topics and a fresh consumer group:

1. throughput: N observations are published first, then the workers start; the
   rate is N over the time between the first and the last aggregate the workers
   publish on the restricted topic (broker timestamps), so start-up does not count.
   The workers' CPU time is read from /proc.
2. latency: the workers run, observations are published at a steady rate, and for
   each one the time from the broker acknowledging it to its site aggregate arriving
   on the restricted topic is measured here (one clock).

    .venv/bin/python -m mhin_bench.stream_workers \\
        --bootstrap-servers 127.0.0.1:9092 --observations 100000 --rate 10000

The load generator and the reader run in this process, on the same machine as the
workers and the broker: on a small machine they take CPU from the workers too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from mhin_aggregator.checker import lag
from mhin_aggregator.settings import (
    OBSERVATION_TOPIC,
    RESTRICTED_AGGREGATE_TOPIC,
    AggregatorSettings,
)
from mhin_devkit.kafka_broker import free_port
from mhin_devkit.synthetic import Observation, workload
from mhin_platform.events.topics import ensure_topics
from mhin_platform.events.topics import topic as declared_topic

TICK = 0.01  # the load generator publishes every 10 ms


class Workers:
    """K worker processes of one group on one prefix."""

    def __init__(self, bootstrap: str, count: int, folder: Path, **tuning: str) -> None:
        prefix = f"bench.{uuid.uuid4().hex[:8]}."
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MHIN_")},
            "MHIN_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "MHIN_TOPIC_PREFIX": prefix,
            "MHIN_CONSUMER_GROUP": prefix + "stream-processors",
            "MHIN_LOG_LEVEL": "WARNING",
            **{f"MHIN_{name.upper()}": value for name, value in tuning.items()},
        }
        self.settings = AggregatorSettings(
            kafka_bootstrap_servers=bootstrap, topic_prefix=prefix,
            consumer_group=prefix + "stream-processors",
        )
        ensure_topics(bootstrap, self.settings.topic_specs(), replication_factor=1)
        self.count, self.folder = count, folder
        self.processes: list[subprocess.Popen[bytes]] = []
        self.metrics_ports = [free_port() for _ in range(count)]

    def start(self) -> None:
        for n in range(self.count):
            env = {**self.env, "MHIN_INSTANCE_ID": f"bench-{n}",
                   "MHIN_DATA_DIR": str(self.folder / f"worker-{n}"),
                   "MHIN_METRICS_PORT": str(self.metrics_ports[n])}
            log = open(self.folder / f"worker-{n}.log", "ab")
            self.processes.append(subprocess.Popen(
                [sys.executable, "-m", "mhin_aggregator"], env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def cpu_seconds(self) -> float:
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for process in self.processes:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def metrics(self) -> dict[str, float]:
        """The workers' own time split, summed over workers (from /metrics)."""
        wanted = {
            "mhin_aggregator_batch_duration_seconds_sum": "agent_seconds",
            "mhin_aggregator_spc_seconds_total": "spc_seconds",
            "mhin_aggregator_spc_series_analysed_total": "series_analysed",
        }
        totals = dict.fromkeys(wanted.values(), 0.0)
        for port in self.metrics_ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
                for line in response.read().decode().splitlines():
                    name, _, value = line.partition(" ")
                    if name in wanted:
                        totals[wanted[name]] += float(value)
        return {name: round(value, 2) for name, value in totals.items()}

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def topic(self, declared: str) -> str:
        return self.settings.topic_name(declared)


def cells(count: int, seed: int) -> Iterator[Observation]:
    """``count`` observations of distinct cells (a backfill, month by month)."""
    sites = max(40, count // (36 * 24) + 1)
    return islice(workload(measures=10, sites=sites, months=24, seed=seed), count)


async def publish_all(bootstrap: str, topic: str, observations: list[Observation]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                                max_batch_size=262_144)
    await producer.start()
    try:
        deliveries = []
        for observation in observations:
            event = observation.event(topic)
            deliveries.append(await producer.send(topic, key=event.key.encode(),
                                                  value=event.data, headers=event.headers()))
        await asyncio.gather(*deliveries)
    finally:
        await producer.stop()


async def aggregate_timestamps(bootstrap: str, topic: str, expected_keys: set[str],
                               timeout: float) -> tuple[float, float, int]:
    """First and last broker timestamps (s) of records on ``topic`` until every key of
    ``expected_keys`` has been seen; and the number of records read."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        partitions = partitions_of(topic, RESTRICTED_AGGREGATE_TOPIC)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        first, last, records, missing = None, 0.0, 0, set(expected_keys)
        deadline = time.monotonic() + timeout
        while missing and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500, max_records=20_000)).values():
                for record in batch:
                    records += 1
                    stamp = record.timestamp / 1000
                    first = stamp if first is None else min(first, stamp)
                    last = max(last, stamp)
                    missing.discard(record.key.decode())
        if missing:
            raise RuntimeError(f"{len(missing)} aggregates never arrived within {timeout}s")
        return first or 0.0, last, records
    finally:
        await consumer.stop()


def partitions_of(topic: str, declared: str) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in range(declared_topic(declared).partitions)]


def site_key(observation: Observation) -> str:
    return f"{observation.measure_id}|site|{observation.site_id}|" \
           f"{observation.period}|{observation.stratum}"


def throughput(args: argparse.Namespace, folder: Path) -> dict[str, object]:
    workers = Workers(args.bootstrap_servers, args.workers, folder / "throughput",
                      **dict(args.setting))
    (folder / "throughput").mkdir()
    observations = list(cells(args.observations, seed=1))
    began = time.monotonic()
    asyncio.run(publish_all(args.bootstrap_servers, workers.topic(OBSERVATION_TOPIC),
                            observations))
    produced_in = time.monotonic() - began
    workers.start()
    try:
        first, last, records = asyncio.run(aggregate_timestamps(
            args.bootstrap_servers, workers.topic(RESTRICTED_AGGREGATE_TOPIC),
            {site_key(o) for o in observations}, timeout=args.timeout))
        while lag(workers.settings):
            time.sleep(0.2)
        cpu = workers.cpu_seconds()
        split = workers.metrics()
    finally:
        workers.stop()
    seconds = last - first
    return {
        "observations": len(observations),
        "published_in_seconds": round(produced_in, 2),
        "aggregate_records": records,
        "seconds": round(seconds, 2),
        "observations_per_second": round(len(observations) / seconds) if seconds else None,
        "worker_cpu_seconds": round(cpu, 2),
        "observations_per_worker_cpu_second": round(len(observations) / cpu) if cpu else None,
        **split,
    }


async def steady_load(bootstrap: str, topic: str, restricted: str,
                      observations: list[Observation], rate: int) -> list[float]:
    """Publish ``observations`` at ``rate``/s; return each one's latency (s) from the
    broker's acknowledgement to its site aggregate on ``restricted``."""
    acked: dict[str, float] = {}
    seen: dict[str, float] = {}
    wanted = {site_key(o) for o in observations}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                group_id=None, fetch_max_wait_ms=5)
    await consumer.start()
    partitions = partitions_of(restricted, RESTRICTED_AGGREGATE_TOPIC)
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()

    async def read() -> None:
        while len(seen) < len(wanted):
            for batch in (await consumer.getmany(timeout_ms=100)).values():
                now = time.monotonic()
                for record in batch:
                    key = record.key.decode()
                    if key in wanted and key not in seen:
                        seen[key] = now

    def on_ack(key: str):
        return lambda _: acked.setdefault(key, time.monotonic())

    reader = asyncio.ensure_future(read())
    per_tick = max(1, round(rate * TICK))
    start = time.monotonic()
    for tick, index in enumerate(range(0, len(observations), per_tick)):
        await asyncio.sleep(max(0.0, start + tick * TICK - time.monotonic()))
        for observation in observations[index:index + per_tick]:
            event = observation.event(topic)
            delivery = await producer.send(topic, key=event.key.encode(), value=event.data,
                                           headers=event.headers())
            delivery.add_done_callback(on_ack(site_key(observation)))
    await producer.flush()
    await asyncio.wait_for(reader, timeout=120)
    await producer.stop()
    await consumer.stop()
    return [seen[key] - acked[key] for key in wanted]


def latency(args: argparse.Namespace, folder: Path) -> dict[str, object]:
    (folder / "latency").mkdir()
    workers = Workers(args.bootstrap_servers, args.workers, folder / "latency",
                      **dict(args.setting))
    observations = list(cells(args.rate * args.seconds + 1, seed=2))
    workers.start()
    try:
        topic = workers.topic(OBSERVATION_TOPIC)
        restricted = workers.topic(RESTRICTED_AGGREGATE_TOPIC)
        # warm-up: one observation through, so the workers have joined and recovered
        asyncio.run(steady_load(args.bootstrap_servers, topic, restricted, observations[:1], 1))
        delays = sorted(asyncio.run(steady_load(args.bootstrap_servers, topic, restricted,
                                                observations[1:], args.rate)))
    finally:
        workers.stop()
    ms = [delay * 1000 for delay in delays]
    return {
        "rate_per_second": args.rate,
        "observations": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 1),
        "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 1),
        "max_ms": round(ms[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-servers",
                        default=os.environ.get("MHIN_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--observations", type=int, default=100_000,
                        help="observations for the throughput run (0: skip it)")
    parser.add_argument("--rate", type=int, default=10_000,
                        help="observations/s for the latency run (0: skip it)")
    parser.add_argument("--seconds", type=int, default=20, help="length of the latency run")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--work-dir", type=Path,
                        help="keep the workers' logs here (default: a temporary folder)")
    parser.add_argument("--setting", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"),
                        help="a worker setting, e.g. --setting batch_size 5000")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        folder = args.work_dir or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="mhin-bench-"))
        result: dict[str, object] = {"workers": args.workers, "settings": dict(args.setting),
                                     "load_average_before": os.getloadavg()}
        if args.observations:
            result["throughput"] = throughput(args, Path(folder))
        if args.rate:
            result["latency"] = latency(args, Path(folder))
        result["load_average_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
