"""Idempotent consumer and dead-letter topic against a real broker and databases."""

from __future__ import annotations

import pytest
from google.protobuf.wrappers_pb2 import Int64Value, StringValue
from kafka import KafkaConsumer
from ledger import DEPOSIT_HANDLER, balance, open_ledger
from sqlalchemy import func, select

from mhin_platform.events.consumer import EventConsumer, Outcome
from mhin_platform.events.dead_letter import dead_letter_topic
from mhin_platform.events.envelope import new_event
from mhin_platform.events.producer import create_producer, publish
from mhin_platform.events.tables import processed_events

pytestmark = pytest.mark.integration


def consume_until_idle(consumer: EventConsumer, expected: int, max_polls: int = 100) -> int:
    kafka_consumer = consumer._create_kafka_consumer()
    seen = 0
    try:
        for _ in range(max_polls):
            seen += consumer.poll_once(kafka_consumer)
            if seen >= expected:
                break
    finally:
        kafka_consumer.close(autocommit=False)
    return seen


def make_consumer(name, ledger, bootstrap, topic, producer) -> EventConsumer:
    return EventConsumer(
        name=name, database=ledger, bootstrap_servers=bootstrap, topics=[topic],
        handlers=[DEPOSIT_HANDLER], producer=producer,
    )


def test_same_event_delivered_twice_changes_state_once(database_url, kafka_bootstrap, new_topic):
    topic = new_topic()
    producer = create_producer(kafka_bootstrap, client_id="test-consumer")
    event = new_event(topic=topic, key="acct-1", source="/t", message=Int64Value(value=7))
    publish(producer, [event, event])  # a redelivery: same ce_id twice on the topic

    ledger = open_ledger(database_url)
    consumer = make_consumer("ledger-projector", ledger, kafka_bootstrap, topic, producer)
    assert consume_until_idle(consumer, expected=2) == 2

    assert balance(ledger, "acct-1") == 7
    with ledger.read() as session:
        assert session.execute(select(func.count()).select_from(processed_events)).scalar() == 1
    producer.close()


def test_redelivery_after_restart_is_recognised(database_url, kafka_bootstrap, new_topic):
    """A new consumer group replays the topic from the start (as after a lost
    offset commit): every event is recognised as already processed."""
    topic = new_topic()
    producer = create_producer(kafka_bootstrap, client_id="test-consumer")
    events = [new_event(topic=topic, key=f"acct-{i % 3}", source="/t",
                        message=Int64Value(value=i + 1)) for i in range(10)]
    publish(producer, events)
    ledger = open_ledger(database_url)
    first = make_consumer("ledger-projector", ledger, kafka_bootstrap, topic, producer)
    consume_until_idle(first, expected=10)
    totals = {acct: balance(ledger, acct) for acct in ("acct-0", "acct-1", "acct-2")}

    outcomes = []
    replay = make_consumer("ledger-projector", ledger, kafka_bootstrap, topic, producer)
    kafka_consumer = replay._create_kafka_consumer()
    kafka_consumer.poll(timeout_ms=5_000)  # join the group and get partitions
    kafka_consumer.seek_to_beginning()
    for records in kafka_consumer.poll(timeout_ms=5_000).values():
        outcomes += [replay.process(record) for record in records]
    kafka_consumer.close(autocommit=False)

    assert outcomes and set(outcomes) == {Outcome.DUPLICATE}
    assert {acct: balance(ledger, acct) for acct in totals} == totals
    producer.close()


def test_bad_records_go_to_the_dead_letter_topic_and_the_consumer_moves_on(
    database_url, kafka_bootstrap, new_topic
):
    topic = new_topic(dlq=True)
    producer = create_producer(kafka_bootstrap, client_id="test-consumer")
    # 1: not a CloudEvent at all; 2: a CloudEvent that fails validation; 3: good.
    producer.send(topic, key=b"acct-1", value=b"\x00garbage").get(timeout=10)
    invalid = new_event(topic=topic, key="acct-1", source="/t", message=Int64Value(value=-5))
    good = new_event(topic=topic, key="acct-1", source="/t", message=Int64Value(value=3))
    publish(producer, [invalid, good])

    ledger = open_ledger(database_url)
    consumer = make_consumer("ledger-projector", ledger, kafka_bootstrap, topic, producer)
    assert consume_until_idle(consumer, expected=3) == 3
    assert balance(ledger, "acct-1") == 3

    dlq = KafkaConsumer(dead_letter_topic(topic), bootstrap_servers=kafka_bootstrap,
                        auto_offset_reset="earliest", consumer_timeout_ms=5_000)
    dead = [record for _, record in zip(range(2), dlq, strict=False)]
    dlq.close()
    assert len(dead) == 2
    undecodable, rejected = (dict(record.headers) for record in dead)
    assert undecodable["dlq_reason"].startswith(b"undecodable: missing CloudEvents header")
    assert undecodable["dlq_source_offset"] == b"0"
    assert undecodable["dlq_source_topic"] == topic.encode()
    assert rejected["dlq_reason"] == b"invalid: value: a deposit must be positive, got -5"
    assert rejected["dlq_source_offset"] == b"1"
    assert rejected["ce_id"] == invalid.id.encode()
    assert dead[0].value == b"\x00garbage"
    producer.close()


def test_a_batch_skips_what_was_processed_and_applies_the_rest_in_order(
        database_url, kafka_bootstrap, new_topic):
    """One poll's records in one transaction: an event processed before, the same new
    event twice in the batch and an event type with no handler each get their outcome,
    and only the new event is applied and recorded (once)."""
    topic = new_topic()
    producer = create_producer(kafka_bootstrap, client_id="test-consumer")
    earlier, new = (new_event(topic=topic, key="acct-1", source="/t",
                              message=Int64Value(value=value)) for value in (1, 2))
    unknown = new_event(topic=topic, key="acct-1", source="/t", message=StringValue(value="x"))
    publish(producer, [earlier, new, new, unknown])
    records = read_records(kafka_bootstrap, topic, 4)

    ledger = open_ledger(database_url)
    consumer = make_consumer("ledger-projector", ledger, kafka_bootstrap, topic, producer)
    assert consumer.process(records[0]) is Outcome.APPLIED
    assert consumer.process_batch(records) == [
        Outcome.DUPLICATE, Outcome.APPLIED, Outcome.DUPLICATE, Outcome.IGNORED]

    assert balance(ledger, "acct-1") == 3
    with ledger.read() as session:
        assert session.execute(select(func.count()).select_from(processed_events)).scalar() == 2
    producer.close()


def read_records(bootstrap: str, topic: str, count: int) -> list:
    reader = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                           enable_auto_commit=False, consumer_timeout_ms=10_000)
    try:
        records = [record for _, record in zip(range(count), reader, strict=False)]
    finally:
        reader.close()
    assert len(records) == count
    return records
