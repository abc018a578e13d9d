"""A broker outage never stops a consumer: on a private broker that the test kills with
SIGKILL between applying a batch and committing its offsets, the consumer rides the
outage out, commits nothing it has not applied, and once the broker is back applies
every event exactly once (a poison record among them still reaches the dead-letter
topic)."""

from __future__ import annotations

import logging
import threading

import pytest
from google.protobuf.wrappers_pb2 import Int64Value
from kafka import KafkaConsumer
from ledger import apply_deposit as deposit_effect
from ledger import balance, open_ledger

from mhin_devkit.harness import eventually
from mhin_platform.events.consumer import EventConsumer, Handler
from mhin_platform.events.dead_letter import dead_letter_topic
from mhin_platform.events.envelope import new_event
from mhin_platform.events.producer import create_producer, publish
from mhin_platform.events.topics import TopicSpec, ensure_topics

pytestmark = pytest.mark.integration




def ledger_topic(bootstrap: str) -> str:
    spec = TopicSpec(name="test.outage.ledger", writer="tests", readers=("tests",),
                     partitions=3, cleanup_policy="delete", retention_ms=-1, dlq=True,
                     description="the outage test's ledger events", configs={})
    ensure_topics(bootstrap, [spec], replication_factor=1)
    return spec.name


def deposits(topic: str, amounts: range) -> list:
    return [new_event(topic=topic, key=f"acct-{amount % 3}", source="/tests/outage",
                      message=Int64Value(value=amount)) for amount in amounts]


def dead_letters(bootstrap: str, topic: str) -> list:
    reader = KafkaConsumer(dead_letter_topic(topic), bootstrap_servers=bootstrap,
                           auto_offset_reset="earliest", enable_auto_commit=False,
                           consumer_timeout_ms=3_000)
    try:
        return list(reader)
    finally:
        reader.close()


def test_a_consumer_rides_out_a_broker_killed_between_apply_and_commit(
        outage_broker, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="mhin_platform.events.consumer")
    bootstrap = outage_broker.bootstrap_servers
    topic = ledger_topic(bootstrap)
    ledger = open_ledger(f"sqlite:///{tmp_path}/ledger.db")
    killed = threading.Event()

    def apply_then_crash_the_broker(session, event, message):
        deposit_effect(session, event, message)
        if message.value == 5 and not killed.is_set():
            outage_broker.kill()  # after the effect, before the offsets are committed
            killed.set()

    producer = create_producer(bootstrap, client_id="outage-test")
    consumer = EventConsumer(
        name="ledger-through-an-outage", database=ledger, bootstrap_servers=bootstrap,
        topics=[topic], handlers=[Handler(Int64Value, apply_then_crash_the_broker)],
        producer=producer)
    before = deposits(topic, range(1, 11))
    publish(producer, before)
    consumer.start()
    try:
        eventually(killed.is_set, "the handler to kill the broker")
        eventually(lambda: "offset commit failed" in caplog.text,
                   "the consumer to find it cannot commit")
        assert consumer.healthy, consumer.failure
        outage_broker.restart()

        poison = new_event(topic=topic, key="acct-0", source="/tests/outage",
                           message=Int64Value(value=-1))  # refused by the ledger's rule
        after = deposits(topic, range(11, 21))
        publish(producer, [poison, *after])
        expected = {f"acct-{i}": sum(a for a in range(1, 21) if a % 3 == i) for i in range(3)}
        eventually(lambda: all(balance(ledger, acct) == total
                               for acct, total in expected.items()),
                   f"balances {expected}")
        assert consumer.healthy, consumer.failure
        letters = eventually(lambda: dead_letters(bootstrap, topic), "the poison record")
    finally:
        consumer.stop()
        producer.close(timeout=5)
    assert [letter.value for letter in letters] == [poison.data]
    assert {acct: balance(ledger, acct) for acct in expected} == expected
