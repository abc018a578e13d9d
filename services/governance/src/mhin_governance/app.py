"""Governance use cases: each one transaction that loads, applies a domain rule,
stores the result and records its events in the outbox.

Governance is national: only national admins change bodies, meetings and
decisions. Involvement activities belong to the ARC that ran them (ARC members log
their own ARC's; an activity without an ARC is the national team's).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from mhin_governance import domain, events, store
from mhin_governance.domain import (
    AgendaItem,
    AgendaItemDraft,
    Body,
    BodyDraft,
    BodyKind,
    Decision,
    DecisionDraft,
    InvolvementActivity,
    InvolvementDraft,
    InvolvementReport,
    Meeting,
    Member,
    MemberDraft,
)
from mhin_platform.auth import Principal, require_national, require_write
from mhin_platform.db import Database
from mhin_platform.errors import FailedPrecondition, InvalidArgument
from mhin_platform.reference import Arc
from mhin_platform.usecases import UseCases, random_id, time_keyset, utc_now

MAX_KEY_LENGTH = 200
T = TypeVar("T")


GOVERNANCE_WRITES = "change governance records (governance is national)"


def seed_reference_bodies(database: Database, clock: Callable[[], datetime] = utc_now) -> None:
    """Create the Executive committee and the Advisory Board once (runs at every start)."""
    with database.transaction() as session:
        for body_id in domain.REFERENCE_BODIES:
            if not store.body_exists(session, body_id):
                body = domain.reference_body(body_id, clock())
                store.body_documents.add(session, body)
                events.body_created(session, body)


def add_to_agenda(session: Session, meeting: Meeting, draft: AgendaItemDraft, item_id: str,
                  now: datetime) -> tuple[Meeting, AgendaItem]:
    changed = domain.add_agenda_item(meeting, draft, item_id, now)
    store.meeting_documents.replace(session, changed)
    if draft.subject is not None:
        store.index_agenda_subject(session, changed, item_id, draft.subject)
    events.agenda_item_added(session, changed, item_id)
    return changed, changed.agenda[-1]


def place_on_executive_agenda(session: Session, draft: AgendaItemDraft, on_or_after: date,
                              now: datetime, new_id: Callable[[], str] = random_id) -> Meeting:
    """Put the item on the Executive's next meeting not yet held, on or after the day.
    When there is none, the next meeting by the Executive's schedule rule is
    scheduled for it, so a proposal never waits outside an agenda."""
    meeting = store.next_scheduled_meeting(session, domain.EXECUTIVE_ID, on_or_after)
    if meeting is None:
        executive = store.body_documents.get(session, domain.EXECUTIVE_ID)
        assert executive.schedule_rule is not None, "the reference Executive has a rule"
        taken = store.meeting_days(session, executive.id, on_or_after)
        day = domain.next_free_day(executive.schedule_rule, on_or_after, taken)
        meeting = domain.schedule_meeting(executive, day, "", new_id(), now)
        store.meeting_documents.add(session, meeting)
        events.meeting_scheduled(session, meeting)
    changed, _ = add_to_agenda(session, meeting, draft, new_id(), now)
    return changed


class GovernanceApp(UseCases):
    # -- bodies -----------------------------------------------------------------

    def create_body(self, principal: Principal, draft: BodyDraft) -> Body:
        require_national(principal, GOVERNANCE_WRITES)
        body = domain.create_body(draft, self._new_id(), self._clock())
        with self._db.transaction() as session:
            store.body_documents.add(session, body)
            events.body_created(session, body)
        return body

    def get_body(self, body_id: str) -> Body:
        return self._one(store.body_documents, body_id, "body_id")

    def list_bodies(self, kind: BodyKind | None, page_size: int,
                    page_token: str) -> tuple[list[Body], str]:
        return self._page(lambda session, after, limit: store.list_bodies(
            session, kind, after, limit), page_size, page_token,
            {"kind": kind.name if kind else None}, lambda body: [body.id],
            lambda after: str(after[0]))

    def add_member(self, principal: Principal, body_id: str,
                   draft: MemberDraft) -> tuple[Body, Member]:
        self._check_id(body_id, "body_id")
        require_national(principal, GOVERNANCE_WRITES)
        with self._db.transaction() as session:
            body = store.body_documents.get(session, body_id)
            changed = domain.add_member(body, draft, self._new_id(), self._clock())
            store.body_documents.replace(session, changed)
            member = changed.members[-1]
            events.member_added(session, changed, member.id)
        return changed, member

    def end_member_term(self, principal: Principal, body_id: str, member_id: str,
                        term_end: date) -> Body:
        self._check_id(member_id, "member_id")
        require_national(principal, GOVERNANCE_WRITES)
        return self._change(store.body_documents, body_id, "body_id",
                            lambda body: domain.end_term(body, member_id, term_end,
                                                         self._clock()),
                            lambda session, body: events.member_term_ended(session, body,
                                                                           member_id))

    # -- meetings ---------------------------------------------------------------

    def schedule_meeting(self, principal: Principal, body_id: str, day: date,
                         title: str) -> Meeting:
        self._check_id(body_id, "body_id")
        require_national(principal, GOVERNANCE_WRITES)
        with self._db.transaction() as session:
            body = store.body_documents.get(session, body_id)
            if (existing := store.meeting_on(session, body_id, day)) is not None:
                raise FailedPrecondition(f"{body.name} already meets on {day} "
                                         f"(meeting {existing.id!r})")
            meeting = domain.schedule_meeting(body, day, title, self._new_id(), self._clock())
            store.meeting_documents.add(session, meeting)
            events.meeting_scheduled(session, meeting)
        return meeting

    def generate_schedule(self, principal: Principal, body_id: str, from_date: date,
                          to_date: date) -> tuple[list[Meeting], int]:
        """The body's meetings on its rule's days in the range, and how many are new."""
        self._check_id(body_id, "body_id")
        domain.check_range(from_date, to_date, domain.MAX_SCHEDULE_YEARS)
        require_national(principal, GOVERNANCE_WRITES)
        meetings, created = [], 0
        with self._db.transaction() as session:
            body = store.body_documents.get(session, body_id)
            if body.schedule_rule is None:
                raise FailedPrecondition(f"{body.name} has no schedule rule: schedule its "
                                         "meetings one at a time")
            for day in body.schedule_rule.days_between(from_date, to_date):
                meeting = store.meeting_on(session, body_id, day)
                if meeting is None:
                    meeting = domain.schedule_meeting(body, day, "", self._new_id(),
                                                      self._clock())
                    store.meeting_documents.add(session, meeting)
                    events.meeting_scheduled(session, meeting)
                    created += 1
                meetings.append(meeting)
        return meetings, created

    def get_meeting(self, meeting_id: str) -> Meeting:
        return self._one(store.meeting_documents, meeting_id, "meeting_id")

    def list_meetings(self, where: domain.MeetingFilter, page_size: int,
                      page_token: str) -> tuple[list[Meeting], str]:
        return self._page(lambda session, after, limit: store.list_meetings(
            session, where, after, limit), page_size, page_token, where.as_dict(),
            lambda meeting: [meeting.date.isoformat(), meeting.id], _date_keyset)

    def record_attendance(self, principal: Principal, meeting_id: str,
                          member_ids: list[str]) -> Meeting:
        self._check_id(meeting_id, "meeting_id")
        require_national(principal, GOVERNANCE_WRITES)
        now = self._clock()
        with self._db.transaction() as session:
            meeting = store.meeting_documents.get(session, meeting_id)
            body = store.body_documents.get(session, meeting.body_id)
            changed = domain.record_attendance(meeting, body, member_ids, now.date(), now)
            store.meeting_documents.replace(session, changed)
            events.attendance_recorded(session, changed)
        return changed

    def add_agenda_item(self, principal: Principal, meeting_id: str,
                        draft: AgendaItemDraft) -> tuple[Meeting, AgendaItem]:
        self._check_id(meeting_id, "meeting_id")
        require_national(principal, GOVERNANCE_WRITES)
        with self._db.transaction() as session:
            meeting = store.meeting_documents.get(session, meeting_id)
            return add_to_agenda(session, meeting, draft, self._new_id(), self._clock())

    # -- decisions --------------------------------------------------------------

    def record_decision(self, principal: Principal, meeting_id: str, item_id: str,
                        draft: DecisionDraft) -> tuple[Decision, Meeting]:
        self._check_id(meeting_id, "meeting_id")
        self._check_id(item_id, "agenda_item_id")
        require_national(principal, GOVERNANCE_WRITES)
        now = self._clock()
        with self._db.transaction() as session:
            meeting = store.meeting_documents.get(session, meeting_id)
            item = meeting.item(item_id)
            earlier = store.decisions_about(session, item.subject) if item.subject else []
            changed, decision = domain.decide(meeting, item_id, draft, earlier,
                                              self._new_id(), now)
            store.meeting_documents.replace(session, changed)
            store.decision_documents.add(session, decision)
            events.decision_recorded(session, changed, decision)
            if decision.moves_to_next_meeting:
                place_on_executive_agenda(session, domain.carried_forward(item),
                                          max(meeting.date + timedelta(days=1), now.date()),
                                          now, self._new_id)
        return decision, changed

    def get_decision(self, decision_id: str) -> Decision:
        return self._one(store.decision_documents, decision_id, "decision_id")

    def list_decisions(self, body_id: str, subject: domain.AggregateRef | None,
                       page_size: int, page_token: str) -> tuple[list[Decision], str]:
        return self._page(lambda session, after, limit: store.list_decisions(
            session, body_id, subject, after, limit), page_size, page_token,
            {"body_id": body_id, "subject": subject.model_dump() if subject else None},
            lambda decision: [decision.decided_at.isoformat(), decision.id], time_keyset)

    # -- involvement ------------------------------------------------------------

    def log_involvement(self, principal: Principal, draft: InvolvementDraft,
                        idempotency_key: str = "") -> InvolvementActivity:
        if len(idempotency_key) > MAX_KEY_LENGTH:
            raise InvalidArgument("idempotency_key", f"at most {MAX_KEY_LENGTH} characters")
        activity = domain.log_involvement(draft, self._new_id(), self._clock())
        if draft.arc is None:
            require_national(principal, GOVERNANCE_WRITES)
        else:
            require_write(principal, draft.arc)
        with self._db.transaction() as session:
            if idempotency_key:
                key = f"{principal.subject}:{idempotency_key}"
                if (earlier := store.involvement_keys.find(session, key)) is not None:
                    return earlier
            store.activities.add(session, activity)
            if idempotency_key:
                store.involvement_keys.remember(session, key, activity)
            events.involvement_logged(session, activity)
        return activity

    def list_involvement(self, where: domain.InvolvementFilter, page_size: int,
                         page_token: str) -> tuple[list[InvolvementActivity], str]:
        return self._page(lambda session, after, limit: store.list_activities(
            session, where, after, limit), page_size, page_token, where.as_dict(),
            lambda activity: [activity.activity_date.isoformat(), activity.id],
            _date_keyset)

    def involvement_report(self, project_id: str, arc: Arc | None, from_date: date,
                           to_date: date) -> InvolvementReport:
        domain.check_range(from_date, to_date, domain.MAX_REPORT_YEARS)
        where = domain.InvolvementFilter(project_id=project_id, arc=arc, from_date=from_date,
                                        to_date=to_date)
        with self._db.read() as session:
            activities = store.list_activities(session, where)
        return domain.involvement_report(activities, from_date, to_date, project_id, arc)


def _date_keyset(after: list[Any]) -> tuple[date, str]:
    """The (date, id) a page token continues after."""
    return date.fromisoformat(after[0]), str(after[1])
