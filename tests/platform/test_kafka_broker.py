"""The Kafka broker the tests run against (the ``kafka_bootstrap`` fixture: here the
local broker from the Maven jars) speaks plain Kafka to a non-Python client (kcat)
and to both Python clients, never auto-creates a topic, and the topic tool creates
declared topics idempotently with their configs."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaTimeoutError

from mhin_devkit.kafka_broker import (
    BrokerError,
    LocalBroker,
    bootstrap_addresses,
    broker_answers,
    free_port,
)
from mhin_platform.events.topics import (
    TopicMismatchError,
    TopicSpec,
    declared_topics,
    ensure_topics,
)

pytestmark = pytest.mark.integration


def kcat() -> str:
    path = shutil.which("kcat") or shutil.which("kafkacat")
    if path is None:
        pytest.fail("kcat is not installed (Debian/Ubuntu: apt-get install kcat); "
                    "this test proves a non-Python client can use the broker", pytrace=False)
    return path


def consume(bootstrap: str, topic: str, expected: int, timeout_s: float = 15.0) -> list:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
    )
    records: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
    finally:
        consumer.close()
    return records


def topic_configs(bootstrap: str, name: str) -> dict[str, str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        result = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name)], config_filter="all"
        )
    finally:
        admin.close()
    return {key: entry["value"] for key, entry in result["topic"][name].items()}


def partition_count(bootstrap: str, name: str) -> int:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        [info] = admin.describe_topics([name])
    finally:
        admin.close()
    return len(info["partitions"])


# --------------------------------------------------------------------------- clients


def test_kcat_produces_and_consumes(kafka_bootstrap, new_topic):
    topic = new_topic(3)
    lines = "".join(f"need-{i}:payload {i}\n" for i in range(5))
    subprocess.run(
        [kcat(), "-b", kafka_bootstrap, "-P", "-t", topic, "-K", ":"],
        input=lines, text=True, check=True, timeout=30,
    )
    out = subprocess.run(
        [kcat(), "-b", kafka_bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
         "-f", "%k=%s\\n"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout
    assert sorted(out.splitlines()) == [f"need-{i}=payload {i}" for i in range(5)]
    # and what kcat wrote, a Python client reads
    records = consume(kafka_bootstrap, topic, expected=5)
    assert sorted((r.key, r.value) for r in records) == [
        (f"need-{i}".encode(), f"payload {i}".encode()) for i in range(5)
    ]


def test_kcat_reads_what_kafka_python_wrote_with_headers(kafka_bootstrap, new_topic):
    topic = new_topic()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all",
                             enable_idempotence=True)
    producer.send(topic, key=b"n1", value=b"\x08\x01",
                  headers=[("ce_type", b"mhin.needs.v1.NeedSubmitted"),
                           ("content-type", b"application/protobuf")]).get(timeout=10)
    producer.close()
    out = subprocess.run(
        [kcat(), "-b", kafka_bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
         "-f", "%k|%h\\n"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()
    assert out == "n1|ce_type=mhin.needs.v1.NeedSubmitted,content-type=application/protobuf"


def test_kafka_python_round_trip(kafka_bootstrap, new_topic):
    topic = new_topic(3)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all",
                             enable_idempotence=True)
    for i in range(20):
        producer.send(topic, key=f"k{i % 4}".encode(), value=str(i).encode(),
                      headers=[("ce_id", f"id-{i}".encode())])
    producer.flush(timeout=10)
    producer.close()
    records = consume(kafka_bootstrap, topic, expected=20)
    assert len(records) == 20
    by_key: dict[bytes, list[int]] = {}
    for record in records:
        by_key.setdefault(record.key, []).append(int(record.value))
        assert dict(record.headers)["ce_id"] == f"id-{int(record.value)}".encode()
    # one key, one partition: a key's events arrive in the order they were sent
    assert all(values == sorted(values) for values in by_key.values())
    assert len({(r.key, r.partition) for r in records}) == 4


async def test_aiokafka_round_trip(kafka_bootstrap, new_topic):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = new_topic(3)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, key=b"obs", value=str(i).encode())
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap,
                                group_id=f"test-{uuid.uuid4().hex[:8]}",
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        values = []
        async with asyncio.timeout(15):
            async for record in consumer:
                values.append(int(record.value))
                if len(values) == 10:
                    break
    finally:
        await consumer.stop()
    assert values == list(range(10))


# --------------------------------------------------------------------------- topics


def test_an_undeclared_topic_is_not_auto_created(kafka_bootstrap):
    name = f"test.undeclared.{uuid.uuid4().hex[:10]}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_block_ms=1_000)
    try:
        with pytest.raises(KafkaTimeoutError):
            producer.send(name, b"lost?").get(timeout=5)
    finally:
        producer.close(timeout=1)
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)  # asking does not create it
    try:
        assert consumer.partitions_for_topic(name) in (None, set())
    finally:
        consumer.close()
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        assert name not in admin.list_topics()
    finally:
        admin.close()


def test_ensure_topics_is_idempotent_and_applies_configs(kafka_bootstrap):
    name = f"test.aggregate.{uuid.uuid4().hex[:10]}"
    spec = TopicSpec(name=name, writer="tests", readers=("tests",), partitions=2,
                     cleanup_policy="compact", retention_ms=-1, dlq=True,
                     description="a compacted topic with a dead-letter topic",
                     configs={"min.cleanable.dirty.ratio": "0.1"})

    assert ensure_topics(kafka_bootstrap, [spec]) == {name: "created", f"{name}.dlq": "created"}
    assert ensure_topics(kafka_bootstrap, [spec]) == {name: "exists", f"{name}.dlq": "exists"}

    configs = topic_configs(kafka_bootstrap, name)
    assert configs["cleanup.policy"] == "compact"
    assert configs["retention.ms"] == "-1"
    assert configs["min.cleanable.dirty.ratio"] == "0.1"
    assert partition_count(kafka_bootstrap, name) == 2
    dead = topic_configs(kafka_bootstrap, f"{name}.dlq")
    assert dead["cleanup.policy"] == "delete"
    assert partition_count(kafka_bootstrap, f"{name}.dlq") == 1

    changed = spec.model_copy(update={"partitions": 4})
    with pytest.raises(TopicMismatchError, match=f"{name} has 2 partitions, declared 4"):
        ensure_topics(kafka_bootstrap, [changed])


def test_declared_topics_exist_with_their_settings(kafka_bootstrap, declared_topics_created):
    names = {spec.name for spec in declared_topics()}
    assert set(declared_topics_created) == names
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        assert names <= set(admin.list_topics())
    finally:
        admin.close()
    assert partition_count(kafka_bootstrap, "mhin.evaluation.observation") == 6
    aggregate = topic_configs(kafka_bootstrap, "mhin.evaluation.aggregate")
    assert aggregate["cleanup.policy"] == "compact"
    assert topic_configs(kafka_bootstrap, "mhin.needs.need")["retention.ms"] == "-1"
    # a second run changes nothing
    assert set(ensure_topics(kafka_bootstrap).values()) == {"exists"}


# --------------------------------------------------------------------------- launcher


def test_the_launcher_refuses_a_port_in_use(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BrokerError, match=f"127.0.0.1:{port} is already in use"):
            LocalBroker().start(port, free_port(), data_dir=tmp_path / "data",
                                log_file=tmp_path / "broker.log", timeout=5)


def test_several_bootstrap_servers_are_read_as_pairs():
    assert bootstrap_addresses("a:9092, b.example:9093,[::1]:9094") == [
        ("a", 9092), ("b.example", 9093), ("::1", 9094)]
    with pytest.raises(ValueError, match="'b' is not host:port"):
        bootstrap_addresses("a:9092,b")


def test_a_broker_answers_when_one_of_several_bootstrap_servers_does(kafka_bootstrap):
    nobody = f"127.0.0.1:{free_port()}"
    assert broker_answers(f"{nobody},{kafka_bootstrap}")
    assert not broker_answers(nobody, timeout=1.0)
