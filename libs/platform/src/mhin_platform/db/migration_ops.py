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
