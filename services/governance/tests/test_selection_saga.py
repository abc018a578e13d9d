"""The selection saga, governance's side, with real SelectionProposed events on the
real `mhin.projects.selection` topic: proposals land on the next Executive meeting's
agenda once, across redeliveries and restarts; the Executive's decision is
published as DecisionRecorded; no other body can decide a proposal."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import grpc
import pytest

from mhin.common.v1 import arc_pb2, ids_pb2
from mhin.governance.v1 import decision_events_pb2 as dpb
from mhin.governance.v1 import events_pb2
from mhin.governance.v1 import governance_pb2 as pb
from mhin_devkit.harness import TopicReader
from mhin_governance.consumers import SELECTION_TOPIC
from mhin_governance.domain import EXECUTIVE_RULE, SELECTION_PROPOSAL
from mhin_platform.events.dead_letter import REASON_HEADER as DLQ_REASON
from mhin_platform.protoconv import date_from_proto, date_to_proto

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).date()
PAIR = [arc_pb2.ARC_GREATER_MANCHESTER, arc_pb2.ARC_YORKSHIRE_AND_HUMBER]


def new_proposal_id() -> str:
    return f"proposal-{uuid.uuid4()}"


def subject(proposal_id: str) -> ids_pb2.AggregateRef:
    return ids_pb2.AggregateRef(aggregate_type=SELECTION_PROPOSAL, aggregate_id=proposal_id)


def executive_items(api, proposal_id: str) -> list[tuple[pb.Meeting, pb.AgendaItem]]:
    """Every agenda item about the proposal on any Executive meeting."""
    meetings = api.ListMeetings(pb.ListMeetingsRequest(body_id="executive",
                                                       page={"page_size": 200})).meetings
    return [(meeting, item) for meeting in meetings for item in meeting.agenda
            if item.subject == subject(proposal_id)]


def placed(api, proposal_id: str, wait_until) -> tuple[pb.Meeting, pb.AgendaItem]:
    return wait_until(lambda: executive_items(api, proposal_id),
                      f"proposal {proposal_id} on an Executive agenda")[0]


def quorate(api, meeting_id: str, body_id: str = "executive") -> None:
    ids = [api.AddMember(pb.AddMemberRequest(
        body_id=body_id, name=name, role=role, term_start=date_to_proto(date(2024, 1, 1)),
    )).member.id for name, role in (("Programme lead", pb.MEMBER_ROLE_CHAIR),
                                    ("ARC director", pb.MEMBER_ROLE_MEMBER))]
    held = api.RecordAttendance(pb.RecordAttendanceRequest(meeting_id=meeting_id,
                                                           member_ids=ids)).meeting
    assert held.quorum.quorate


def failure_details(call, code=grpc.StatusCode.FAILED_PRECONDITION) -> str:
    """The details of ``call()``, which must fail with ``code``."""
    with pytest.raises(grpc.RpcError) as raised:
        call()
    assert raised.value.code() == code, raised.value.details()
    return raised.value.details()


def decide(api, meeting_id: str, item_id: str, outcome):
    return api.RecordDecision(pb.RecordDecisionRequest(
        meeting_id=meeting_id, agenda_item_id=item_id, outcome=outcome,
        motion="That ARC Greater Manchester and ARC Yorkshire and Humber be selected."))


def test_a_proposal_lands_on_the_next_executive_meeting_and_its_decision_is_published(
        governance_with_saga, as_role, topics, project_tracking, wait_until):
    decision_topic, meeting_topic = topics("decision"), topics("meeting")
    api = as_role(governance_with_saga, "national_admin")
    api.ScheduleMeeting(pb.ScheduleMeetingRequest(body_id="executive",
                                                  date=date_to_proto(TODAY - timedelta(days=7))))
    later = api.ScheduleMeeting(pb.ScheduleMeetingRequest(
        body_id="executive", date=date_to_proto(TODAY + timedelta(days=30)))).meeting
    today = api.ScheduleMeeting(pb.ScheduleMeetingRequest(
        body_id="executive", date=date_to_proto(TODAY))).meeting
    proposal_id = new_proposal_id()
    project_tracking(proposal_id, call_id="call-pcref", solution_id="pcref",
                     proposed_arcs=PAIR, rationale="Both ARCs have PCREF pilot trusts.")

    meeting, item = placed(api, proposal_id, wait_until)
    assert meeting.id == today.id != later.id
    assert item.title == "Selection proposal: ARC Greater Manchester and ARC Yorkshire and Humber"
    assert "call-pcref" in item.description and "PCREF pilot trusts" in item.description
    meeting_topic.wait_for(lambda events: any(
        e.key == today.id and e.type.endswith("AgendaItemAdded")
        and e.decode(events_pb2.AgendaItemAdded).agenda_item_id == item.id for e in events))

    quorate(api, today.id)
    decision = decide(api, today.id, item.id, dpb.DECISION_OUTCOME_APPROVED).decision
    assert decision.subject == subject(proposal_id)

    [published] = decision_topic.wait_for_count(1)
    headers = dict(decision_topic.records[0].headers)
    assert headers["ce_type"] == b"mhin.governance.v1.DecisionRecorded"
    assert headers["ce_source"] == b"/mhin/governance" and headers["ce_specversion"] == b"1.0"
    assert published.key == decision.id
    recorded = published.decode(dpb.DecisionRecorded)
    assert recorded.subject == ids_pb2.AggregateRef(
        aggregate_type="mhin.projects.v1.SelectionProposal", aggregate_id=proposal_id)
    assert (recorded.body_id, recorded.body_kind, recorded.outcome, recorded.meeting_id) == (
        "executive", dpb.BODY_KIND_EXECUTIVE, dpb.DECISION_OUTCOME_APPROVED, today.id)
    assert [d.id for d in api.ListDecisions(pb.ListDecisionsRequest(
        subject=subject(proposal_id))).decisions] == [decision.id]

    again = api.AddAgendaItem(pb.AddAgendaItemRequest(
        meeting_id=later.id, title="Again", subject=subject(proposal_id))).item
    assert "already approved" in failure_details(
        lambda: decide(api, later.id, again.id, dpb.DECISION_OUTCOME_REJECTED))


def test_with_no_executive_meeting_ahead_one_is_scheduled_by_the_bi_monthly_rule(
        governance_with_saga, as_role, topics, project_tracking, wait_until):
    meeting_topic = topics("meeting")
    api = as_role(governance_with_saga, "national_admin")
    proposal_id = new_proposal_id()
    project_tracking(proposal_id, proposed_arcs=PAIR)
    meeting, _ = placed(api, proposal_id, wait_until)
    assert date_from_proto(meeting.date, "date") == EXECUTIVE_RULE.next_day(TODAY)
    assert meeting.status == pb.MEETING_STATUS_SCHEDULED
    history = meeting_topic.wait_for(lambda events: any(
        e.key == meeting.id and e.type.endswith("AgendaItemAdded") for e in events))
    assert [e.type.rsplit(".", 1)[1] for e in history if e.key == meeting.id][:2] == [
        "MeetingScheduled", "AgendaItemAdded"]

    second = new_proposal_id()
    project_tracking(second, proposed_arcs=PAIR)
    assert placed(api, second, wait_until)[0].id == meeting.id, "the same next meeting"


def test_a_redelivered_or_republished_proposal_adds_nothing_across_restarts(
        start_governance, database_url, as_role, project_tracking, wait_until, topics):
    meeting_topic = topics("meeting")
    proposal_id = new_proposal_id()
    call_id = f"call-{uuid.uuid4()}"  # one key, one partition: events are applied in order
    with start_governance(database_url) as running:
        api = as_role(running.channel, "national_admin")
        executive_meeting = api.ScheduleMeeting(pb.ScheduleMeetingRequest(
            body_id="executive", date=date_to_proto(TODAY))).meeting

    # governance is down: the proposal waits on the topic
    original = project_tracking(proposal_id, call_id=call_id, proposed_arcs=PAIR)

    with start_governance(database_url) as running:
        api = as_role(running.channel, "national_admin")
        meeting, _ = placed(api, proposal_id, wait_until)
        assert meeting.id == executive_meeting.id
        project_tracking(again=original)                                # redelivered
        project_tracking(proposal_id, call_id=call_id, proposed_arcs=PAIR)  # republished
        marker = new_proposal_id()
        project_tracking(marker, call_id=call_id, proposed_arcs=PAIR)
        placed(api, marker, wait_until)  # applied after the two copies before it
        assert len(executive_items(api, proposal_id)) == 1

    project_tracking(again=original)
    marker = new_proposal_id()
    project_tracking(marker, call_id=call_id, proposed_arcs=PAIR)
    with start_governance(database_url) as running:
        api = as_role(running.channel, "national_admin")
        placed(api, marker, wait_until)
        assert len(executive_items(api, proposal_id)) == 1

    def subjects_added() -> list[str]:
        return [added_subject(e.decode(events_pb2.AgendaItemAdded)) for e in meeting_topic.events
                if e.type.endswith("AgendaItemAdded")]

    meeting_topic.wait_for(lambda _: marker in subjects_added())
    assert subjects_added().count(proposal_id) == 1


def added_subject(event: events_pb2.AgendaItemAdded) -> str:
    return next(item.subject.aggregate_id for item in event.meeting.agenda
                if item.id == event.agenda_item_id)


def test_only_the_executive_can_decide_a_selection_proposal(governance_with_saga, as_role,
                                                            topics,
                                                            project_tracking, wait_until):
    decision_topic = topics("decision")
    api = as_role(governance_with_saga, "national_admin")
    proposal_id = new_proposal_id()
    project_tracking(proposal_id, proposed_arcs=PAIR)
    placed(api, proposal_id, wait_until)
    board = api.ScheduleMeeting(pb.ScheduleMeetingRequest(
        body_id="advisory-board", date=date_to_proto(TODAY))).meeting
    item = api.AddAgendaItem(pb.AddAgendaItemRequest(
        meeting_id=board.id, title="Advice on the selection", subject=subject(proposal_id))).item
    quorate(api, board.id, "advisory-board")
    details = failure_details(lambda: decide(api, board.id, item.id,
                                             dpb.DECISION_OUTCOME_APPROVED))
    assert "only the Executive committee can decide a selection proposal" in details
    assert api.GetMeeting(pb.GetMeetingRequest(meeting_id=board.id)).meeting.agenda[0] == item
    assert decision_topic.settle() == []


def test_a_deferred_proposal_moves_to_the_executives_next_meeting(
        governance_with_saga, as_role, project_tracking, wait_until, topics):
    decision_topic = topics("decision")
    api = as_role(governance_with_saga, "national_admin")
    today = api.ScheduleMeeting(pb.ScheduleMeetingRequest(
        body_id="executive", date=date_to_proto(TODAY))).meeting
    proposal_id = new_proposal_id()
    project_tracking(proposal_id, proposed_arcs=PAIR)
    _, item = placed(api, proposal_id, wait_until)
    quorate(api, today.id)
    deferred = decide(api, today.id, item.id, dpb.DECISION_OUTCOME_DEFERRED).decision

    [(first, _), (next_meeting, carried)] = sorted(
        executive_items(api, proposal_id), key=lambda pair: date_from_proto(pair[0].date, "d"))
    assert first.id == today.id
    assert date_from_proto(next_meeting.date, "date") == EXECUTIVE_RULE.next_day(
        TODAY + timedelta(days=1))
    assert (carried.title, carried.decision_id) == (item.title, "")
    events = decision_topic.wait_for_count(1)
    assert events[0].decode(dpb.DecisionRecorded).outcome == dpb.DECISION_OUTCOME_DEFERRED
    assert events[0].key == deferred.id


def test_an_undecodable_proposal_is_dead_lettered_and_the_saga_goes_on(
        governance_with_saga, as_role, project_tracking, wait_until, kafka_bootstrap):
    dead_letters = TopicReader(kafka_bootstrap, f"{SELECTION_TOPIC}.dlq")
    api = as_role(governance_with_saga, "national_admin")
    call_id = f"call-{uuid.uuid4()}"
    project_tracking("", call_id=call_id, proposed_arcs=PAIR)  # no proposal id
    dead_letters.wait_for(lambda events: any(e.key == call_id for e in events))
    record = next(r for r in dead_letters.records if r.key == call_id.encode())
    assert dict(record.headers)[DLQ_REASON].startswith(b"invalid: proposal_id")
    proposal_id = new_proposal_id()
    project_tracking(proposal_id, proposed_arcs=PAIR)
    placed(api, proposal_id, wait_until)
    dead_letters.close()
