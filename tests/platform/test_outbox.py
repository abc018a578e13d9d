"""Transactional outbox against a real broker and real databases (SQLite and
PostgreSQL): state and event commit together, and a crash never loses or
duplicates the event."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from google.protobuf.wrappers_pb2 import Int64Value
from kafka import KafkaConsumer
from ledger import add_amount, balance, deposit, open_ledger

from mhin_platform.events.envelope import event_from_record, new_event
from mhin_platform.events.outbox import OutboxRelay, add_to_outbox, pending_count
from mhin_platform.events.producer import create_producer

pytestmark = pytest.mark.integration

LEDGER_SCRIPT = Path(__file__).parents[1] / "support" / "ledger.py"


def read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 10.0) -> list:
    """Everything on ``topic``: polls until ``expected`` records arrived (or the
    timeout), then once more, so a duplicate right behind them is seen too."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    records: list = []
    deadline = time.monotonic() + timeout_s
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend(batch)
    for batch in consumer.poll(timeout_ms=1_500).values():
        records.extend(batch)
    consumer.close()
    return records


def test_state_and_event_commit_together(database_url, kafka_bootstrap, new_topic):
    topic = new_topic()
    ledger = open_ledger(database_url)
    producer = create_producer(kafka_bootstrap, client_id="test-outbox")

    event = deposit(ledger, topic, "acct-1", 10)
    with ledger.read() as session:
        assert pending_count(session) == 1
    assert OutboxRelay(ledger, producer).drain() == 1

    [record] = read_all(kafka_bootstrap, topic, expected=1)
    received = event_from_record(record.topic, record.key, record.value, record.headers)
    assert received.id == event.id
    assert record.key == b"acct-1"
    assert dict(record.headers)["ce_type"] == b"google.protobuf.Int64Value"
    assert dict(record.headers)["content-type"] == b"application/protobuf"
    with ledger.read() as session:
        assert pending_count(session) == 0
    assert balance(ledger, "acct-1") == 10
    producer.close()


def test_a_failed_transaction_publishes_nothing(database_url, kafka_bootstrap, new_topic):
    topic = new_topic()
    ledger = open_ledger(database_url)
    with pytest.raises(RuntimeError):
        with ledger.transaction() as session:
            add_amount(session, "acct-1", 5)
            add_to_outbox(session, new_event(topic=topic, key="acct-1", source="/t",
                                             message=Int64Value(value=5)))
            raise RuntimeError("business rule failed after the event was staged")
    producer = create_producer(kafka_bootstrap, client_id="test-outbox")
    assert OutboxRelay(ledger, producer).drain() == 0
    assert balance(ledger, "acct-1") is None
    assert read_all(kafka_bootstrap, topic, expected=0) == []
    producer.close()


def test_killed_after_commit_publishes_exactly_once_after_restart(
    database_url, kafka_bootstrap, new_topic
):
    topic = new_topic()
    process = subprocess.Popen(
        [sys.executable, str(LEDGER_SCRIPT), database_url, topic],
        stdout=subprocess.PIPE, text=True, env={**os.environ},
    )
    try:
        event_id = process.stdout.readline().strip()
        assert event_id, "the ledger process did not commit"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    assert read_all(kafka_bootstrap, topic, expected=0) == [], "published before restart"

    # "Restart": a new process opens the same database; its relay finds the row.
    ledger = open_ledger(database_url)
    producer = create_producer(kafka_bootstrap, client_id="test-outbox-restarted")
    relay = OutboxRelay(ledger, producer)
    assert relay.drain() == 1
    assert relay.drain() == 0, "a published row must not be published again"
    producer.close()

    records = read_all(kafka_bootstrap, topic, expected=1)
    ids = [event_from_record(r.topic, r.key, r.value, r.headers).id for r in records]
    assert ids == [event_id]
    assert balance(ledger, "acct-1") == 42


def test_relay_thread_publishes_promptly_and_in_order(database_url, kafka_bootstrap, new_topic):
    topic = new_topic()
    ledger = open_ledger(database_url)
    producer = create_producer(kafka_bootstrap, client_id="test-outbox")
    relay = OutboxRelay(ledger, producer, poll_interval=30.0)  # only a commit can wake it
    relay.start()
    try:
        sent = [deposit(ledger, topic, "acct-7", amount).id for amount in range(1, 21)]
        records = read_all(kafka_bootstrap, topic, expected=20)
    finally:
        relay.stop()
        producer.close()
    assert relay.healthy
    ids = [event_from_record(r.topic, r.key, r.value, r.headers).id for r in records]
    assert ids == sent
