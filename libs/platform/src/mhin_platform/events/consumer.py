"""Idempotent event consumer with a dead-letter topic.

For each record: read the CloudEvent, find the handler for its type, parse and
apply it inside one database transaction together with a row recording the event
id as processed. A redelivered event finds that row and changes nothing. A record
that cannot be decoded or fails validation goes to ``<topic>.dlq`` with the reason
and the consumer moves on. Any other failure (the database is down, a bug) is
retried, then stops the consumer loudly: offsets are committed only after a
record's effect is committed, so nothing is skipped.

The broker being unreachable is never fatal: connecting, polling, dead-lettering and
committing are retried with backoff until it answers again. A commit that fails only
means the records since the last one are delivered again, which the processed-events
table makes harmless.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from mhin_platform.db import Database
from mhin_platform.errors import InvalidArgument
from mhin_platform.events.dead_letter import dead_letter_headers, dead_letter_topic
from mhin_platform.events.envelope import EnvelopeError, Event, event_from_record
from mhin_platform.events.producer import RECONNECT_BACKOFF_MAX_MS, SEND_TIMEOUT_SECONDS
from mhin_platform.events.tables import processed_events

log = logging.getLogger(__name__)

T = TypeVar("T")
M = TypeVar("M", bound=Message)
# What makes a record unprocessable for ever (it goes to the dead-letter topic).
_UNPROCESSABLE = (EnvelopeError, InvalidArgument, ValidationError)
# Waits between tries while the broker is unreachable: doubling up to the maximum.
BROKER_BACKOFF_SECONDS = (0.5, 10.0)
# Leaving the group on close is best effort: a broker that is down must not hold it up.
CLOSE_TIMEOUT_MS = 3_000
# A commit the broker does not answer in this time is given up (not fatal: the next
# one covers the same records), so the loop goes on polling instead of blocking.
COMMIT_TIMEOUT_MS = 5_000


@dataclass(frozen=True)
class Handler(Generic[M]):
    """How to apply one event type: the protobuf class of its data and the effect."""

    message_class: type[M]
    apply: Callable[[Session, Event, M], None]

    @property
    def event_type(self) -> str:
        return self.message_class.DESCRIPTOR.full_name


class Outcome(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    DEAD_LETTERED = "dead_lettered"
    IGNORED = "ignored"  # an event type this consumer has no handler for


class ConsumerStopping(Exception):
    """Raised out of a wait for the broker when the consumer is asked to stop."""


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        database: Database,
        bootstrap_servers: str,
        topics: Sequence[str],
        handlers: Sequence[Handler],
        producer: KafkaProducer,
        max_attempts: int = 5,
        poll_timeout_ms: int = 200,
    ) -> None:
        self.name = name
        self._database = database
        self._bootstrap_servers = bootstrap_servers
        self._topics = list(topics)
        self._handlers: Mapping[str, Handler] = {h.event_type: h for h in handlers}
        self._producer = producer
        self._max_attempts = max_attempts
        self._poll_timeout_ms = poll_timeout_ms
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None

    # -- one record -------------------------------------------------------------

    def process(self, record) -> Outcome:
        """Apply one Kafka record (a kafka-python ConsumerRecord) exactly once."""
        try:
            with self._database.transaction() as session:
                return self._apply(session, [record])[0]
        except _UNPROCESSABLE as exc:
            self._dead_letter(record, _reason(exc))
            return Outcome.DEAD_LETTERED

    def process_batch(self, records: list) -> list[Outcome]:
        """Apply records in one transaction (one commit instead of one per record);
        if any of them cannot be processed, fall back to one at a time so that only
        that record is dead-lettered."""
        try:
            with self._database.transaction() as session:
                return self._apply(session, records)
        except _UNPROCESSABLE:
            return [self._process_with_retries(record) for record in records]

    def _apply(self, session: Session, records: Sequence) -> list[Outcome]:
        """Decode ``records`` and apply, in order and in ``session``, those not already
        processed; raises one of _UNPROCESSABLE if any can never be applied. The
        processed ids are read in one query and recorded in one insert, not two
        statements per record: per record they cost more than most handlers."""
        decoded = [self._decode(record) for record in records]
        done = self._processed(session, {item[0].id for item in decoded if item is not None})
        outcomes, applied = [], []
        for item in decoded:
            if item is None:
                outcomes.append(Outcome.IGNORED)
            elif item[0].id in done:
                outcomes.append(Outcome.DUPLICATE)
            else:
                event, handler, message = item
                handler.apply(session, event, message)
                done.add(event.id)
                applied.append(event)
                outcomes.append(Outcome.APPLIED)
        if applied:
            now = datetime.now(UTC)
            session.execute(insert(processed_events), [
                {"consumer": self.name, "event_id": event.id, "topic": event.topic,
                 "processed_at": now} for event in applied])
        return outcomes

    def _decode(self, record) -> tuple[Event, Handler, Message] | None:
        """The record's event, handler and data; None for a type with no handler."""
        event = event_from_record(record.topic, record.key, record.value, record.headers)
        handler = self._handlers.get(event.type)
        if handler is None:
            return None
        return event, handler, event.decode(handler.message_class)

    def _processed(self, session: Session, event_ids: set[str]) -> set[str]:
        """Which of ``event_ids`` this consumer has already processed."""
        if not event_ids:
            return set()
        return set(session.scalars(select(processed_events.c.event_id).where(
            processed_events.c.consumer == self.name,
            processed_events.c.event_id.in_(event_ids),
        )))

    def _dead_letter(self, record, reason: str) -> None:
        log.warning(
            "dead-lettering record",
            extra={"topic": record.topic, "partition": record.partition,
                   "offset": record.offset, "reason": reason, "consumer": self.name},
        )
        future = self._producer.send(
            dead_letter_topic(record.topic),
            key=record.key,
            value=record.value,
            headers=dead_letter_headers(
                reason=reason,
                consumer=self.name,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                original=list(record.headers or []),
            ),
        )
        future.get(timeout=SEND_TIMEOUT_SECONDS)

    # -- the loop ---------------------------------------------------------------

    def _create_kafka_consumer(self) -> KafkaConsumer:
        consumer = KafkaConsumer(
            bootstrap_servers=self._bootstrap_servers.split(","),
            group_id=self.name,
            client_id=self.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS,
        )
        consumer.subscribe(self._topics)
        # Have the topics' metadata before the group forms: kafka-python 3.0 can
        # otherwise be assigned partitions it never starts fetching.
        for topic in self._topics:
            if not consumer.partitions_for_topic(topic):
                consumer.close(autocommit=False, timeout_ms=CLOSE_TIMEOUT_MS)
                raise RuntimeError(f"topic {topic!r} does not exist (topics are declared)")
        return consumer

    def poll_once(self, consumer: KafkaConsumer) -> int:
        """Process one poll's worth of records, then commit their offsets."""
        try:
            batches = consumer.poll(timeout_ms=self._poll_timeout_ms)
        except KafkaError as exc:
            self._wait_for_broker("polling", exc, attempt=1)
            return 0
        records = [record for batch in batches.values() for record in batch]
        count = len(records)
        if count > 1:
            self._with_retries(self.process_batch, records)
        elif count:
            self._process_with_retries(records[0])
        if count:
            try:
                consumer.commit(timeout_ms=COMMIT_TIMEOUT_MS)
            except KafkaError as exc:
                # A rebalance moved the partitions, or the broker is unreachable: the
                # records since the last commit come again (to this consumer or the
                # partitions' new owner) and are recognised as processed.
                log.warning("offset commit failed (%s: %s); the next commit covers these "
                            "records", type(exc).__name__, exc, extra={"consumer": self.name})
        return count

    def _process_with_retries(self, record) -> Outcome:
        return self._with_retries(self.process, record)

    def _with_retries(self, apply: Callable[[Any], T], records: Any) -> T:
        """``apply(records)``, retried with backoff on failures that may pass. While the
        broker is unreachable (a dead letter cannot be sent) it is retried until the
        broker answers or the consumer stops; any other failure (the database is down)
        is retried ``max_attempts`` times, then propagates and stops the consumer."""
        attempt = broker_attempt = 0
        while True:
            try:
                return apply(records)
            except KafkaError as exc:
                broker_attempt += 1
                self._wait_for_broker("dead-lettering", exc, broker_attempt)
            except Exception:
                attempt += 1
                if attempt == self._max_attempts:
                    raise
                log.exception("applying events failed; retrying",
                              extra={"consumer": self.name, "attempt": attempt})
                time.sleep(min(0.1 * 2**attempt, 5.0))

    def _wait_for_broker(self, doing: str, exc: BaseException, attempt: int) -> None:
        """Back off after a broker failure; raises ConsumerStopping if asked to stop."""
        first, most = BROKER_BACKOFF_SECONDS
        delay = min(first * 2 ** (attempt - 1), most)
        log.error("%s failed, the broker is unreachable (%s: %s); retrying in %.1fs",
                  doing, type(exc).__name__, exc, delay,
                  extra={"consumer": self.name, "attempt": attempt})
        if self._stopping.wait(delay):
            raise ConsumerStopping(self.name)

    def _connect(self) -> KafkaConsumer:
        """A subscribed Kafka consumer, waiting for the broker as long as it takes."""
        attempt = 0
        while True:
            try:
                return self._create_kafka_consumer()
            except KafkaError as exc:
                attempt += 1
                self._wait_for_broker("connecting", exc, attempt)

    def run(self) -> None:
        """Consume until ``stop``; a record that cannot be applied stops it loudly."""
        consumer: KafkaConsumer | None = None
        try:
            consumer = self._connect()
            while not self._stopping.is_set():
                self.poll_once(consumer)
        except ConsumerStopping:
            pass
        except BaseException as exc:
            self.failure = exc
            log.exception("consumer %s stopped: events are not being applied", self.name)
            raise
        finally:
            if consumer is not None:
                consumer.close(autocommit=False, timeout_ms=CLOSE_TIMEOUT_MS)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run_quietly, name=self.name, daemon=True)
        self._thread.start()

    def _run_quietly(self) -> None:
        try:
            self.run()
        except BaseException:  # already logged and kept in self.failure
            pass

    def request_stop(self) -> None:
        """Ask the loop to stop after the poll in flight (see :meth:`stop`)."""
        self._stopping.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop and wait at most ``timeout`` seconds for the loop to end."""
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def healthy(self) -> bool:
        return self.failure is None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        return f"invalid: {field}: {first['msg']}"
    if isinstance(exc, InvalidArgument):
        return f"invalid: {exc}"
    return f"undecodable: {exc}"
