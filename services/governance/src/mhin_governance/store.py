"""Governance persistence. Each aggregate (body, meeting, decision, involvement
activity) is stored as its JSON document plus the columns queries use; changed
bodies and meetings are written only over the version they were read at
(optimistic locking)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    insert,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from mhin_governance.domain import (
    AggregateRef,
    Body,
    BodyKind,
    Decision,
    InvolvementActivity,
    InvolvementFilter,
    Meeting,
    MeetingFilter,
    MeetingStatus,
)
from mhin_platform.db.documents import Documents, after_keyset, document_table
from mhin_platform.db.request_keys import RequestKeys

metadata = MetaData()

bodies = document_table(
    "bodies",
    metadata,
    Column("kind", String(20), nullable=False, index=True),
    id_length=64,
)

meetings = document_table(
    "meetings",
    metadata,
    Column("body_id", String(64), ForeignKey("bodies.id"), nullable=False),
    Column("meeting_date", Date, nullable=False, index=True),
    Column("status", String(20), nullable=False),
    UniqueConstraint("body_id", "meeting_date", name="uq_meetings_body_day"),
)

# Agenda items that are about an aggregate, to find e.g. a selection proposal's items.
agenda_subjects = Table(
    "agenda_subjects",
    metadata,
    Column("item_id", String(36), primary_key=True),
    Column("meeting_id", String(36), ForeignKey("meetings.id"), nullable=False),
    Column("body_id", String(64), nullable=False),
    Column("subject_type", String(200), nullable=False),
    Column("subject_id", String(200), nullable=False),
    Index("ix_agenda_subjects_subject", "subject_type", "subject_id"),
)

decisions = document_table(
    "decisions",
    metadata,
    Column("body_id", String(64), nullable=False, index=True),
    Column("meeting_id", String(36), ForeignKey("meetings.id"), nullable=False),
    Column("subject_type", String(200), nullable=True),
    Column("subject_id", String(200), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Index("ix_decisions_subject", "subject_type", "subject_id"),
    versioned=False,
)

involvement_activities = document_table(
    "involvement_activities",
    metadata,
    Column("project_id", String(64), nullable=False),
    Column("arc", String(40), nullable=True),
    Column("kind", String(40), nullable=False),
    Column("activity_date", Date, nullable=False, index=True),
    Index("ix_involvement_project_date", "project_id", "activity_date"),
    versioned=False,
)

# -------------------------------------------------------------------- bodies


body_documents = Documents(bodies, Body, "body", lambda body: {"kind": body.kind.name})


def body_exists(session: Session, body_id: str) -> bool:
    return session.execute(select(bodies.c.id).where(bodies.c.id == body_id)).first() is not None


def list_bodies(session: Session, kind: BodyKind | None, after_id: str | None,
                limit: int) -> list[Body]:
    query = after_keyset(body_documents.select().order_by(bodies.c.id).limit(limit),
                         (bodies.c.id,), None if after_id is None else (after_id,))
    if kind is not None:
        query = query.where(bodies.c.kind == kind.name)
    return body_documents.all(session, query)


# -------------------------------------------------------------------- meetings


meeting_documents = Documents(meetings, Meeting, "meeting", lambda meeting: {
    "body_id": meeting.body_id, "meeting_date": meeting.date, "status": meeting.status.name})


def meeting_on(session: Session, body_id: str, day: date) -> Meeting | None:
    return meeting_documents.first(session, meeting_documents.select().where(
        meetings.c.body_id == body_id, meetings.c.meeting_date == day))


def meeting_days(session: Session, body_id: str, on_or_after: date) -> set[date]:
    query = select(meetings.c.meeting_date).where(meetings.c.body_id == body_id,
                                                  meetings.c.meeting_date >= on_or_after)
    return set(session.execute(query).scalars())


def next_scheduled_meeting(session: Session, body_id: str, on_or_after: date) -> Meeting | None:
    """The body's earliest meeting on or after the day that has not been held."""
    return meeting_documents.first(session, meeting_documents.select().where(
        meetings.c.body_id == body_id,
        meetings.c.status == MeetingStatus.SCHEDULED.name,
        meetings.c.meeting_date >= on_or_after,
    ).order_by(meetings.c.meeting_date).limit(1))


def list_meetings(session: Session, where: MeetingFilter, after: tuple[date, str] | None,
                  limit: int) -> list[Meeting]:
    order = (meetings.c.meeting_date, meetings.c.id)
    query = after_keyset(meeting_documents.select().order_by(*order).limit(limit), order, after)
    if where.body_id:
        query = query.where(meetings.c.body_id == where.body_id)
    if where.status is not None:
        query = query.where(meetings.c.status == where.status.name)
    if where.from_date is not None:
        query = query.where(meetings.c.meeting_date >= where.from_date)
    if where.to_date is not None:
        query = query.where(meetings.c.meeting_date <= where.to_date)
    return meeting_documents.all(session, query)


def index_agenda_subject(session: Session, meeting: Meeting, item_id: str,
                         subject: AggregateRef) -> None:
    session.execute(insert(agenda_subjects).values(
        item_id=item_id, meeting_id=meeting.id, body_id=meeting.body_id,
        subject_type=subject.aggregate_type, subject_id=subject.aggregate_id))


def on_agenda_of(session: Session, body_id: str, subject: AggregateRef) -> bool:
    """Whether any meeting of the body ever had an agenda item about ``subject``."""
    query = select(agenda_subjects.c.item_id).where(
        agenda_subjects.c.body_id == body_id,
        agenda_subjects.c.subject_type == subject.aggregate_type,
        agenda_subjects.c.subject_id == subject.aggregate_id,
    ).limit(1)
    return session.execute(query).first() is not None


# -------------------------------------------------------------------- decisions


def _decision_columns(decision: Decision) -> dict[str, object]:
    subject = decision.subject
    return {"body_id": decision.body_id, "meeting_id": decision.meeting_id,
            "subject_type": subject.aggregate_type if subject else None,
            "subject_id": subject.aggregate_id if subject else None,
            "decided_at": decision.decided_at}


decision_documents = Documents(decisions, Decision, "decision", _decision_columns)


def _about(query: Select[Any], subject: AggregateRef) -> Select[Any]:
    return query.where(decisions.c.subject_type == subject.aggregate_type,
                       decisions.c.subject_id == subject.aggregate_id)


def decisions_about(session: Session, subject: AggregateRef) -> list[Decision]:
    return decision_documents.all(session, _about(decision_documents.select(), subject))


def list_decisions(session: Session, body_id: str, subject: AggregateRef | None,
                   after: tuple[datetime, str] | None, limit: int) -> list[Decision]:
    order = (decisions.c.decided_at, decisions.c.id)
    query = after_keyset(decision_documents.select().order_by(*order).limit(limit), order, after)
    if body_id:
        query = query.where(decisions.c.body_id == body_id)
    if subject is not None:
        query = _about(query, subject)
    return decision_documents.all(session, query)


# -------------------------------------------------------------------- involvement


activities = Documents(involvement_activities, InvolvementActivity, "activity", lambda a: {
    "project_id": a.project_id, "arc": a.arc.name if a.arc else None, "kind": a.kind.name,
    "activity_date": a.activity_date})
# Client idempotency keys of LogInvolvement, with the caller's subject.
involvement_keys = RequestKeys(activities)


def list_activities(session: Session, where: InvolvementFilter,
                    after: tuple[date, str] | None = None,
                    limit: int | None = None) -> list[InvolvementActivity]:
    table = involvement_activities
    order = (table.c.activity_date, table.c.id)
    query = after_keyset(activities.select().order_by(*order).limit(limit), order, after)
    conditions: Iterable[Any] = (
        (table.c.project_id == where.project_id) if where.project_id else None,
        (table.c.arc == where.arc.name) if where.arc else None,
        (table.c.kind == where.kind.name) if where.kind else None,
        (table.c.activity_date >= where.from_date) if where.from_date else None,
        (table.c.activity_date <= where.to_date) if where.to_date else None,
    )
    for condition in conditions:
        if condition is not None:
            query = query.where(condition)
    return activities.all(session, query)
