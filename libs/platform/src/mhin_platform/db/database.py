"""Engines and transactions for a service's own database.

SQLite needs care to behave like a server database under a threaded gRPC server,
an outbox relay and consumers in one process: WAL so readers never block the
writer, a busy timeout instead of instant "database is locked", foreign keys on,
and write transactions that take the write lock up front (BEGIN IMMEDIATE) so two
writers never deadlock upgrading a read lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Connections a SQLite engine keeps open: one for each gRPC worker thread (16) plus
# the relay, the consumers and the watchdog. With SQLAlchemy's default of 5, every
# call beyond the fifth opened and closed a connection of its own (and ran the
# pragmas again): a sixth of a read's time under 8 concurrent clients (py-spy).
SQLITE_POOL_SIZE = 24


class Base(DeclarativeBase):
    """Declarative base for a service's tables (each service has its own database,
    so sharing the base class shares no tables)."""


def _normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's "begin" hook below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # Straight to the driver: BEGIN needs none of an execution's machinery
        # (a fifth of a read's time when it went through exec_driver_sql).
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.connection.driver_connection.execute(f"BEGIN {mode}")


def create_database_engine(url: str) -> Engine:
    url = _normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False},
                               pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


class Database:
    """A service's database: ``transaction()`` for writes, ``read()`` for queries.

    Callbacks registered with ``on_commit`` run after every successful write
    transaction whose session asked for them (``session.info["notify"]``); the
    outbox uses this to wake its relay the moment an event is committed.
    """

    def __init__(self, url: str) -> None:
        self.url = _normalise_url(url)
        self.engine = create_database_engine(self.url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._commit_listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        # SQLite has one writer at a time: queueing writers here, in order, beats
        # SQLite's busy handler, whose sleeps make a long tail under concurrency.
        self._sqlite_writer = threading.RLock() if self.is_sqlite else None

    def on_commit(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._commit_listeners.append(listener)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on error."""
        with self._writer_turn(), self._sessions() as session, session.begin():
            yield session
        if session.info.get("notify"):
            for listener in list(self._commit_listeners):
                listener()

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        if self._sqlite_writer is None:
            yield
            return
        with self._sqlite_writer:
            yield

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work (on SQLite it does not take the write lock)."""
        with self._sessions() as session:
            if self.is_sqlite:
                session.connection(execution_options={"sqlite_begin": "DEFERRED"})
            try:
                yield session
            finally:
                session.rollback()

    def dispose(self) -> None:
        self.engine.dispose()
