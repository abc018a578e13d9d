"""Needs persistence. A need is stored as its JSON document plus the columns that
list filters use; each write checks the version it read (optimistic locking)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from mhin_needs.domain import Need, NeedStatus, SourceKind
from mhin_platform.errors import FailedPrecondition, NotFound
from mhin_platform.reference import Arc, OrganisationType, PriorityArea

metadata = MetaData()

needs = Table(
    "needs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("arc", String(40), nullable=False, index=True),
    Column("priority_area", String(60), nullable=False, index=True),
    Column("status", String(20), nullable=False, index=True),
    Column("organisation_type", String(40), nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),
)

need_source_kinds = Table(
    "need_source_kinds",
    metadata,
    Column("need_id", String(36), ForeignKey("needs.id"), primary_key=True),
    Column("kind", String(30), primary_key=True),
)

# Client idempotency keys (SubmitNeed) and import row keys (ImportNeeds).
submission_keys = Table(
    "submission_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("need_id", String(36), ForeignKey("needs.id"), nullable=False),
)


@dataclass(frozen=True)
class NeedFilter:
    priority_area: PriorityArea | None = None
    arc: Arc | None = None
    organisation_type: OrganisationType | None = None
    source_kind: SourceKind | None = None
    status: NeedStatus | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {name: (value.name if value else None) for name, value in self.__dict__.items()}


def _columns(need: Need) -> dict[str, object]:
    return {
        "arc": need.arc.name,
        "priority_area": need.priority_area.name,
        "status": need.status.name,
        "organisation_type": need.submitter.type.name,
        "submitted_at": need.submitted_at,
        "version": need.version,
        "document": need.model_dump_json(),
    }


def add(session: Session, need: Need) -> None:
    add_many(session, [need])


def add_many(session: Session, new_needs: Sequence[Need]) -> None:
    """Insert new needs, each statement run once for all of them (a bulk load)."""
    if not new_needs:
        return
    session.execute(insert(needs), [{"id": need.id, **_columns(need)} for need in new_needs])
    session.execute(
        insert(need_source_kinds),
        [{"need_id": need.id, "kind": kind.name}
         for need in new_needs for kind in need.source_kinds],
    )


def replace(session: Session, need: Need) -> None:
    """Store a changed need; FailedPrecondition if someone else changed it first."""
    result = session.execute(
        update(needs)
        .where(needs.c.id == need.id, needs.c.version == need.version - 1)
        .values(**_columns(need))
    )
    if result.rowcount != 1:
        raise FailedPrecondition(f"need {need.id} was changed concurrently; retry")
    session.execute(delete(need_source_kinds).where(need_source_kinds.c.need_id == need.id))
    session.execute(
        insert(need_source_kinds),
        [{"need_id": need.id, "kind": kind.name} for kind in need.source_kinds],
    )


def get(session: Session, need_id: str) -> Need:
    document = session.execute(
        select(needs.c.document).where(needs.c.id == need_id)
    ).scalar_one_or_none()
    if document is None:
        raise NotFound(f"need {need_id!r} does not exist")
    return Need.model_validate_json(document)


def find_by_key(session: Session, key: str) -> Need | None:
    need_id = session.execute(
        select(submission_keys.c.need_id).where(submission_keys.c.key == key)
    ).scalar_one_or_none()
    return None if need_id is None else get(session, need_id)


def remember_key(session: Session, key: str, need_id: str) -> None:
    session.execute(insert(submission_keys).values(key=key, need_id=need_id))


def list_needs(
    session: Session, where: NeedFilter, after: tuple[datetime, str] | None, limit: int
) -> list[Need]:
    """Needs matching ``where`` in submission order, after the (time, id) keyset."""
    query = select(needs.c.document).order_by(needs.c.submitted_at, needs.c.id).limit(limit)
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
    if after is not None:
        at, last_id = after
        query = query.where(
            or_(needs.c.submitted_at > at, and_(needs.c.submitted_at == at, needs.c.id > last_id))
        )
    return [Need.model_validate_json(doc) for doc in session.execute(query).scalars()]
