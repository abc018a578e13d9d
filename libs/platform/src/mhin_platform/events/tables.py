"""The platform's own tables, present in every service database (created by the
platform migration branch, ``db/alembic/versions``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

platform_metadata = MetaData()

# Events waiting to be published, written in the same transaction as the state
# change they describe. ``position`` orders publication; ``published_at`` marks rows
# the relay has seen acknowledged by the broker.
outbox = Table(
    "mhin_outbox",
    platform_metadata,
    Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("topic", String(249), nullable=False),
    Column("key", String(200), nullable=False),
    Column("type", String(200), nullable=False),
    Column("source", String(200), nullable=False),
    Column("subject", String(200), nullable=True),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("correlation_id", String(64), nullable=True),
    Column("data", LargeBinary, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True, index=True),
)

# Event ids a consumer has applied, recorded in the same transaction as the effect,
# so a redelivered event is recognised and skipped.
processed_events = Table(
    "mhin_processed_events",
    platform_metadata,
    Column("consumer", String(200), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("topic", String(249), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=True),
)

# The idempotency key a client sent with a request that created an aggregate, so a
# retried request finds what the first one made. ``scope`` is the aggregate's table.
request_keys = Table(
    "mhin_request_keys",
    platform_metadata,
    Column("scope", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("aggregate_id", String(64), nullable=False),
)
