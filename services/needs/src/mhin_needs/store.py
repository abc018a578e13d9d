"""Needs persistence. A need is stored as its JSON document plus the columns that
list filters use; each write checks the version it read (optimistic locking)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.orm import Session

from mhin_needs.domain import Need, NeedFilter
from mhin_platform.db.documents import ChildRows, Documents, after_keyset, document_table
from mhin_platform.db.request_keys import RequestKeys

metadata = MetaData()

needs = document_table(
    "needs",
    metadata,
    Column("arc", String(40), nullable=False, index=True),
    Column("priority_area", String(60), nullable=False, index=True),
    Column("status", String(20), nullable=False, index=True),
    Column("organisation_type", String(40), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False, index=True),
)

# ListNeeds filters by one column and pages by (submitted_at, id): with the filter
# column first, a page is an index range scan instead of a sort of every match.
Index("ix_needs_submitted_page", needs.c.submitted_at, needs.c.id)
for _filter in (needs.c.arc, needs.c.priority_area, needs.c.status, needs.c.organisation_type):
    Index(f"ix_needs_{_filter.name}_page", _filter, needs.c.submitted_at, needs.c.id)

need_source_kinds = Table(
    "need_source_kinds",
    metadata,
    Column("need_id", String(36), ForeignKey("needs.id"), primary_key=True),
    Column("kind", String(30), primary_key=True),
)


def _columns(need: Need) -> dict[str, object]:
    return {
        "arc": need.arc.name,
        "priority_area": need.priority_area.name,
        "status": need.status.name,
        "organisation_type": need.submitter.type.name,
        "submitted_at": need.submitted_at,
    }


documents = Documents(needs, Need, "need", _columns, children=(
    ChildRows(need_source_kinds, "need_id",
              lambda need: [{"kind": kind.name} for kind in need.source_kinds]),
))
# Client idempotency keys (SubmitNeed) and import row keys (ImportNeeds).
request_keys = RequestKeys(documents)


def list_needs(
    session: Session, where: NeedFilter, after: tuple[datetime, str] | None, limit: int
) -> list[Need]:
    """Needs matching ``where`` in submission order, after the (time, id) keyset."""
    order = (needs.c.submitted_at, needs.c.id)
    query = after_keyset(documents.select().order_by(*order).limit(limit), order, after)
    for column, value in (
        (needs.c.priority_area, where.priority_area),
        (needs.c.arc, where.arc),
        (needs.c.organisation_type, where.organisation_type),
        (needs.c.status, where.status),
    ):
        if value is not None:
            query = query.where(column == value.name)
    if where.source_kind is not None:
        query = query.where(
            needs.c.id.in_(
                select(need_source_kinds.c.need_id).where(
                    need_source_kinds.c.kind == where.source_kind.name
                )
            )
        )
    return documents.all(session, query)
