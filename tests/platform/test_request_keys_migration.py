"""Moving each service's own idempotency-key table into the platform's
``mhin_request_keys`` keeps every key a deployed database already holds, so a retry
of a request made before the upgrade still finds what it created; the downgrade
gives the rows back."""

from __future__ import annotations

import importlib
from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import Date, DateTime, Integer, MetaData, Table, create_engine, inspect, text

from mhin_platform.db.migrations import alembic_config, upgrade

pytestmark = pytest.mark.integration

# service, its revision before the move, the old table, its id column, the new scope
# (the aggregates' table)
MOVES = [
    ("needs", "needs_0002", "submission_keys", "need_id", "needs"),
    ("catalogue", "catalogue_0001", "round_keys", "round_id", "prioritisation_rounds"),
    ("governance", "governance_0001", "involvement_keys", "activity_id",
     "involvement_activities"),
]


def _placeholder(column) -> object:
    if isinstance(column.type, DateTime):
        return datetime(2026, 12, 6, tzinfo=UTC)
    if isinstance(column.type, Date):
        return date(2026, 12, 6)
    if isinstance(column.type, Integer):
        return 1
    return "x"


def _store_key_the_old_way(url: str, aggregates: str, table: str, id_column: str) -> None:
    """An aggregate row (placeholder values; only its id matters) and its key row, as
    the service wrote them before the move."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            rows = Table(aggregates, MetaData(), autoload_with=connection)
            connection.execute(rows.insert().values(
                {c.name: _placeholder(c) for c in rows.columns} | {"id": "made-before"}))
            connection.execute(text(f"INSERT INTO {table} (key, {id_column}) "
                                    "VALUES ('retry-me', 'made-before')"))
    finally:
        engine.dispose()


def _rows(url: str, query: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    finally:
        engine.dispose()


def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize(("service", "before", "table", "id_column", "scope"), MOVES)
def test_keys_stored_before_the_move_survive_it_both_ways(service, before, table, id_column,
                                                           scope, database_url):
    versions = importlib.import_module(f"mhin_{service}.main").DEFINITION.migrations
    config = alembic_config(database_url, versions)
    command.upgrade(config, "platform_0001")
    command.upgrade(config, before)
    _store_key_the_old_way(database_url, scope, table, id_column)

    upgrade(database_url, versions)
    assert _rows(database_url, "SELECT scope, key, aggregate_id FROM mhin_request_keys") == [
        (scope, "retry-me", "made-before")]
    assert table not in _tables(database_url)

    command.downgrade(config, before)
    assert _rows(database_url, f"SELECT key, {id_column} FROM {table}") == [
        ("retry-me", "made-before")]
    assert _rows(database_url, "SELECT * FROM mhin_request_keys") == []
