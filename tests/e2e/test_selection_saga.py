"""The selection saga between the real project-tracking and the real governance
(and the real catalogue the solution comes from), choreographed through Kafka only:
a proposal made through project-tracking's API lands on the Executive's meeting in
governance; the Executive's decision recorded there finalises the selection in
project-tracking, which creates the project with the ARC pair and their sites.
It survives either service being stopped mid-saga, and a decision delivered twice
is applied once."""

from __future__ import annotations

import uuid

import pytest

from mhin.common.v1 import arc_pb2
from mhin.governance.v1 import decision_events_pb2
from mhin.projects.v1 import project_pb2, projects_service_pb2, selection_pb2
from mhin.projects.v1 import selection_service_pb2 as selection_api
from mhin_platform.events.producer import create_producer

pytestmark = pytest.mark.integration

GM, YH = arc_pb2.ARC_GREATER_MANCHESTER, arc_pb2.ARC_YORKSHIRE_AND_HUMBER
SAGA = ("solution-catalogue", "project-tracking", "governance")
SITES = {GM: [("Oldham community mental health team", "Pennine Care NHS FT")],
         YH: [("Leeds community mental health team", "Leeds and York Partnership NHS FT")]}


@pytest.fixture
def topics(platform):
    """Readers of the saga's topics, opened before anything starts."""
    return {name: platform.read(f"mhin.{name}") for name in (
        "projects.selection", "projects.project", "governance.decision")}


def propose(selection) -> tuple[selection_pb2.SelectionCall,
                                selection_pb2.SelectionProposal]:
    """A solution catalogued, then through project-tracking: a call, GM's and YH's
    applications, scores and the proposal of both."""
    solution = selection.catalogue_solution(f"Race equality framework {uuid.uuid4().hex[:6]}")
    selection.known_to_project_tracking(solution)
    return selection.propose(solution.id, [selection.application(arc, sites)
                                           for arc, sites in SITES.items()])


def current_call(platform, call_id: str) -> selection_pb2.SelectionCall:
    return platform.api("selection", "viewer").GetCall(
        selection_api.GetCallRequest(call_id=call_id)).call


def current_project(platform, project_id: str) -> project_pb2.Project:
    return platform.api("projects", "viewer").GetProject(
        projects_service_pb2.GetProjectRequest(project_id=project_id)).project


def assert_selected(platform, selection, topics, call_id: str,
                    decision_id: str) -> project_pb2.Project:
    """project-tracking applied the approval: the call and its applications are
    selected, and the project has the ARC pair, their sites and its events."""
    done = selection.finalised(topics["projects.selection"], call_id)
    assert (done.approved, list(done.selected_arcs), done.decision_id) == (
        True, [GM, YH], decision_id)
    call = current_call(platform, call_id)
    assert (call.status, call.project_id) == (selection_pb2.CALL_STATUS_SELECTED, done.project_id)
    assert [(a.arc, a.status) for a in call.applications] == [
        (GM, selection_pb2.APPLICATION_STATUS_SELECTED),
        (YH, selection_pb2.APPLICATION_STATUS_SELECTED)]
    assert (call.proposals[0].status, call.proposals[0].decision_id) == (
        selection_pb2.PROPOSAL_STATUS_APPROVED, decision_id)

    project = current_project(platform, done.project_id)
    assert (list(project.arcs), project.selection_call_id) == ([GM, YH], call_id)
    assert sorted((s.arc, s.name) for s in project.sites) == [
        (arc, name) for arc, sites in SITES.items() for name, _ in sites]
    topics["projects.project"].wait_for_history(
        project.id, ["ProjectCreated", "ProjectSiteAdded", "ProjectSiteAdded"])
    return project


def test_an_executive_approval_in_governance_selects_the_arcs_in_project_tracking(
        platform, selection, topics):
    platform.start(*SAGA)
    meeting = selection.executive_meeting_today()
    call, proposal = propose(selection)
    assert proposal.status == selection_pb2.PROPOSAL_STATUS_PENDING

    placed, item = selection.on_executive_agenda(proposal.id)
    assert placed.id == meeting.id, "the Executive's next meeting: today's"
    assert "Greater Manchester" in item.title and "Yorkshire and Humber" in item.title
    assert selection.make_quorate(meeting.id).quorum.quorate
    decision = selection.decide(meeting.id, item.id)

    [recorded] = topics["governance.decision"].wait_for_history(decision.id,
                                                                ["DecisionRecorded"])
    assert recorded.decode(decision_events_pb2.DecisionRecorded).subject.aggregate_id == \
        proposal.id
    assert_selected(platform, selection, topics, call.id, decision.id)
    topics["projects.selection"].wait_for_history(call.id, [
        "SelectionCallOpened", "SelectionApplicationSubmitted", "SelectionApplicationSubmitted",
        "SelectionCallClosed", "SelectionApplicationScored", "SelectionApplicationScored",
        "SelectionProposed", "SelectionFinalised"])


def test_project_tracking_down_when_the_decision_is_recorded_applies_it_on_restart(
        platform, selection, topics):
    platform.start(*SAGA)
    meeting = selection.executive_meeting_today()
    call, proposal = propose(selection)
    _, item = selection.on_executive_agenda(proposal.id)

    platform.stop("project-tracking")
    selection.make_quorate(meeting.id)
    decision = selection.decide(meeting.id, item.id)
    topics["governance.decision"].wait_for_history(decision.id, ["DecisionRecorded"])

    platform.start("project-tracking")  # the same database and consumer groups
    assert_selected(platform, selection, topics, call.id, decision.id)


def test_governance_down_between_the_proposal_and_its_consumption(platform, selection, topics):
    platform.start(*SAGA)
    meeting = selection.executive_meeting_today()
    platform.stop("governance")

    call, proposal = propose(selection)
    topics["projects.selection"].wait_for_history(call.id, [
        "SelectionCallOpened", "SelectionApplicationSubmitted", "SelectionApplicationSubmitted",
        "SelectionCallClosed", "SelectionApplicationScored", "SelectionApplicationScored",
        "SelectionProposed"])

    platform.start("governance")  # the same database and consumer group
    placed, item = selection.on_executive_agenda(proposal.id)
    assert placed.id == meeting.id
    selection.make_quorate(meeting.id)
    decision = selection.decide(meeting.id, item.id)
    assert_selected(platform, selection, topics, call.id, decision.id)


def test_a_decision_record_delivered_twice_changes_nothing_the_second_time(
        platform, selection, topics):
    platform.start(*SAGA)
    meeting = selection.executive_meeting_today()
    call, proposal = propose(selection)
    _, item = selection.on_executive_agenda(proposal.id)
    selection.make_quorate(meeting.id)
    decision = selection.decide(meeting.id, item.id)
    project = assert_selected(platform, selection, topics, call.id, decision.id)
    call_after = current_call(platform, call.id)
    decisions = topics["governance.decision"]
    decisions.wait_for_history(decision.id, ["DecisionRecorded"])

    [original] = [r for r in decisions.records if r.key == decision.id.encode()]
    producer = create_producer(platform.bootstrap, client_id="e2e-redelivery")
    try:  # the exact record again: key, value and headers, ce_id included
        again = producer.send(original.topic, key=original.key, value=original.value,
                              headers=original.headers).get(timeout=30)
    finally:
        producer.close()
    platform.wait_until_consumed("project-tracking", "decisions", again)

    assert current_call(platform, call.id) == call_after
    assert current_project(platform, project.id) == project
    topics["projects.selection"].settle()
    topics["projects.project"].settle()
    assert topics["projects.selection"].history(call.id).count("SelectionFinalised") == 1
    assert topics["projects.project"].history(project.id) == [
        "ProjectCreated", "ProjectSiteAdded", "ProjectSiteAdded"]
