"""Governance persistence. Each aggregate (body, meeting, decision, involvement
activity) is stored as its JSON document plus the columns queries use; changed
bodies and meetings are written only over the version they were read at
(optimistic locking)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from mhin_governance.domain import (
    AggregateRef,
    Body,
    BodyKind,
    Decision,
    InvolvementActivity,
    InvolvementKind,
    Meeting,
    MeetingStatus,
)
from mhin_platform.errors import FailedPrecondition, NotFound
from mhin_platform.reference import Arc

metadata = MetaData()

bodies = Table(
    "bodies",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),
)

meetings = Table(
    "meetings",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("body_id", String(64), ForeignKey("bodies.id"), nullable=False),
    Column("meeting_date", Date, nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),
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

decisions = Table(
    "decisions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("body_id", String(64), nullable=False, index=True),
    Column("meeting_id", String(36), ForeignKey("meetings.id"), nullable=False),
    Column("subject_type", String(200), nullable=True),
    Column("subject_id", String(200), nullable=True),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("document", Text, nullable=False),
    Index("ix_decisions_subject", "subject_type", "subject_id"),
)

involvement_activities = Table(
    "involvement_activities",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("arc", String(40), nullable=True),
    Column("kind", String(40), nullable=False),
    Column("activity_date", Date, nullable=False, index=True),
    Column("document", Text, nullable=False),
    Index("ix_involvement_project_date", "project_id", "activity_date"),
)

# Client idempotency keys of LogInvolvement.
involvement_keys = Table(
    "involvement_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("activity_id", String(36), ForeignKey("involvement_activities.id"), nullable=False),
)

M = TypeVar("M", bound=BaseModel)


def _documents(session: Session, query: Select[Any], model: type[M]) -> list[M]:
    return [model.model_validate_json(doc) for doc in session.execute(query).scalars()]


def _one(session: Session, query: Select[Any], model: type[M], missing: str) -> M:
    document = session.execute(query).scalar_one_or_none()
    if document is None:
        raise NotFound(missing)
    return model.model_validate_json(document)


def _replace(session: Session, table: Table, aggregate: Body | Meeting, **columns: object) -> None:
    result = session.execute(
        update(table)
        .where(table.c.id == aggregate.id, table.c.version == aggregate.version - 1)
        .values(version=aggregate.version, document=aggregate.model_dump_json(), **columns)
    )
    if result.rowcount != 1:
        raise FailedPrecondition(f"{aggregate.id} was changed concurrently; retry")


# -------------------------------------------------------------------- bodies


def add_body(session: Session, body: Body) -> None:
    session.execute(insert(bodies).values(id=body.id, kind=body.kind.name, version=body.version,
                                          document=body.model_dump_json()))


def replace_body(session: Session, body: Body) -> None:
    _replace(session, bodies, body)


def body_exists(session: Session, body_id: str) -> bool:
    return session.execute(select(bodies.c.id).where(bodies.c.id == body_id)).first() is not None


def get_body(session: Session, body_id: str) -> Body:
    return _one(session, select(bodies.c.document).where(bodies.c.id == body_id), Body,
                f"body {body_id!r} does not exist")


def list_bodies(session: Session, kind: BodyKind | None, after_id: str | None,
                limit: int) -> list[Body]:
    query = select(bodies.c.document).order_by(bodies.c.id).limit(limit)
    if kind is not None:
        query = query.where(bodies.c.kind == kind.name)
    if after_id is not None:
        query = query.where(bodies.c.id > after_id)
    return _documents(session, query, Body)


# -------------------------------------------------------------------- meetings


@dataclass(frozen=True)
class MeetingFilter:
    body_id: str = ""
    status: MeetingStatus | None = None
    from_date: date | None = None
    to_date: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: str(value) if value else None for name, value in asdict(self).items()}


def _meeting_columns(meeting: Meeting) -> dict[str, object]:
    return {"meeting_date": meeting.date, "status": meeting.status.name}


def add_meeting(session: Session, meeting: Meeting) -> None:
    session.execute(insert(meetings).values(
        id=meeting.id, body_id=meeting.body_id, version=meeting.version,
        document=meeting.model_dump_json(), **_meeting_columns(meeting)))


def replace_meeting(session: Session, meeting: Meeting) -> None:
    _replace(session, meetings, meeting, **_meeting_columns(meeting))


def get_meeting(session: Session, meeting_id: str) -> Meeting:
    return _one(session, select(meetings.c.document).where(meetings.c.id == meeting_id),
                Meeting, f"meeting {meeting_id!r} does not exist")


def meeting_on(session: Session, body_id: str, day: date) -> Meeting | None:
    found = _documents(session, select(meetings.c.document).where(
        meetings.c.body_id == body_id, meetings.c.meeting_date == day), Meeting)
    return found[0] if found else None


def meeting_days(session: Session, body_id: str, on_or_after: date) -> set[date]:
    query = select(meetings.c.meeting_date).where(meetings.c.body_id == body_id,
                                                  meetings.c.meeting_date >= on_or_after)
    return set(session.execute(query).scalars())


def next_scheduled_meeting(session: Session, body_id: str, on_or_after: date) -> Meeting | None:
    """The body's earliest meeting on or after the day that has not been held."""
    found = _documents(session, select(meetings.c.document).where(
        meetings.c.body_id == body_id,
        meetings.c.status == MeetingStatus.SCHEDULED.name,
        meetings.c.meeting_date >= on_or_after,
    ).order_by(meetings.c.meeting_date).limit(1), Meeting)
    return found[0] if found else None


def list_meetings(session: Session, where: MeetingFilter, after: tuple[date, str] | None,
                  limit: int) -> list[Meeting]:
    query = (select(meetings.c.document)
             .order_by(meetings.c.meeting_date, meetings.c.id).limit(limit))
    if where.body_id:
        query = query.where(meetings.c.body_id == where.body_id)
    if where.status is not None:
        query = query.where(meetings.c.status == where.status.name)
    if where.from_date is not None:
        query = query.where(meetings.c.meeting_date >= where.from_date)
    if where.to_date is not None:
        query = query.where(meetings.c.meeting_date <= where.to_date)
    if after is not None:
        day, last_id = after
        query = query.where(or_(meetings.c.meeting_date > day,
                                and_(meetings.c.meeting_date == day, meetings.c.id > last_id)))
    return _documents(session, query, Meeting)


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


def add_decision(session: Session, decision: Decision) -> None:
    subject = decision.subject
    session.execute(insert(decisions).values(
        id=decision.id, body_id=decision.body_id, meeting_id=decision.meeting_id,
        subject_type=subject.aggregate_type if subject else None,
        subject_id=subject.aggregate_id if subject else None,
        decided_at=decision.decided_at, document=decision.model_dump_json()))


def get_decision(session: Session, decision_id: str) -> Decision:
    return _one(session, select(decisions.c.document).where(decisions.c.id == decision_id),
                Decision, f"decision {decision_id!r} does not exist")


def _about(query: Select[Any], subject: AggregateRef) -> Select[Any]:
    return query.where(decisions.c.subject_type == subject.aggregate_type,
                       decisions.c.subject_id == subject.aggregate_id)


def decisions_about(session: Session, subject: AggregateRef) -> list[Decision]:
    return _documents(session, _about(select(decisions.c.document), subject), Decision)


def list_decisions(session: Session, body_id: str, subject: AggregateRef | None,
                   after: tuple[datetime, str] | None, limit: int) -> list[Decision]:
    query = (select(decisions.c.document)
             .order_by(decisions.c.decided_at, decisions.c.id).limit(limit))
    if body_id:
        query = query.where(decisions.c.body_id == body_id)
    if subject is not None:
        query = _about(query, subject)
    if after is not None:
        at, last_id = after
        query = query.where(or_(decisions.c.decided_at > at,
                                and_(decisions.c.decided_at == at, decisions.c.id > last_id)))
    return _documents(session, query, Decision)


# -------------------------------------------------------------------- involvement


@dataclass(frozen=True)
class InvolvementFilter:
    project_id: str = ""
    arc: Arc | None = None
    kind: InvolvementKind | None = None
    from_date: date | None = None
    to_date: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: str(value) if value else None for name, value in asdict(self).items()}


def add_activity(session: Session, activity: InvolvementActivity) -> None:
    session.execute(insert(involvement_activities).values(
        id=activity.id, project_id=activity.project_id,
        arc=activity.arc.name if activity.arc else None, kind=activity.kind.name,
        activity_date=activity.activity_date, document=activity.model_dump_json()))


def find_activity_by_key(session: Session, key: str) -> InvolvementActivity | None:
    query = (select(involvement_activities.c.document)
             .join(involvement_keys, involvement_keys.c.activity_id == involvement_activities.c.id)
             .where(involvement_keys.c.key == key))
    found = _documents(session, query, InvolvementActivity)
    return found[0] if found else None


def remember_key(session: Session, key: str, activity_id: str) -> None:
    session.execute(insert(involvement_keys).values(key=key, activity_id=activity_id))


def list_activities(session: Session, where: InvolvementFilter,
                    after: tuple[date, str] | None = None,
                    limit: int | None = None) -> list[InvolvementActivity]:
    table = involvement_activities
    query = select(table.c.document).order_by(table.c.activity_date, table.c.id).limit(limit)
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
    if after is not None:
        day, last_id = after
        query = query.where(or_(table.c.activity_date > day,
                                and_(table.c.activity_date == day, table.c.id > last_id)))
    return _documents(session, query, InvolvementActivity)
