"""The selection saga from project-tracking's side, end to end on a real broker:
a proposal made through the API is published as SelectionProposed; a real
mhin.governance.v1.DecisionRecorded published on the governance topic finalises
it (or, from any body but the Executive, is only noted); duplicates change
nothing; a decision published while the service is stopped is applied when it
starts again. Also: the reference data a fresh start publishes, once."""

from __future__ import annotations

import uuid

import grpc
import pytest

from mhin.common.v1 import arc_pb2
from mhin.governance.v1 import decision_events_pb2 as governance_pb2
from mhin.projects.v1 import project_events_pb2, project_pb2, selection_events_pb2, selection_pb2
from mhin.projects.v1 import projects_service_pb2 as projects_api
from mhin.projects.v1 import selection_service_pb2 as selection_api

pytestmark = pytest.mark.integration

GM = arc_pb2.ARC_GREATER_MANCHESTER
YH = arc_pb2.ARC_YORKSHIRE_AND_HUMBER
SL = arc_pb2.ARC_SOUTH_LONDON
REJECTED = governance_pb2.DECISION_OUTCOME_REJECTED


@pytest.fixture
def channel(module_service):
    """One service for the saga's steps (each test has its own call); the restart
    tests start their own."""
    return module_service


def call_of(make, channel, call_id) -> selection_pb2.SelectionCall:
    return make.selection_api(channel, "viewer").GetCall(
        selection_api.GetCallRequest(call_id=call_id)).call


def project_of(make, channel, project_id) -> project_pb2.Project:
    return make.projects_api(channel, "viewer").GetProject(
        projects_api.GetProjectRequest(project_id=project_id)).project


def finalised(selection_topic, call_id) -> selection_events_pb2.SelectionFinalised:
    def event(seen):
        return next((e for e in seen if e.key == call_id
                     and e.type.endswith("SelectionFinalised")), None)

    selection_topic.wait_for(event, timeout=30)
    return event(selection_topic.events).decode(selection_events_pb2.SelectionFinalised)


def statuses(call) -> dict[int, int]:
    return {application.arc: application.status for application in call.applications}


def test_an_executive_approval_selects_the_arcs_and_sets_up_the_project(
        channel, make, proposed_selection, governance, topic):
    selection, projects = topic("mhin.projects.selection"), topic("mhin.projects.project")
    call, proposal = proposed_selection(channel)
    sent = next(e for e in selection.wait_for(lambda seen: any(
        e.type.endswith("SelectionProposed") for e in seen)) if e.type.endswith("Proposed"))
    assert (sent.key, sent.decode(selection_events_pb2.SelectionProposed).proposal_id) == (
        call.id, proposal.id)

    decision = make.decision(proposal.id)
    governance(decision)
    done = finalised(selection, call.id)
    assert (done.approved, list(done.selected_arcs), done.decision_id) == (
        True, [GM, YH], decision.decision_id)

    after = call_of(make, channel, call.id)
    assert done.call == after
    assert after.status == selection_pb2.CALL_STATUS_SELECTED
    assert statuses(after) == {GM: selection_pb2.APPLICATION_STATUS_SELECTED,
                               YH: selection_pb2.APPLICATION_STATUS_SELECTED,
                               SL: selection_pb2.APPLICATION_STATUS_NOT_SELECTED}
    approved = after.proposals[0]
    assert (approved.status, approved.decision_id) == (selection_pb2.PROPOSAL_STATUS_APPROVED,
                                                       decision.decision_id)
    assert approved.decided_at == decision.decided_at

    project = project_of(make, channel, done.project_id)
    assert (project.solution_id, list(project.arcs), project.selection_call_id) == (
        call.solution_id, [GM, YH], call.id)
    assert project.phase == project_pb2.PHASE_SET_UP
    assert sorted((s.arc, s.name) for s in project.sites) == [
        (GM, "Greater Manchester community team"), (YH, "Yorkshire And Humber community team")]
    history = [e for e in projects.wait_for(lambda seen: len(
        [e for e in seen if e.key == project.id]) >= 3) if e.key == project.id]
    assert [e.type.rsplit(".", 1)[1] for e in history] == [
        "ProjectCreated", "ProjectSiteAdded", "ProjectSiteAdded"]
    assert history[-1].decode(project_events_pb2.ProjectSiteAdded).project == project


def test_a_rejection_selects_no_arc_and_lets_the_team_propose_again(
        channel, make, proposed_selection, governance, topic):
    selection = topic("mhin.projects.selection")
    call, proposal = proposed_selection(channel)
    governance(make.decision(proposal.id, REJECTED))
    done = finalised(selection, call.id)
    assert (done.approved, list(done.selected_arcs), done.project_id) == (False, [], "")

    after = call_of(make, channel, call.id)
    assert after.status == selection_pb2.CALL_STATUS_CLOSED and after.project_id == ""
    assert after.proposals[0].status == selection_pb2.PROPOSAL_STATUS_REJECTED
    assert statuses(after) == {GM: selection_pb2.APPLICATION_STATUS_NOT_SELECTED,
                               YH: selection_pb2.APPLICATION_STATUS_NOT_SELECTED,
                               SL: selection_pb2.APPLICATION_STATUS_SUBMITTED}
    again = make.selection_api(channel).ProposeSelection(selection_api.ProposeSelectionRequest(
        call_id=call.id, proposed_arcs=[SL], rationale="The remaining application."))
    assert again.call.status == selection_pb2.CALL_STATUS_PROPOSED


def test_a_decision_by_another_body_finalises_nothing(channel, make, proposed_selection,
                                                      governance, topic):
    selection = topic("mhin.projects.selection")
    call, proposal = proposed_selection(channel)
    advisory = make.decision(proposal.id, body_kind=governance_pb2.BODY_KIND_ADVISORY_BOARD)
    governance(advisory)
    noted = selection.wait_for(lambda seen: any(
        e.type.endswith("SelectionDecisionNotApplied") for e in seen))[-1]
    reason = noted.decode(selection_events_pb2.SelectionDecisionNotApplied)
    assert (reason.proposal_id, reason.decision_id) == (proposal.id, advisory.decision_id)
    assert "only an Executive decision can finalise a selection" in reason.reason

    after = call_of(make, channel, call.id)
    assert after.status == selection_pb2.CALL_STATUS_PROPOSED
    assert after.proposals[0].status == selection_pb2.PROPOSAL_STATUS_PENDING
    assert [d.decision_id for d in after.proposals[0].decisions_not_applied] == [
        advisory.decision_id]
    assert set(statuses(after).values()) == {selection_pb2.APPLICATION_STATUS_SUBMITTED}

    governance(make.decision(proposal.id))  # the Executive still decides
    assert finalised(selection, call.id).approved


def test_a_duplicated_decision_changes_nothing_the_second_time(channel, make, proposed_selection,
                                                               governance, topic):
    selection, projects = topic("mhin.projects.selection"), topic("mhin.projects.project")
    call, proposal = proposed_selection(channel)
    decision = make.decision(proposal.id)
    event_id = governance(decision)
    governance(decision, event_id=event_id)  # redelivered: the same CloudEvent
    governance(decision)  # published again by governance: a new event, the same decision
    project_id = finalised(selection, call.id).project_id
    settled_call = call_of(make, channel, call.id)

    selection.settle(3.0)
    assert [e.type for e in selection.events if e.key == call.id].count(
        "mhin.projects.v1.SelectionFinalised") == 1
    assert call_of(make, channel, call.id) == settled_call
    project_events = [e for e in projects.settle() if e.key == project_id]
    assert len(project_events) == 3  # created, two sites: once
    assert project_of(make, channel, project_id).version == 3


def test_a_decision_published_while_stopped_is_applied_on_restart(
        database_url, start_service, make, proposed_selection, governance, topic):
    # database_url first: the database outlives the service using it.
    selection = topic("mhin.projects.selection")
    runtime = start_service(database_url)
    with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
        call, proposal = proposed_selection(channel)
    selection.wait_for(lambda seen: any(
        e.key == call.id and e.type.endswith("SelectionProposed") for e in seen))
    runtime.stop()

    governance(make.decision(proposal.id))  # the Executive decides while we are down

    restarted = start_service(database_url)
    with grpc.insecure_channel(f"127.0.0.1:{restarted.port}") as channel:
        done = finalised(selection, call.id)
        after = call_of(make, channel, call.id)
        assert after.status == selection_pb2.CALL_STATUS_SELECTED
        assert statuses(after)[GM] == selection_pb2.APPLICATION_STATUS_SELECTED
        assert list(project_of(make, channel, done.project_id).arcs) == [GM, YH]


def test_an_approval_for_a_solution_with_a_project_adds_the_arcs_to_it(
        channel, make, governance, topic):
    """A call for the PCREF reference solution: the selected ARC joins mhin-project-1
    (partnerships are added, the existing pair and its sites stay)."""
    selection, projects = topic("mhin.projects.selection"), topic("mhin.projects.project")
    admin = make.selection_api(channel)
    call = admin.OpenCall(selection_api.OpenCallRequest(
        call=make.call_draft("solution-pcref"))).call
    for arc in (SL, arc_pb2.ARC_WEST):
        admin.SubmitApplication(selection_api.SubmitApplicationRequest(
            call_id=call.id, application=make.application_draft(arc)))
    admin.CloseCall(selection_api.CloseCallRequest(call_id=call.id))
    proposal = admin.ProposeSelection(selection_api.ProposeSelectionRequest(
        call_id=call.id, proposed_arcs=[SL], rationale="Scale out to London.")).proposal
    governance(make.decision(proposal.id))

    assert finalised(selection, call.id).project_id == "mhin-project-1"
    project = project_of(make, channel, "mhin-project-1")
    assert list(project.arcs) == [GM, YH, SL]
    assert [s.arc for s in project.sites] == [SL]
    history = [e for e in projects.wait_for(lambda seen: len(
        [e for e in seen if e.key == "mhin-project-1"]) >= 2) if e.key == "mhin-project-1"]
    assert [e.type.rsplit(".", 1)[1] for e in history] == ["ProjectArcsChanged",
                                                           "ProjectSiteAdded"]


def test_decisions_the_saga_cannot_place_are_dead_lettered_and_others_skipped(
        channel, make, governance, topic):
    dead_letters = topic("mhin.governance.decision.dlq")
    decision_id = f"decision-{uuid.uuid4()}"
    about_a_meeting = make.decision("meeting-7", decision_id=decision_id)
    about_a_meeting.subject.aggregate_type = "mhin.governance.v1.Meeting"
    governance(about_a_meeting)  # not the saga's: skipped
    unknown = make.decision("no-such-proposal", decision_id=decision_id)
    governance(unknown)  # same key, so applied after the first: dead-lettered
    dead_letters.wait_for(lambda seen: any(e.key == decision_id for e in seen), timeout=30)
    dead_letters.settle()
    letters = [r for r in dead_letters.records if r.key == decision_id.encode()]
    assert len(letters) == 1
    reason = dict(letters[0].headers)["dlq_reason"].decode()
    assert "subject.aggregate_id" in reason and "no-such-proposal" in reason


def test_a_fresh_start_publishes_the_reference_projects_once(start_service, make, topic):
    projects = topic("mhin.projects.project")
    start_service().stop()
    created = projects.wait_for(lambda seen: {e.key for e in seen} >= {
        "mhin-project-1", "mhin-project-2", "mhin-project-3"})
    first = projects.events[:]
    runtime = start_service()  # the same database: nothing is missing
    projects.settle()
    assert projects.events == first
    mine = [e for e in created if e.key.startswith("mhin-project-")]
    assert all(e.type == "mhin.projects.v1.ProjectCreated" for e in mine)
    pcref = next(e for e in mine if e.key == "mhin-project-1").decode(
        project_events_pb2.ProjectCreated).project
    with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
        assert project_of(make, channel, "mhin-project-1") == pcref
