"""Meetings: agendas, attendance and quorum."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from mhin_governance.domain.bodies import CHAIRING_ROLES, Body, BodyKind, Member, MemberRole
from mhin_governance.domain.common import (
    SELECTION_PROPOSAL,
    AggregateType,
    DecisionOutcome,
    ExternalId,
    Papers,
)
from mhin_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from mhin_platform.models import Model, Name, Versioned
from mhin_platform.paging import Filter


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"


class Quorum(Model):
    voting_members: int
    required: int
    voting_members_present: int
    chair_present: bool
    quorate: bool

    def explain(self) -> str:
        chair = "" if self.chair_present else ", and neither the chair nor a deputy chair"
        return (f"{self.voting_members_present} of {self.voting_members} voting members "
                f"attended ({self.required} needed){chair}")


def quorum(members: Iterable[Member], day: date, present: Collection[str]) -> Quorum:
    """Quorate when more than half of the voting members on ``day`` (members whose
    term covers it, observers excepted) attend, the chair or a deputy chair among them."""
    voting = [m for m in members if m.serves_on(day) and m.role is not MemberRole.OBSERVER]
    attending = [m for m in voting if m.id in present]
    required = len(voting) // 2 + 1
    chair_present = any(m.role in CHAIRING_ROLES for m in attending)
    return Quorum(voting_members=len(voting), required=required,
                  voting_members_present=len(attending), chair_present=chair_present,
                  quorate=len(attending) >= required and chair_present)


class AggregateRef(Model):
    aggregate_type: AggregateType
    aggregate_id: ExternalId

    @property
    def is_selection_proposal(self) -> bool:
        return self.aggregate_type == SELECTION_PROPOSAL


class AgendaItemDraft(Model):
    title: Name
    description: Papers = ""
    subject: AggregateRef | None = None


class AgendaItem(AgendaItemDraft):
    id: str
    position: int
    decision_id: str = ""
    outcome: DecisionOutcome | None = None


class Meeting(Versioned):
    id: str
    body_id: str
    body_kind: BodyKind
    title: Name
    date: date
    status: MeetingStatus = MeetingStatus.SCHEDULED
    attendee_member_ids: list[str] = []
    quorum: Quorum | None = None
    agenda: list[AgendaItem] = []
    created_at: datetime

    def item(self, item_id: str) -> AgendaItem:
        found = next((item for item in self.agenda if item.id == item_id), None)
        if found is None:
            raise NotFound(f"meeting {self.id!r} has no agenda item {item_id!r}")
        return found

    def _with_item(self, item: AgendaItem, now: datetime) -> Meeting:
        agenda = [item if i.id == item.id else i for i in self.agenda]
        return self._changed(now, agenda=agenda)


def schedule_meeting(body: Body, day: date, title: str, meeting_id: str,
                     now: datetime) -> Meeting:
    return Meeting(id=meeting_id, body_id=body.id, body_kind=body.kind, date=day,
                   title=title.strip() or f"{body.name}, {day.isoformat()}",
                   created_at=now, updated_at=now)


def add_agenda_item(meeting: Meeting, draft: AgendaItemDraft, item_id: str,
                    now: datetime) -> Meeting:
    item = AgendaItem(**draft.model_dump(), id=item_id, position=len(meeting.agenda) + 1)
    return meeting._changed(now, agenda=[*meeting.agenda, item])


def record_attendance(meeting: Meeting, body: Body, member_ids: list[str], today: date,
                      now: datetime) -> Meeting:
    if meeting.date > today:
        raise FailedPrecondition(f"meeting {meeting.id!r} is on {meeting.date}: its "
                                 "attendance can be recorded from that day")
    if any(item.decision_id for item in meeting.agenda):
        raise FailedPrecondition(f"meeting {meeting.id!r} has recorded decisions: its "
                                 "attendance can no longer change")
    if not member_ids:
        raise InvalidArgument("member_ids", "name at least one member who attended")
    for index, member_id in enumerate(member_ids):
        member = body.member(member_id)
        if member is None or not member.serves_on(meeting.date):
            raise InvalidArgument(f"member_ids.{index}", f"{member_id!r} is not a member "
                                  f"of {body.name} on {meeting.date}")
        if member_id in member_ids[:index]:
            raise InvalidArgument(f"member_ids.{index}", f"{member_id!r} is named twice")
    return meeting._changed(now, status=MeetingStatus.HELD, attendee_member_ids=member_ids,
                            quorum=quorum(body.members, meeting.date, member_ids))


@dataclass(frozen=True)
class MeetingFilter(Filter):
    body_id: str = ""
    status: MeetingStatus | None = None
    from_date: date | None = None
    to_date: date | None = None
