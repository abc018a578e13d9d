"""Transactional outbox: an event is stored in the same database transaction as the
state change it describes, and a relay publishes stored events in order.

If the process dies after the commit but before the publish, the row is still
there and the relay publishes it on restart. If it dies after the publish but
before marking the row, the event is published again with the same ``ce_id``:
consumers are idempotent on that id, so the effect happens once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer
from kafka.errors import KafkaError
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from mhin_platform.db import Database
from mhin_platform.db.statements import rows_changed
from mhin_platform.events.envelope import Event
from mhin_platform.events.producer import publish
from mhin_platform.events.tables import outbox
from mhin_platform.events.topics import topic
from mhin_platform.logging import correlation_id_var

log = logging.getLogger(__name__)

# Any 64-bit constant, the same in every relay: two relays of one service (say, two
# replicas on PostgreSQL) take turns instead of publishing the same rows.
RELAY_LOCK_KEY = 0x4D48494E_4F555442
MAX_BACKOFF_SECONDS = 30.0


def add_to_outbox(session: Session, *events: Event) -> None:
    """Store events in the caller's transaction; they are published after it commits.

    An event type its topic does not declare is a programming error that would break
    subscribers' contract: it is refused here, loudly, before anything is written."""
    for event in events:
        _check_declared(event)
    correlation_id = correlation_id_var.get()
    session.execute(
        insert(outbox),
        [
            {
                "event_id": event.id,
                "topic": event.topic,
                "key": event.key,
                "type": event.type,
                "source": event.source,
                "subject": event.subject,
                "time": event.time,
                "correlation_id": event.correlation_id or correlation_id,
                "data": event.data,
            }
            for event in events
        ],
    )
    session.info["notify"] = True


def _check_declared(event: Event) -> None:
    try:
        declared = topic(event.topic).events
    except KeyError:
        return  # not a platform topic (tests' own topics)
    if declared and event.type not in declared:
        raise ValueError(
            f"event type {event.type} is not declared for topic {event.topic} in topics.toml"
        )


def pending_count(session: Session) -> int:
    query = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    return int(session.execute(query).scalar_one())


class OutboxRelay:
    """Publishes unpublished outbox rows in commit order and marks them published.

    Runs in a background thread; wakes at once when a transaction with outbox rows
    commits (``Database.on_commit``) and otherwise polls, so rows left by a crashed
    process are picked up too. Given ``renew_producer``, it owns its producer: after a
    failed publish it closes it and makes a new one, since an idempotent producer whose
    batches expired while a broker hung can stay stuck, failing every send after it.
    """

    def __init__(
        self,
        database: Database,
        producer: KafkaProducer,
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        keep_published_for: timedelta = timedelta(days=7),
        renew_producer: Callable[[], KafkaProducer] | None = None,
    ) -> None:
        self._database = database
        self._producer = producer
        self._renew_producer = renew_producer
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._keep_published_for = keep_published_for
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None
        database.on_commit(self._wake.set)

    def publish_pending(self) -> int:
        """Publish one batch of pending rows; return how many were published."""
        if self._database.is_sqlite:
            # One relay per SQLite file: read without the write lock, so the
            # service's writers are not held up while the broker acknowledges.
            with self._database.read() as session:
                rows = self._pending(session)
            if rows:
                publish(self._producer, [_event_from_row(row) for row in rows])
                with self._database.transaction() as session:
                    self._mark_published(session, rows)
            return len(rows)
        with self._database.transaction() as session:
            if not self._take_relay_lock(session):
                return 0
            rows = self._pending(session)
            if rows:
                publish(self._producer, [_event_from_row(row) for row in rows])
                self._mark_published(session, rows)
        return len(rows)

    def _pending(self, session: Session) -> list:
        return list(
            session.execute(
                select(outbox)
                .where(outbox.c.published_at.is_(None))
                .order_by(outbox.c.position)
                .limit(self._batch_size)
            ).all()
        )

    @staticmethod
    def _mark_published(session: Session, rows: list) -> None:
        session.execute(
            update(outbox)
            .where(outbox.c.position.in_([row.position for row in rows]))
            .values(published_at=datetime.now(UTC))
        )

    def drain(self) -> int:
        """Publish until nothing is pending; return the total published."""
        total = 0
        while published := self.publish_pending():
            total += published
        return total

    def prune(self) -> int:
        """Delete rows published longer ago than the retention period."""
        cutoff = datetime.now(UTC) - self._keep_published_for
        with self._database.transaction() as session:
            return rows_changed(session, delete(outbox).where(outbox.c.published_at < cutoff))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the batch in flight, publishing what is already pending."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._renew_producer is not None:
            _discard(self._producer)

    @property
    def healthy(self) -> bool:
        return self.failure is None and (self._thread is None or self._thread.is_alive()
                                         or self._stopping.is_set())

    def _run(self) -> None:
        try:
            self._relay_until_stopped()
        except BaseException as exc:  # a dead relay must be loud, not silent
            self.failure = exc
            log.exception("outbox relay stopped: events are not being published")

    def _relay_until_stopped(self) -> None:
        """Publish as rows commit. While Kafka is unreachable the events wait in the
        outbox and the service keeps taking requests; every failed try is logged."""
        backoff = 0.0
        self.prune()
        while True:
            self._wake.clear()
            try:
                self.drain()
                backoff = 0.0
            except KafkaError as exc:
                backoff = min(max(backoff * 2, 0.5), MAX_BACKOFF_SECONDS)
                log.error("outbox relay cannot publish (%s); retrying in %.1fs", exc, backoff)
                self._renew()
            if self._stopping.is_set():
                return
            self._wake.wait(backoff or self._poll_interval)

    def _renew(self) -> None:
        """A fresh producer for the next try (only for a producer the relay owns)."""
        if self._renew_producer is None:
            return
        _discard(self._producer)
        try:
            self._producer = self._renew_producer()
        except KafkaError as exc:  # no broker answers yet: the next failure tries again
            log.error("outbox relay cannot make a new producer (%s)", exc)

    @staticmethod
    def _take_relay_lock(session: Session) -> bool:
        return bool(
            session.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK_KEY}
            ).scalar()
        )


def _discard(producer: KafkaProducer) -> None:
    """Close a producer at once, whatever it still holds (the rows stay in the outbox).
    kafka-python's close() raises on records it cannot flush in time before it gets to
    force-closing its sender thread, so that is done here (and the producer marked
    closed, so its finaliser does not try again), or every renewal would leave a thread
    behind."""
    try:
        producer.close(timeout=0)
    except KafkaError:
        producer._sender.force_close()
        producer._closed = True


def _event_from_row(row) -> Event:
    return Event(
        topic=row.topic,
        key=row.key,
        type=row.type,
        source=row.source,
        data=row.data,
        id=row.event_id,
        time=_aware(row.time),
        subject=row.subject,
        correlation_id=row.correlation_id,
    )


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
