"""The one way MHIN code writes to Kafka: idempotent, acks=all, keyed by aggregate."""

from __future__ import annotations

from kafka import KafkaProducer
from kafka.producer.future import FutureRecordMetadata

from mhin_platform.events.envelope import Event

DELIVERY_TIMEOUT_MS = 30_000
# Clients retry a lost broker at most this far apart (kafka-python's default is 30 s),
# so a short outage ends for them about when the broker is back.
RECONNECT_BACKOFF_MAX_MS = 2_000
# How long a caller waits for acks: the producer's own delivery timeout, plus margin.
SEND_TIMEOUT_SECONDS = DELIVERY_TIMEOUT_MS / 1000 + 5


def create_producer(bootstrap_servers: str, *, client_id: str, linger_ms: int = 2) -> KafkaProducer:
    """A producer that never reorders or duplicates within a partition on retry."""
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers.split(","),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        max_in_flight_requests_per_connection=5,
        linger_ms=linger_ms,
        retries=2**31 - 1,
        request_timeout_ms=10_000,
        delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
        reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
    )


def send_event(producer: KafkaProducer, event: Event) -> FutureRecordMetadata:
    """Queue ``event`` on its topic; the returned future settles once the broker acks."""
    return producer.send(
        event.topic,
        key=event.key.encode(),
        value=event.data,
        headers=event.headers(),
    )


def publish(producer: KafkaProducer, events: list[Event]) -> None:
    """Send ``events`` in order and wait until the broker has acknowledged all of them."""
    futures = [send_event(producer, event) for event in events]
    producer.flush(timeout=SEND_TIMEOUT_SECONDS)
    for future in futures:
        future.get(timeout=SEND_TIMEOUT_SECONDS)
