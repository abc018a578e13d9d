"""The checker: recompute every aggregate from the observation log in one batch and
compare it with the latest record of each key on the aggregate topics.

The batch keeps the highest version of every cell and sums the cells afresh, with
none of the stream's machinery (no table, no deltas, no replays, no recovery), so it
catches any way the stream can go wrong under duplicates, corrections, reordering or
a crash. Sums are exact on both sides (``rollup.exact``), so "equal" means equal to
the last bit. It also reads every record ever published on the shared topic and
reports any figure there below the disclosure threshold.

    mhin-aggregator-check [--wait-seconds 60] [--json]

exits 0 when everything matches, 1 with the differences listed, 2 on bad
configuration. Configuration: the worker's ``MHIN_*`` variables (or options).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from google.protobuf.timestamp_pb2 import Timestamp
from kafka import KafkaConsumer, TopicPartition

from mhin.evaluation.v1 import measure_pb2
from mhin.evaluation.v1.aggregate_events_pb2 import AggregateUpdated
from mhin_aggregator.observations import Unusable, read_cell
from mhin_aggregator.publication import aggregate_updates
from mhin_aggregator.rollup import Cell, Rollup
from mhin_aggregator.settings import (
    AGGREGATE_TOPIC,
    OBSERVATION_TOPIC,
    RESTRICTED_AGGREGATE_TOPIC,
    AggregatorSettings,
)
from mhin_aggregator.suppression import table_marks
from mhin_measures import disclosure
from mhin_measures.complementary import SHOWN
from mhin_measures.rates import MeasureType
from mhin_platform.events.envelope import EnvelopeError, event_from_record
from mhin_platform.protoconv import enum_from_proto
from mhin_platform.settings import SettingsError, load_settings

_COMPARED = [f.name for f in AggregateUpdated.DESCRIPTOR.fields if f.name != "computed_at"]


@dataclass(frozen=True)
class Difference:
    """One aggregate that is not what the observation log says."""

    topic: str
    key: str
    problem: str
    """"missing", "unexpected" or "<field>: expected X, published Y"."""


@dataclass
class Report:
    observations: int = 0
    unusable: int = 0
    cells: int = 0
    aggregates: int = 0
    published: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    disclosure_breaches: list[str] = field(default_factory=list)
    """Shared records, at any offset, that show a figure the rule suppresses."""

    @property
    def ok(self) -> bool:
        return not self.differences and not self.disclosure_breaches


def check(settings: AggregatorSettings) -> Report:
    """Compare the aggregate topics with a batch recomputation (see module doc)."""
    servers = settings.kafka_bootstrap_servers
    report = Report()
    expected = recompute(read_topic(servers, settings.topic_name(OBSERVATION_TOPIC)), report)
    report.aggregates = sum(1 for total in expected.totals.values() if total.cells)
    restricted_topic = settings.topic_name(RESTRICTED_AGGREGATE_TOPIC)
    shared_topic = settings.topic_name(AGGREGATE_TOPIC)
    shared_records = list(read_topic(servers, shared_topic))
    published = {
        restricted_topic: latest_aggregates(read_topic(servers, restricted_topic)),
        shared_topic: latest_aggregates(iter(shared_records)),
    }
    report.published = {topic: len(latest) for topic, latest in published.items()}
    report.differences = compare(expected, settings.disclosure_threshold, published)
    report.disclosure_breaches = breaches(shared_records, settings.disclosure_threshold)
    return report


def recompute(records: Iterator, report: Report) -> Rollup:
    """The sums of the highest version of every cell in ``records``."""
    latest: dict[str, Cell] = {}
    for record in records:
        report.observations += 1
        try:
            cell = read_cell(record.topic, record.partition, record.key, record.value,
                             record.headers)
        except Unusable:
            report.unusable += 1
            continue
        if cell is not None and (cell.key not in latest
                                 or cell.version > latest[cell.key].version):
            latest[cell.key] = cell
    report.cells = len(latest)
    rollup = Rollup()
    rollup.add_all(latest.values())
    return rollup


def latest_aggregates(records: Iterator) -> dict[str, AggregateUpdated]:
    """The last AggregateUpdated of every key (a key lives in one partition, so the
    order within a partition decides)."""
    latest: dict[str, AggregateUpdated] = {}
    for record in records:
        latest[record.key.decode()] = _decode(record)
    return latest


def compare(expected: Rollup, threshold: int,
            published: dict[str, dict[str, AggregateUpdated]]) -> list[Difference]:
    """Differences between the recomputed aggregates and ``published``: the latest
    records of the restricted topic, then of the shared topic, by key."""
    (restricted_topic, restricted), (shared_topic, shared) = published.items()
    differences: list[Difference] = []
    epoch = Timestamp()
    patterns = {table: table_marks(expected, *table, threshold) for table in expected.tables}
    for key, total in expected.totals.items():
        if total.cells:
            marks = patterns[(key.measure_id, key.period)].get(key, SHOWN)
            want_restricted, want_shared = aggregate_updates(
                key, total, expected.measures[key.measure_id],
                marks=marks, computed_at=epoch)
            differences += _differ(restricted_topic, key.text, want_restricted,
                                   restricted.get(key.text))
            differences += _differ(shared_topic, key.text, want_shared, shared.get(key.text))
    expected_keys = {key.text for key, total in expected.totals.items() if total.cells}
    for topic, latest in published.items():
        differences += [
            Difference(topic, key, "unexpected")
            for key, message in latest.items()
            # a key whose cells all moved elsewhere is published with no cells
            if key not in expected_keys and message.observation_count
        ]
    return differences


def _differ(topic: str, key: str, want: AggregateUpdated,
            got: AggregateUpdated | None) -> list[Difference]:
    if got is None:
        return [Difference(topic, key, "missing")]
    return [
        Difference(topic, key, f"{name}: expected {getattr(want, name)!r}, "
                               f"published {getattr(got, name)!r}")
        for name in _COMPARED
        if getattr(want, name) != getattr(got, name)
    ]


def breaches(shared_records: list, threshold: int) -> list[str]:
    """Shared records showing figures that disclosure control would suppress."""
    found = []
    for record in shared_records:
        message = _decode(record)
        if message.suppressed:
            continue
        kind = enum_from_proto(MeasureType, measure_pb2.MeasureType,
                               message.measure_type, "measure_type")
        shown = disclosure.disclose(kind, message.numerator, message.denominator,
                                    threshold=threshold)
        if shown.suppressed:
            found.append(f"{record.key.decode()} at {record.partition}/{record.offset}: "
                         f"numerator {message.numerator:g}, denominator {message.denominator:g}")
    return found


def _decode(record) -> AggregateUpdated:
    try:
        event = event_from_record(record.topic, record.key, record.value, record.headers)
        return event.decode(AggregateUpdated)
    except EnvelopeError as exc:
        raise ValueError(f"{record.topic} {record.partition}/{record.offset}: {exc}") from None


def read_topic(bootstrap_servers: str, topic: str) -> Iterator:
    """Every record of ``topic`` from the beginning to its end when the read starts."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers.split(","),
                             enable_auto_commit=False, client_id="mhin-aggregator-check")
    try:
        partitions = [TopicPartition(topic, p)
                      for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            raise ValueError(f"topic {topic!r} does not exist")
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = {tp: end for tp, end in consumer.end_offsets(partitions).items() if end}
        while any(consumer.position(tp) < end for tp, end in ends.items()):
            for batch in consumer.poll(timeout_ms=500, max_records=10_000).values():
                for record in batch:
                    if record.offset < ends[TopicPartition(record.topic, record.partition)]:
                        yield record
    finally:
        consumer.close()


def lag(settings: AggregatorSettings) -> int:
    """Observation records the worker group has not yet committed as processed."""
    topic = settings.topic_name(OBSERVATION_TOPIC)
    # a consumer of the group that never subscribes reads its offsets without joining
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
                             group_id=settings.consumer_group, enable_auto_commit=False,
                             client_id="mhin-aggregator-check")
    try:
        partitions = [TopicPartition(topic, p)
                      for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return sum(end - (consumer.committed(tp) or 0)
                   for tp, end in consumer.end_offsets(partitions).items())
    finally:
        consumer.close()


def wait_until_caught_up(settings: AggregatorSettings, timeout: float) -> int:
    """Wait until the worker group has committed every observation (or ``timeout``
    seconds pass); return the lag left."""
    deadline = time.monotonic() + timeout
    while (remaining := lag(settings)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return remaining


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="mhin-aggregator-check",
        description="Recompute every aggregate from the observation log and compare it "
        "with the aggregate topics. Configured like the worker (MHIN_* variables).",
    )
    parser.add_argument("--bootstrap-servers", help="default: $MHIN_KAFKA_BOOTSTRAP_SERVERS")
    parser.add_argument("--topic-prefix", help="default: $MHIN_TOPIC_PREFIX")
    parser.add_argument("--wait-seconds", type=float, default=0.0,
                        help="first wait up to this long for the workers to catch up")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    overrides = {name: value for name, value in (
        ("kafka_bootstrap_servers", args.bootstrap_servers),
        ("topic_prefix", args.topic_prefix)) if value is not None}
    try:
        settings = load_settings(AggregatorSettings, **overrides)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    if args.wait_seconds and (left := wait_until_caught_up(settings, args.wait_seconds)):
        print(f"warning: the workers still have {left} observations to process",
              file=sys.stderr)
    report = check(settings)
    if args.json:
        print(json.dumps(dataclasses.asdict(report) | {"ok": report.ok}, indent=2))
    else:
        _print(report)
    sys.exit(0 if report.ok else 1)


def _print(report: Report, limit: int = 50) -> None:
    print(f"{report.observations} observation records ({report.unusable} unusable), "
          f"{report.cells} cells, {report.aggregates} aggregates recomputed")
    for topic, count in report.published.items():
        print(f"{topic}: {count} keys published")
    for difference in report.differences[:limit]:
        print(f"DIFFERENT {difference.topic} {difference.key}: {difference.problem}")
    for breach in report.disclosure_breaches[:limit]:
        print(f"DISCLOSED {breach}")
    hidden = max(0, len(report.differences) - limit) + max(
        0, len(report.disclosure_breaches) - limit)
    if hidden:
        print(f"... and {hidden} more (--json lists all)")
    print("OK: the aggregates equal the recomputation" if report.ok else
          f"FAILED: {len(report.differences)} differences, "
          f"{len(report.disclosure_breaches)} disclosure breaches")


if __name__ == "__main__":
    main()
