"""The limit: Kafka's own ProducerPerformance and ConsumerPerformance (kafka-tools)
on this broker, with records shaped like the observation events.

The producer writes records of the observation events' size (key + value + headers,
measured) to a 6-partition topic with the platform producer's settings (acks=all,
idempotent, linger 2 ms); the consumer reads the observation events themselves. The
consumer's rate is its fetch rate (group join excluded), as the Python loops are
timed from their first record.
"""

from __future__ import annotations

import re
import uuid

from mhin_bench.context import BenchContext, BenchError, Sizes
from mhin_bench.figures import Figure
from mhin_bench.observations import SHAPED_LIKE, ObservationSet
from mhin_platform.events.topics import topic

PRODUCER = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER = "org.apache.kafka.tools.ConsumerPerformance"
PRODUCER_TOPIC = "bench.limit.observation-shaped"
PRODUCER_SETTINGS = ("acks=all", "enable.idempotence=true", "linger.ms=2")
# Its statistics line starts with two times (its log lines sit around it on stdout).
STATS_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:]+, \d{4}-")


def producer_rate(context: BenchContext, records: int, record_size: int) -> float:
    output = context.kafka_tool(
        PRODUCER, "--bootstrap-server", context.bootstrap, "--topic", PRODUCER_TOPIC,
        "--num-records", str(records), "--record-size", str(record_size),
        "--throughput", "-1", "--command-property", *PRODUCER_SETTINGS,
    )  # fmt: skip
    summaries = [line for line in output.splitlines() if f"{records} records sent" in line]
    match = re.search(r"([\d.]+) records/sec", summaries[-1]) if summaries else None
    if match is None:
        raise BenchError(f"no summary line in ProducerPerformance's output:\n{output[-2000:]}")
    return float(match.group(1))


def consumer_rate(context: BenchContext, events: ObservationSet) -> float:
    """Records/s of ConsumerPerformance reading the observation events from the start."""
    output = context.kafka_tool(
        CONSUMER, "--bootstrap-server", context.bootstrap, "--topic", events.topic,
        "--num-records", str(events.count), "--timeout", "60000",
        "--group", f"bench-limit-{uuid.uuid4().hex[:8]}",
    )  # fmt: skip
    header = next((line for line in output.splitlines() if line.startswith("start.time")), "")
    data = [line for line in output.splitlines() if STATS_LINE.match(line)]
    if not header or not data:
        raise BenchError(f"no statistics in ConsumerPerformance's output:\n{output[-2000:]}")
    row = dict(zip([h.strip() for h in header.split(",")],
                   [v.strip() for v in data[-1].split(",")], strict=True))
    if int(row["data.consumed.in.nMsg"]) < events.count:
        raise BenchError(f"ConsumerPerformance read {row['data.consumed.in.nMsg']} "
                         f"of {events.count} records")
    return float(row["fetch.nMsg.sec"])


def run(context: BenchContext, sizes: Sizes) -> list[Figure]:
    events = context.observations()
    context.create_topic(PRODUCER_TOPIC, topic(SHAPED_LIKE).partitions)
    produced = [producer_rate(context, sizes.producer_records, events.record_bytes)
                for _ in range(sizes.runs)]
    consumed = [consumer_rate(context, events) for _ in range(sizes.runs)]
    size_note = f"{events.record_bytes}-byte records (an observation event with its headers)"
    return [
        Figure("ProducerPerformance", "records/s", produced,
               note=f"{sizes.producer_records:,} {size_note}, {', '.join(PRODUCER_SETTINGS)}"),
        Figure("ConsumerPerformance", "records/s", consumed,
               note=f"{events.count:,} observation events, fetch rate"),
    ]
