"""Governance: the pure rules. No I/O; unit-tested on their own."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from mhin_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from mhin_platform.models import Model, Name, RequiredText, Text, Versioned
from mhin_platform.paging import Filter
from mhin_platform.reference import Arc

EXECUTIVE_ID = "executive"
ADVISORY_BOARD_ID = "advisory-board"
SELECTION_PROPOSAL = "mhin.projects.v1.SelectionProposal"
MAX_SCHEDULE_YEARS = 5
MAX_REPORT_YEARS = 10

Papers = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10000)]
ProjectId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=200)]
AggregateType = Annotated[str, StringConstraints(
    pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\.[A-Z][A-Za-z0-9]*$", max_length=200)]


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


class Weekday(StrEnum):
    # In date.weekday() order: the position is the weekday number.
    MONDAY = "Monday"
    TUESDAY = "Tuesday"
    WEDNESDAY = "Wednesday"
    THURSDAY = "Thursday"
    FRIDAY = "Friday"
    SATURDAY = "Saturday"
    SUNDAY = "Sunday"


class MeetingStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"


class DecisionOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    DEFERRED = "deferred"


class InvolvementKind(StrEnum):
    ADVISORY_GROUP_MEETING = "advisory group meeting"
    CO_DESIGN_WORKSHOP = "co-design workshop"
    DOCUMENT_REVIEW = "document review"
    RECRUITMENT = "recruitment"
    DISSEMINATION = "dissemination"
    OTHER = "other"


def check_range(from_date: date, to_date: date, max_years: int | None = None) -> None:
    """A range of days given as request fields ``from_date`` and ``to_date``."""
    if to_date < from_date:
        raise InvalidArgument("to_date", f"{to_date} is before from_date {from_date}")
    if max_years is not None and (to_date - from_date).days > 366 * max_years:
        raise InvalidArgument("to_date", f"the range may span at most {max_years} years")


# -------------------------------------------------------------------- schedule


def _add_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


class ScheduleRule(Model):
    """Meets in every ``interval_months``-th month counted from ``first_month``, on the
    ``week_of_month``-th ``weekday`` of the month."""

    interval_months: Literal[1, 2, 3, 4, 6, 12]
    first_month: int = Field(ge=1, le=12)
    week_of_month: int = Field(ge=1, le=4)
    weekday: Weekday

    def meets_in(self, month: int) -> bool:
        return (month - self.first_month) % self.interval_months == 0

    def day_in(self, year: int, month: int) -> date:
        first = date(year, month, 1)
        offset = (list(Weekday).index(self.weekday) - first.weekday()) % 7
        return first + timedelta(days=offset + 7 * (self.week_of_month - 1))

    def days_between(self, start: date, end: date) -> list[date]:
        days = []
        year, month = start.year, start.month
        while date(year, month, 1) <= end:
            if self.meets_in(month) and start <= (day := self.day_in(year, month)) <= end:
                days.append(day)
            year, month = _add_month(year, month)
        return days

    def next_day(self, on_or_after: date) -> date:
        # Meetings are at most 12 months apart, so 13 months always hold the next one.
        return self.days_between(on_or_after, on_or_after + timedelta(days=400))[0]


def next_free_day(rule: ScheduleRule, on_or_after: date, taken: Collection[date]) -> date:
    """The first day of the rule on or after ``on_or_after`` with no meeting yet."""
    day = rule.next_day(on_or_after)
    while day in taken:
        day = rule.next_day(day + timedelta(days=1))
    return day


# The Executive meets bi-monthly: January, March, ..., November, second Tuesday.
EXECUTIVE_RULE = ScheduleRule(interval_months=2, first_month=1, week_of_month=2,
                              weekday=Weekday.TUESDAY)


# -------------------------------------------------------------------- bodies


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


# -------------------------------------------------------------------- meetings


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


# -------------------------------------------------------------------- decisions


class DecisionDraft(Model):
    motion: RequiredText
    outcome: DecisionOutcome


class Decision(Model):
    id: str
    body_id: str
    body_kind: BodyKind
    meeting_id: str
    meeting_date: date
    agenda_item_id: str
    motion: str
    outcome: DecisionOutcome
    subject: AggregateRef | None = None
    decided_at: datetime
    version: int = 1

    @property
    def is_final(self) -> bool:
        return self.outcome is not DecisionOutcome.DEFERRED

    @property
    def moves_to_next_meeting(self) -> bool:
        """A deferred selection proposal goes on to the Executive's next meeting, so
        that the saga always reaches an approval or a rejection."""
        return (not self.is_final and self.subject is not None
                and self.subject.is_selection_proposal)


def decide(meeting: Meeting, item_id: str, draft: DecisionDraft,
           earlier_on_subject: Iterable[Decision], decision_id: str,
           now: datetime) -> tuple[Meeting, Decision]:
    """The meeting with the item decided, and the decision. ``earlier_on_subject``
    are the decisions already taken about the item's subject, at any meeting."""
    item = meeting.item(item_id)
    if item.subject is not None and item.subject.is_selection_proposal:
        _check_may_finalise(meeting, item.subject, earlier_on_subject)
    if meeting.status is not MeetingStatus.HELD or meeting.quorum is None:
        raise FailedPrecondition(f"meeting {meeting.id!r} on {meeting.date} has not been held: "
                                 "record its attendance before its decisions")
    if not meeting.quorum.quorate:
        raise FailedPrecondition(f"meeting {meeting.id!r} was not quorate "
                                 f"({meeting.quorum.explain()}): it cannot take decisions")
    if item.decision_id:
        raise FailedPrecondition(f"agenda item {item.id!r} was already decided: "
                                 f"{item.outcome.name if item.outcome else ''} by decision "
                                 f"{item.decision_id!r}")
    decision = Decision(id=decision_id, body_id=meeting.body_id, body_kind=meeting.body_kind,
                        meeting_id=meeting.id, meeting_date=meeting.date, agenda_item_id=item.id,
                        motion=draft.motion, outcome=draft.outcome, subject=item.subject,
                        decided_at=now)
    decided = item.model_copy(update={"decision_id": decision_id, "outcome": draft.outcome})
    return meeting._with_item(decided, now), decision


def _check_may_finalise(meeting: Meeting, proposal: AggregateRef,
                        earlier: Iterable[Decision]) -> None:
    if meeting.body_kind is not BodyKind.EXECUTIVE:
        raise FailedPrecondition(
            f"only the Executive committee can decide a selection proposal; this meeting is "
            f"of the {meeting.body_kind.value} {meeting.body_id!r}, which may discuss it "
            "but not decide it")
    final = next((d for d in earlier if d.is_final), None)
    if final is not None:
        raise FailedPrecondition(
            f"selection proposal {proposal.aggregate_id!r} was already "
            f"{final.outcome.value} by decision {final.id!r} on {final.meeting_date}")


def carried_forward(item: AgendaItem) -> AgendaItemDraft:
    """A deferred item as it goes on a later meeting's agenda."""
    return AgendaItemDraft(title=item.title, description=item.description, subject=item.subject)


# -------------------------------------------------------------------- selection saga


class SelectionProposal(Model):
    proposal_id: ExternalId
    call_id: ExternalId
    solution_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    proposed_arcs: Annotated[list[Arc], Field(min_length=1, max_length=len(Arc))]
    rationale: Text = ""

    @property
    def ref(self) -> AggregateRef:
        return AggregateRef(aggregate_type=SELECTION_PROPOSAL, aggregate_id=self.proposal_id)


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def proposal_agenda_item(proposal: SelectionProposal) -> AgendaItemDraft:
    arcs = _listed([f"ARC {arc.value}" for arc in proposal.proposed_arcs])
    title = f"Selection proposal: {arcs}"
    if len(title) > 200:
        title = f"Selection proposal: {len(proposal.proposed_arcs)} ARCs"
    papers = [f"ARCs put forward: {arcs}.", f"Selection call: {proposal.call_id}."]
    if proposal.solution_id:
        papers.append(f"Solution: {proposal.solution_id}.")
    if proposal.rationale:
        papers.append(f"\n{proposal.rationale}")
    return AgendaItemDraft(title=title, description="\n".join(papers), subject=proposal.ref)


# -------------------------------------------------------------------- involvement


def _quarter_hours(hours: Decimal) -> Decimal:
    if (hours * 4) % 1:
        raise ValueError(f"{hours} is not in quarter hours (e.g. 1.25, 7.5)")
    return hours


Hours = Annotated[Decimal, Field(gt=0, le=1_000_000), AfterValidator(_quarter_hours)]


class InvolvementDraft(Model):
    project_id: ProjectId
    arc: Arc | None = None  # None: the national team's activity
    kind: InvolvementKind
    title: Name
    activity_date: date
    people: int = Field(ge=1, le=100_000)
    experts_by_experience: int = Field(ge=0)
    hours: Hours
    notes: Text = ""

    @field_validator("experts_by_experience")
    @classmethod
    def _among_the_people(cls, experts: int, info: ValidationInfo) -> int:
        people = info.data.get("people")
        if people is not None and experts > people:
            raise ValueError(f"{experts} is more than the {people} people involved")
        return experts


class InvolvementActivity(InvolvementDraft):
    id: str
    recorded_at: datetime
    version: int = 1


def log_involvement(draft: InvolvementDraft, activity_id: str, now: datetime,
                    field: str = "activity.activity_date") -> InvolvementActivity:
    if draft.activity_date > now.date():
        raise InvalidArgument(field, f"{draft.activity_date} is in the future: log "
                                     "activities that have taken place")
    return InvolvementActivity(**draft.model_dump(), id=activity_id, recorded_at=now)


class InvolvementTotals(Model):
    activities: int = 0
    people: int = 0
    experts_by_experience: int = 0
    hours: Decimal = Decimal(0)

    def plus(self, activity: InvolvementActivity) -> InvolvementTotals:
        return InvolvementTotals(activities=self.activities + 1,
                                 people=self.people + activity.people,
                                 experts_by_experience=(self.experts_by_experience
                                                        + activity.experts_by_experience),
                                 hours=self.hours + activity.hours)


class InvolvementReport(Model):
    project_id: str
    arc: Arc | None
    from_date: date
    to_date: date
    totals: InvolvementTotals
    by_kind: dict[InvolvementKind, InvolvementTotals]


def involvement_report(activities: Iterable[InvolvementActivity], from_date: date,
                       to_date: date, project_id: str = "",
                       arc: Arc | None = None) -> InvolvementReport:
    """Totals of the activities of ``project_id`` (all if empty) and ``arc`` (all if
    None) from ``from_date`` to ``to_date`` inclusive, overall and per kind (the
    kinds that occurred, in InvolvementKind order). People are counted per activity:
    someone at two workshops counts twice."""
    check_range(from_date, to_date)
    totals = InvolvementTotals()
    by_kind: dict[InvolvementKind, InvolvementTotals] = {}
    for activity in activities:
        if not (from_date <= activity.activity_date <= to_date
                and project_id in ("", activity.project_id)
                and arc in (None, activity.arc)):
            continue
        totals = totals.plus(activity)
        by_kind[activity.kind] = by_kind.get(activity.kind, InvolvementTotals()).plus(activity)
    ordered = {kind: by_kind[kind] for kind in InvolvementKind if kind in by_kind}
    return InvolvementReport(project_id=project_id, arc=arc, from_date=from_date,
                             to_date=to_date, totals=totals, by_kind=ordered)


# ------------------------------------------------------------------ list filters


@dataclass(frozen=True)
class MeetingFilter(Filter):
    body_id: str = ""
    status: MeetingStatus | None = None
    from_date: date | None = None
    to_date: date | None = None


@dataclass(frozen=True)
class InvolvementFilter(Filter):
    project_id: str = ""
    arc: Arc | None = None
    kind: InvolvementKind | None = None
    from_date: date | None = None
    to_date: date | None = None
