"""The commands docs/operations.md gives for replaying a topic and for dead letters,
taken from the page and run as written (the broker, group and topic replaced, and
the inspection told where to stop) against a real broker."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.wrappers_pb2 import Int64Value
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from mhin_devkit.kafka_broker import find_java
from mhin_platform.events.dead_letter import dead_letter_headers, dead_letter_topic
from mhin_platform.events.envelope import new_event
from mhin_platform.events.producer import create_producer, publish

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "operations.md"


def shell_block(*needles: str) -> str:
    """The one ```sh block of the guide that contains every needle."""
    blocks = re.findall(r"```sh\n(.*?)```", GUIDE.read_text(), re.S)
    (block,) = [block for block in blocks if all(needle in block for needle in needles)]
    return block


def documented_command(*needles: str, **options: str) -> list[str]:
    """A documented `java ...` command, with the values of some --options replaced."""
    words = shlex.split(shell_block(*needles).replace("\\\n", " "))
    assert words[0] == "java"
    for option, value in options.items():
        words[words.index("--" + option.replace("_", "-")) + 1] = value
    return [find_java(), *words[1:]]


def read_all(bootstrap: str, topic: str) -> list:
    """Every record now on ``topic`` (all its partitions, up to their current end)."""
    reader = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic)]
    reader.assign(partitions)
    reader.seek_to_beginning()
    end = reader.end_offsets(partitions)
    records = []
    while any(reader.position(partition) < end[partition] for partition in partitions):
        for batch in reader.poll(timeout_ms=1000).values():
            records += batch
    reader.close()
    return records


def publish_numbers(bootstrap: str, topic: str, count: int) -> None:
    producer = create_producer(bootstrap, client_id="operations-doc-test")
    publish(producer, [new_event(topic=topic, key=str(n), source="/operations-doc",
                                 message=Int64Value(value=n)) for n in range(count)])
    producer.close()


def test_the_documented_offset_reset_replays_a_topic(kafka_bootstrap, new_topic):
    topic = new_topic(partitions=2)
    group = f"operations-doc.{topic}"
    publish_numbers(kafka_bootstrap, topic, 6)
    consumer = KafkaConsumer(topic, group_id=group, bootstrap_servers=kafka_bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False)
    consumed = 0
    while consumed < 6:
        consumed += sum(len(batch) for batch in consumer.poll(timeout_ms=1000).values())
    consumer.commit()
    consumer.close()  # offsets can be reset only while the group has no members
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    assert sum(o.offset for o in admin.list_group_offsets(group)[group].values()) == 6

    reset = documented_command("ConsumerGroupCommand", "--reset-offsets",
                               bootstrap_server=kafka_bootstrap, group=group, topic=topic)
    result = subprocess.run(reset, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

    offsets = admin.list_group_offsets(group)[group]
    admin.close()
    assert {partition.topic for partition in offsets} == {topic}
    assert [o.offset for o in offsets.values()] == [0, 0]


def test_the_documented_inspection_shows_why_a_record_was_dead_lettered(kafka_bootstrap,
                                                                        new_topic):
    source = new_topic(dlq=True)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    producer.send(dead_letter_topic(source), key=b"need-1", value=b"\x08\x01",
                  headers=dead_letter_headers(reason="data: not a valid Need", consumer="c.x",
                                              topic=source, partition=0, offset=41))
    producer.flush()
    producer.close()
    # it stops at the one record written here, however long the first fetch takes
    inspect = documented_command("ConsoleConsumer", bootstrap_server=kafka_bootstrap,
                                 topic=dead_letter_topic(source), timeout_ms="60000")
    inspect += ["--max-messages", "1"]
    result = subprocess.run(inspect, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "dlq_reason:data: not a valid Need" in result.stdout, result.stderr
    assert f"dlq_source_topic:{source}" in result.stdout


def test_the_documented_redrive_returns_one_consumers_dead_letters_to_their_topic(
        kafka_bootstrap, new_topic):
    source = new_topic(dlq=True)
    original = [("ce_id", b"event-7"), ("ce_type", b"mhin.needs.v1.NeedSubmitted")]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    for consumer, key in (("catalogue.needs", b"need-7"), ("someone.else", b"need-8")):
        producer.send(dead_letter_topic(source), key=key, value=b"\x08\x07",
                      headers=dead_letter_headers(reason="bad", consumer=consumer, topic=source,
                                                  partition=0, offset=7, original=original))
    producer.flush()
    producer.close()

    block = shell_block("re-drove")
    first_line, _, rest = block.partition("\n")
    script = rest[: rest.rindex("EOF")]
    assert shlex.split(first_line)[:2] == ["python", "-"]
    env = {**os.environ, "MHIN_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    result = subprocess.run(
        [sys.executable, "-", dead_letter_topic(source), "catalogue.needs"],
        input=script, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "re-drove 1 record(s)" in result.stdout

    (redriven,) = read_all(kafka_bootstrap, source)
    assert (redriven.key, redriven.value) == (b"need-7", b"\x08\x07")
    assert redriven.headers == original
