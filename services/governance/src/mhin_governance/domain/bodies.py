"""Governance bodies and their members' terms."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints, ValidationInfo, field_validator

from mhin_governance.domain.common import ADVISORY_BOARD_ID, EXECUTIVE_ID
from mhin_governance.domain.schedule import EXECUTIVE_RULE, ScheduleRule
from mhin_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from mhin_platform.models import Model, Name, Text, Versioned


class BodyKind(StrEnum):
    EXECUTIVE = "Executive committee"
    ADVISORY_BOARD = "Advisory Board"
    ADVISORY_GROUP = "advisory group"


class MemberRole(StrEnum):
    CHAIR = "chair"
    DEPUTY_CHAIR = "deputy chair"
    MEMBER = "member"
    EXPERT_BY_EXPERIENCE = "expert by experience"
    OBSERVER = "observer"


CHAIRING_ROLES = frozenset({MemberRole.CHAIR, MemberRole.DEPUTY_CHAIR})


class MemberDraft(Model):
    name: Name
    role: MemberRole
    term_start: date
    term_end: date | None = None

    @field_validator("term_end")
    @classmethod
    def _not_before_start(cls, term_end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("term_start")
        if term_end is not None and start is not None and term_end < start:
            raise ValueError(f"{term_end} is before term_start {start}")
        return term_end


class Member(MemberDraft):
    id: str

    def serves_on(self, day: date) -> bool:
        return self.term_start <= day and (self.term_end is None or day <= self.term_end)

    def overlaps(self, start: date, end: date | None) -> bool:
        return ((end is None or self.term_start <= end)
                and (self.term_end is None or start <= self.term_end))


class BodyDraft(Model):
    name: Name
    kind: BodyKind
    description: Text = ""
    project_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    schedule_rule: ScheduleRule | None = None


class Body(BodyDraft, Versioned):
    id: str
    members: list[Member] = []
    created_at: datetime

    def member(self, member_id: str) -> Member | None:
        return next((m for m in self.members if m.id == member_id), None)


REFERENCE_BODIES: dict[str, BodyDraft] = {
    EXECUTIVE_ID: BodyDraft(
        name="Executive Committee", kind=BodyKind.EXECUTIVE, schedule_rule=EXECUTIVE_RULE,
        description="Runs the network. Chaired by the programme lead; meets bi-monthly. "
                    "Only its decisions finalise an ARC selection."),
    ADVISORY_BOARD_ID: BodyDraft(
        name="Advisory Board", kind=BodyKind.ADVISORY_BOARD,
        description="Advises the network; Experts by Experience are among its members."),
}


def create_body(draft: BodyDraft, body_id: str, now: datetime) -> Body:
    if draft.kind is not BodyKind.ADVISORY_GROUP:
        reference_id = next(i for i, d in REFERENCE_BODIES.items() if d.kind is draft.kind)
        raise FailedPrecondition(
            f"the network has one {draft.kind.value} (body {reference_id!r}); only advisory "
            "groups can be created")
    return _new_body(draft, body_id, now)


def reference_body(body_id: str, now: datetime) -> Body:
    return _new_body(REFERENCE_BODIES[body_id], body_id, now)


def _new_body(draft: BodyDraft, body_id: str, now: datetime) -> Body:
    return Body(**draft.model_dump(), id=body_id, created_at=now, updated_at=now)


def add_member(body: Body, draft: MemberDraft, member_id: str, now: datetime) -> Body:
    if draft.role is MemberRole.CHAIR:
        clash = next((m for m in body.members if m.role is MemberRole.CHAIR
                      and m.overlaps(draft.term_start, draft.term_end)), None)
        if clash is not None:
            raise FailedPrecondition(
                f"{body.name} already has a chair, {clash.name}, from {clash.term_start}"
                f"{f' to {clash.term_end}' if clash.term_end else ''}; a body has one chair "
                "at a time: end that term first")
    member = Member(**draft.model_dump(), id=member_id)
    return body._changed(now, members=[*body.members, member])


def end_term(body: Body, member_id: str, term_end: date, now: datetime) -> Body | None:
    """The body with the term ending on ``term_end``; None if it already does."""
    member = body.member(member_id)
    if member is None:
        raise NotFound(f"body {body.id!r} has no member {member_id!r}")
    if term_end < member.term_start:
        raise InvalidArgument("term_end", f"{term_end} is before the term's start "
                                          f"{member.term_start}")
    if member.term_end == term_end:
        return None
    if member.term_end is not None and term_end > member.term_end:
        raise FailedPrecondition(f"the term of {member.name} ended on {member.term_end}; "
                                 "a term is not extended, add a new one instead")
    ended = member.model_copy(update={"term_end": term_end})
    return body._changed(now, members=[ended if m.id == member_id else m for m in body.members])
