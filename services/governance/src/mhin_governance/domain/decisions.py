"""Decisions recorded at a meeting about its agenda items."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from mhin_governance.domain.bodies import BodyKind
from mhin_governance.domain.common import DecisionOutcome
from mhin_governance.domain.meetings import (
    AgendaItem,
    AgendaItemDraft,
    AggregateRef,
    Meeting,
    MeetingStatus,
)
from mhin_platform.errors import FailedPrecondition
from mhin_platform.models import Model, RequiredText


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
