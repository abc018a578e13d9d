"""Operations a migration calls to create the kit's table shapes, the migration-side
counterpart of :func:`mhin_platform.db.documents.document_table`.

Migrations are history: once a revision that calls one of these has shipped, the
function's output must never change, or replaying old revisions would build a
different schema. A new shape is a new function, never an edit of this one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem


def create_document_table(name: str, *columns: SchemaItem, id_length: int = 36,
                          versioned: bool = True) -> None:
    """Create a table of aggregates kept as documents: ``id``, the filter ``columns``
    (with their indexes and constraints), ``version`` unless the aggregate never
    changes, and ``document``."""
    version = [sa.Column("version", sa.Integer, nullable=False)] if versioned else []
    op.create_table(name, sa.Column("id", sa.String(id_length), primary_key=True), *columns,
                    *version, sa.Column("document", sa.Text, nullable=False))


def move_into_request_keys(table: str, id_column: str, scope: str) -> None:
    """Move the rows of a service's own idempotency-key table (``key``, ``id_column``)
    into the platform's ``mhin_request_keys`` under ``scope``, and drop the table."""
    op.execute(sa.text(
        f"INSERT INTO mhin_request_keys (scope, key, aggregate_id) "
        f"SELECT :scope, key, {id_column} FROM {table}").bindparams(scope=scope))
    op.drop_table(table)


def restore_request_keys(table: str, id_column: str, aggregates: str, scope: str) -> None:
    """The reverse of :func:`move_into_request_keys`: recreate the service's own table
    (its ids referencing ``aggregates``) from the rows under ``scope``."""
    op.create_table(
        table,
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column(id_column, sa.String(36), sa.ForeignKey(f"{aggregates}.id"), nullable=False),
    )
    op.execute(sa.text(
        f"INSERT INTO {table} (key, {id_column}) "
        f"SELECT key, aggregate_id FROM mhin_request_keys WHERE scope = :scope"
    ).bindparams(scope=scope))
    op.execute(sa.text("DELETE FROM mhin_request_keys WHERE scope = :scope").bindparams(
        scope=scope))
