"""SelectionService through a real gRPC server on a real port, a real broker and a
real database: calls, ARC applications, scoring, the proposal and its events, bad
input, illegal steps, ARC permissions."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from mhin.catalogue.v1 import events_pb2 as catalogue_events
from mhin.catalogue.v1 import solution_pb2
from mhin.common.v1 import arc_pb2, period_pb2, priority_area_pb2
from mhin.projects.v1 import selection_events_pb2, selection_pb2
from mhin.projects.v1 import selection_service_pb2 as api_pb2

pytestmark = pytest.mark.integration

GM = arc_pb2.ARC_GREATER_MANCHESTER
YH = arc_pb2.ARC_YORKSHIRE_AND_HUMBER
SL = arc_pb2.ARC_SOUTH_LONDON


@pytest.fixture
def solution_id(module_service, make, catalogue, known_solution) -> str:
    snapshot = make.solution()
    catalogue(snapshot)
    known_solution(make.projects_api(module_service), snapshot.id)
    return snapshot.id


@pytest.fixture
def admin(module_service, make):
    return make.selection_api(module_service)


@pytest.fixture
def member(module_service, make):
    return lambda arc: make.selection_api(module_service, "arc_member", arc)


@pytest.fixture
def open_call(admin, make, solution_id):
    return lambda **changes: admin.OpenCall(api_pb2.OpenCallRequest(
        call=make.call_draft(solution_id, **changes))).call


def apply(api, call_id, draft):
    return api.SubmitApplication(api_pb2.SubmitApplicationRequest(call_id=call_id,
                                                                  application=draft))


def scores(partnerships, readiness):
    return [selection_pb2.CriterionScore(criterion="Local partnerships", score=partnerships),
            selection_pb2.CriterionScore(criterion="Readiness", score=readiness)]


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def test_a_call_from_opening_to_proposal_and_its_events(admin, member, make, open_call,
                                                        solution_id, topic):
    events = topic("mhin.projects.selection")
    call = open_call()
    assert (call.status, call.version, call.solution_id) == (selection_pb2.CALL_STATUS_OPEN, 1,
                                                             solution_id)
    gm_first = apply(member("greater-manchester"), call.id, make.application_draft(GM))
    apply(member("yorkshire-and-humber"), call.id, make.application_draft(YH))
    changed = apply(member("greater-manchester"), call.id,
                    make.application_draft(GM, rationale="Revised: three trusts now."))
    assert changed.application.id == gm_first.application.id
    assert [a.rationale for a in changed.call.applications][0] == "Revised: three trusts now."
    assert len(changed.call.applications) == 2

    listed = admin.ListCalls(api_pb2.ListCallsRequest(status=selection_pb2.CALL_STATUS_OPEN,
                                                      solution_id=solution_id)).calls
    assert [c.id for c in listed] == [call.id]
    closed = admin.CloseCall(api_pb2.CloseCallRequest(call_id=call.id)).call
    assert closed.status == selection_pb2.CALL_STATUS_CLOSED
    assert admin.CloseCall(api_pb2.CloseCallRequest(call_id=call.id)).call == closed

    gm_id = gm_first.application.id
    scored = admin.ScoreApplication(api_pb2.ScoreApplicationRequest(
        call_id=call.id, application_id=gm_id, scores=scores(80, 50))).application
    assert scored.total_score == pytest.approx(68.0)  # (60 x 80 + 40 x 50) / 100
    yh_id = closed.applications[1].id
    admin.ScoreApplication(api_pb2.ScoreApplicationRequest(
        call_id=call.id, application_id=yh_id, scores=scores(70, 90)))
    proposed = admin.ProposeSelection(api_pb2.ProposeSelectionRequest(
        call_id=call.id, proposed_arcs=[GM, YH], rationale="The two strongest applications."))
    assert proposed.call.status == selection_pb2.CALL_STATUS_PROPOSED
    assert proposed.proposal.status == selection_pb2.PROPOSAL_STATUS_PENDING
    assert admin.GetCall(api_pb2.GetCallRequest(call_id=call.id)).call == proposed.call

    history = [e for e in events.wait_for(
        lambda seen: any(e.type.endswith("SelectionProposed") for e in seen)) if e.key == call.id]
    assert [e.type.rsplit(".", 1)[1] for e in history] == [
        "SelectionCallOpened", "SelectionApplicationSubmitted", "SelectionApplicationSubmitted",
        "SelectionApplicationSubmitted", "SelectionCallClosed", "SelectionApplicationScored",
        "SelectionApplicationScored", "SelectionProposed"]
    sent = history[-1].decode(selection_events_pb2.SelectionProposed)
    assert (sent.proposal_id, sent.call_id, sent.solution_id) == (proposed.proposal.id, call.id,
                                                                  solution_id)
    assert list(sent.proposed_arcs) == [GM, YH]
    assert sent.rationale == "The two strongest applications."
    assert sent.proposed_at == proposed.proposal.proposed_at
    assert sent.call == proposed.call and sent.call.version == 8
    submitted = history[3].decode(selection_events_pb2.SelectionApplicationSubmitted)
    assert submitted.application_id == gm_id


def test_an_arc_member_applies_only_for_their_own_arc(admin, member, make, open_call,
                                                      module_service):
    call = open_call()
    gm = member("greater-manchester")
    error = rpc_error(lambda: apply(gm, call.id, make.application_draft(YH)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "YORKSHIRE_AND_HUMBER" in error.details()
    application = apply(gm, call.id, make.application_draft(GM)).application
    for attempt in (
        lambda: gm.OpenCall(api_pb2.OpenCallRequest(call=make.call_draft(call.solution_id))),
        lambda: gm.CloseCall(api_pb2.CloseCallRequest(call_id=call.id)),
        lambda: gm.ScoreApplication(api_pb2.ScoreApplicationRequest(
            call_id=call.id, application_id=application.id, scores=scores(100, 100))),
        lambda: gm.ProposeSelection(api_pb2.ProposeSelectionRequest(
            call_id=call.id, proposed_arcs=[GM], rationale="Us, please.")),
        lambda: apply(member("yorkshire-and-humber"), call.id, make.application_draft(GM)),
        lambda: apply(make.selection_api(module_service, "viewer"), call.id,
                      make.application_draft(GM)),
    ):
        assert rpc_error(attempt).code() == grpc.StatusCode.PERMISSION_DENIED
    assert admin.GetCall(api_pb2.GetCallRequest(call_id=call.id)).call.version == 2


def test_illegal_steps_fail_precondition_with_a_clear_message(admin, member, make, open_call,
                                                              catalogue, known_solution,
                                                              module_service):
    call = open_call()
    gm_id = apply(admin, call.id, make.application_draft(GM)).application.id

    def error_of(attempt) -> str:
        error = rpc_error(attempt)
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error.details()
        return error.details()

    score = lambda: admin.ScoreApplication(api_pb2.ScoreApplicationRequest(  # noqa: E731
        call_id=call.id, application_id=gm_id, scores=scores(80, 50)))
    propose = lambda arcs: admin.ProposeSelection(api_pb2.ProposeSelectionRequest(  # noqa: E731
        call_id=call.id, proposed_arcs=arcs, rationale="Best."))
    assert "still open to applications; close it first" in error_of(score)
    assert "close it first" in error_of(lambda: propose([GM]))
    admin.CloseCall(api_pb2.CloseCallRequest(call_id=call.id))
    assert f"cannot apply to call {call.id}: it is closed" in error_of(
        lambda: apply(admin, call.id, make.application_draft(YH)))
    assert "only ARCs that applied" in error_of(lambda: propose([GM, YH]))
    propose([GM])
    assert "awaits the Executive's decision" in error_of(lambda: propose([GM]))
    assert "awaits the Executive's decision" in error_of(score)

    unknown = make.call_draft("solution-nobody-catalogued")
    assert "not in the catalogue" in error_of(
        lambda: admin.OpenCall(api_pb2.OpenCallRequest(call=unknown)))
    retired = make.solution(version=1, status=solution_pb2.SOLUTION_STATUS_RETIRED)
    catalogue(retired, catalogue_events.SolutionRetired)
    known_solution(make.projects_api(module_service), retired.id)
    assert "retired" in error_of(lambda: admin.OpenCall(api_pb2.OpenCallRequest(
        call=make.call_draft(retired.id))))
    error = rpc_error(lambda: admin.GetCall(api_pb2.GetCallRequest(call_id="no-such-call")))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_bad_input_names_the_field_and_writes_nothing(admin, make, open_call, solution_id,
                                                      topic):
    call = open_call()
    gm_id = apply(admin, call.id, make.application_draft(GM)).application.id
    before = admin.GetCall(api_pb2.GetCallRequest(call_id=call.id)).call
    closed = open_call()
    apply(admin, closed.id, make.application_draft(GM))
    closed = admin.CloseCall(api_pb2.CloseCallRequest(call_id=closed.id)).call
    scored_id = closed.applications[0].id
    calls_before = admin.ListCalls(api_pb2.ListCallsRequest(solution_id=solution_id)).calls
    events = topic("mhin.projects.selection")

    def draft(**changes):
        return api_pb2.OpenCallRequest(call=make.call_draft(**{"solution_id": solution_id,
                                                               **changes}))

    def application(**changes):
        return api_pb2.SubmitApplicationRequest(
            call_id=call.id, application=make.application_draft(**{"arc": GM, **changes}))

    def criterion(name, weight):
        return selection_pb2.ScoringCriterion(name=name, weight=weight)

    def score(**changes):
        fields = {"call_id": closed.id, "application_id": scored_id, "scores": scores(80, 50)}
        return api_pb2.ScoreApplicationRequest(**{**fields, **changes})

    yesterday = make.date(make.today() - timedelta(days=1))
    cases = [
        (admin.OpenCall, draft(title=""), "call.title"),
        (admin.OpenCall, draft(solution_id=""), "call.solution_id"),
        (admin.OpenCall, draft(priority_area=priority_area_pb2.PRIORITY_AREA_UNCATEGORISED),
         "call.priority_area"),
        (admin.OpenCall, draft(priority_area=priority_area_pb2.PRIORITY_AREA_COMORBIDITIES),
         "call.priority_area"),
        (admin.OpenCall, draft(deadline=period_pb2.Date()), "call.deadline"),
        (admin.OpenCall, draft(deadline=yesterday), "call.deadline"),
        (admin.OpenCall, draft(criteria=[]), "call.criteria"),
        (admin.OpenCall, draft(criteria=[criterion("A", 50), criterion("B", 40)]),
         "call.criteria"),
        (admin.OpenCall, draft(criteria=[criterion("", 100)]), "call.criteria.0.name"),
        (admin.OpenCall, draft(criteria=[criterion("A", -5), criterion("B", 105)]),
         "call.criteria.0.weight"),
        (admin.SubmitApplication, application(arc=0), "application.arc"),
        (admin.SubmitApplication, application(local_partners=[]), "application.local_partners"),
        (admin.SubmitApplication, application(local_partners=[selection_pb2.Partner(name="X")]),
         "application.local_partners.0.type"),
        (admin.SubmitApplication, application(proposed_sites=[selection_pb2.ProposedSite(
            organisation_name="Trust", organisation_type=1)]), "application.proposed_sites.0.name"),
        (admin.SubmitApplication, application(rationale=""), "application.rationale"),
        (admin.SubmitApplication, api_pb2.SubmitApplicationRequest(
            application=make.application_draft(GM)), "call_id"),
        (admin.ScoreApplication, score(scores=scores(150, 50)), "scores.0.score"),
        (admin.ScoreApplication, score(scores=scores(80, 50)[:1]), "scores"),
        (admin.ScoreApplication, score(scores=[*scores(80, 50), selection_pb2.CriterionScore(
            criterion="Charm", score=1)]), "scores.2.criterion"),
        (admin.ScoreApplication, score(application_id=""), "application_id"),
        (admin.ProposeSelection, api_pb2.ProposeSelectionRequest(
            call_id=closed.id, rationale="Best."), "proposed_arcs"),
        (admin.ProposeSelection, api_pb2.ProposeSelectionRequest(
            call_id=closed.id, proposed_arcs=[GM, GM], rationale="Best."), "proposed_arcs.1"),
        (admin.ProposeSelection, api_pb2.ProposeSelectionRequest(
            call_id=closed.id, proposed_arcs=[GM], rationale=" "), "rationale"),
        (admin.ProposeSelection, api_pb2.ProposeSelectionRequest(
            call_id=closed.id, proposed_arcs=[77], rationale="Best."), "proposed_arcs.0"),
        (admin.ListCalls, api_pb2.ListCallsRequest(status=42), "status"),
    ]
    for method, request, field in cases:
        error = rpc_error(lambda: method(request))  # noqa: B023
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, error.details())
        assert error.details().startswith(f"{field}: "), (field, error.details())

    assert admin.GetCall(api_pb2.GetCallRequest(call_id=call.id)).call == before
    assert admin.GetCall(api_pb2.GetCallRequest(call_id=closed.id)).call == closed
    assert admin.GetCall(api_pb2.GetCallRequest(call_id=call.id)).call.applications[0].id == gm_id
    assert admin.ListCalls(api_pb2.ListCallsRequest(solution_id=solution_id)).calls == calls_before
    assert events.settle() == [], "bad requests must publish nothing"
