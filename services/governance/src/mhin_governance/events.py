"""Governance events: each state change is written to the outbox in the same
transaction, keyed by the aggregate id and carrying the aggregate after the change.

Topics: ``mhin.governance.body``, ``mhin.governance.meeting``,
``mhin.governance.decision`` (DecisionRecorded, read by project-tracking) and
``mhin.governance.involvement``.
"""

from __future__ import annotations

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from mhin.governance.v1 import events_pb2
from mhin_governance import SERVICE_NAME, convert
from mhin_governance.domain import Body, Decision, InvolvementActivity, Meeting
from mhin_platform.events import topic_names
from mhin_platform.events.envelope import new_event
from mhin_platform.events.outbox import add_to_outbox

BODY_TOPIC = topic_names.GOVERNANCE_BODY
MEETING_TOPIC = topic_names.GOVERNANCE_MEETING
DECISION_TOPIC = topic_names.GOVERNANCE_DECISION
INVOLVEMENT_TOPIC = topic_names.GOVERNANCE_INVOLVEMENT
SOURCE = f"/mhin/{SERVICE_NAME}"


def _record(session: Session, topic: str, aggregate_id: str, message: Message) -> None:
    add_to_outbox(session, new_event(topic=topic, key=aggregate_id, source=SOURCE,
                                     subject=aggregate_id, message=message))


def body_created(session: Session, body: Body) -> None:
    _record(session, BODY_TOPIC, body.id,
            events_pb2.BodyCreated(body=convert.body_to_proto(body)))


def member_added(session: Session, body: Body, member_id: str) -> None:
    _record(session, BODY_TOPIC, body.id,
            events_pb2.MemberAdded(body=convert.body_to_proto(body), member_id=member_id))


def member_term_ended(session: Session, body: Body, member_id: str) -> None:
    _record(session, BODY_TOPIC, body.id,
            events_pb2.MemberTermEnded(body=convert.body_to_proto(body), member_id=member_id))


def meeting_scheduled(session: Session, meeting: Meeting) -> None:
    _record(session, MEETING_TOPIC, meeting.id,
            events_pb2.MeetingScheduled(meeting=convert.meeting_to_proto(meeting)))


def agenda_item_added(session: Session, meeting: Meeting, item_id: str) -> None:
    _record(session, MEETING_TOPIC, meeting.id, events_pb2.AgendaItemAdded(
        meeting=convert.meeting_to_proto(meeting), agenda_item_id=item_id))


def attendance_recorded(session: Session, meeting: Meeting) -> None:
    _record(session, MEETING_TOPIC, meeting.id,
            events_pb2.AttendanceRecorded(meeting=convert.meeting_to_proto(meeting)))


def decision_recorded(session: Session, meeting: Meeting, decision: Decision) -> None:
    """The decision, and its agenda item decided on the meeting."""
    _record(session, DECISION_TOPIC, decision.id, convert.decision_recorded(decision))
    _record(session, MEETING_TOPIC, meeting.id, events_pb2.AgendaItemDecided(
        meeting=convert.meeting_to_proto(meeting), agenda_item_id=decision.agenda_item_id,
        decision_id=decision.id))


def involvement_logged(session: Session, activity: InvolvementActivity) -> None:
    _record(session, INVOLVEMENT_TOPIC, activity.id,
            events_pb2.InvolvementLogged(activity=convert.activity_to_proto(activity)))
