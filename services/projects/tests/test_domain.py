"""project-tracking domain rules: pure, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mhin_platform.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from mhin_platform.reference import Arc, OrganisationType, PriorityArea
from mhin_platform.validation import build
from mhin_projects import domain
from mhin_projects.domain import (
    ApplicationStatus,
    BodyKind,
    CallStatus,
    Decision,
    DecisionOutcome,
    KnownSolution,
    MilestoneStatus,
    Phase,
    ProposalStatus,
    Rag,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
LATER = datetime(2026, 3, 20, tzinfo=UTC)
GM, YH, SL = Arc.GREATER_MANCHESTER, Arc.YORKSHIRE_AND_HUMBER, Arc.SOUTH_LONDON
PCREF = KnownSolution(id="s1", name="PCREF", priority_areas=[PriorityArea.INEQUALITIES],
                      version=3)


def call_draft(**changes) -> domain.CallDraft:
    data = {
        "solution_id": "s1",
        "priority_area": "Inequalities",
        "title": "Expressions of interest: PCREF",
        "deadline": date(2026, 3, 15),
        "criteria": [{"name": "Local partnerships", "weight": 60},
                     {"name": "Readiness", "weight": 40}],
    }
    return build(domain.CallDraft, {**data, **changes}, "call")


def application(arc: Arc = GM, **changes) -> domain.ApplicationDraft:
    data = {
        "arc": arc,
        "local_partners": [{"name": "Pennine Care NHS FT", "type": OrganisationType.NHS_TRUST},
                           {"name": "Oldham Council", "type": OrganisationType.LOCAL_AUTHORITY}],
        "proposed_sites": [{"name": "Oldham", "organisation_name": "Pennine Care NHS FT",
                            "organisation_type": OrganisationType.NHS_TRUST}],
        "rationale": "Strong community partnerships.",
    }
    return build(domain.ApplicationDraft, {**data, **changes}, "application")


def proposed_call() -> tuple[domain.SelectionCall, domain.SelectionProposal]:
    call = domain.open_call(call_draft(), PCREF, "c1", NOW)
    for index, arc in enumerate((GM, YH, SL)):
        call, _ = domain.submit_application(call, application(arc), f"a{index}", NOW)
    call = domain.close_call(call, LATER)
    return domain.propose(call, [GM, YH], "The strongest pair.", "p1", LATER)


def decision(body=BodyKind.EXECUTIVE, outcome=DecisionOutcome.APPROVED, decision_id="d1"):
    return Decision(decision_id=decision_id, body_kind=body, outcome=outcome,
                    proposal_id="p1", decided_at=LATER)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "call.title"),
        ({"priority_area": "Uncategorised"}, "call.priority_area"),
        ({"criteria": []}, "call.criteria"),
        ({"criteria": [{"name": "A", "weight": 50}, {"name": "B", "weight": 40}]}, "call.criteria"),
        ({"criteria": [{"name": "A", "weight": 50}, {"name": "A", "weight": 50}]}, "call.criteria"),
        ({"criteria": [{"name": "A", "weight": 0}, {"name": "B", "weight": 100}]},
         "call.criteria.0.weight"),
    ],
)
def test_bad_call_drafts_name_the_field(changes, field):
    with pytest.raises(InvalidArgument) as raised:
        call_draft(**changes)
    assert raised.value.field == field


def test_a_call_needs_a_known_active_solution_in_its_area_and_a_future_deadline():
    with pytest.raises(FailedPrecondition, match="not in the catalogue"):
        domain.open_call(call_draft(), None, "c1", NOW)
    with pytest.raises(FailedPrecondition, match="retired"):
        domain.open_call(call_draft(), PCREF.model_copy(update={"retired": True}), "c1", NOW)
    with pytest.raises(InvalidArgument) as raised:
        domain.open_call(call_draft(priority_area="Comorbidities"), PCREF, "c1", NOW)
    assert raised.value.field == "call.priority_area"
    with pytest.raises(InvalidArgument) as raised:
        domain.open_call(call_draft(deadline=date(2026, 2, 28)), PCREF, "c1", NOW)
    assert raised.value.field == "call.deadline"


def test_an_arc_has_one_application_per_call_which_it_may_change_until_the_deadline():
    call = domain.open_call(call_draft(), PCREF, "c1", NOW)
    call, first = domain.submit_application(call, application(), "a1", NOW)
    call, changed = domain.submit_application(call, application(rationale="Revised."), "a2",
                                              LATER.replace(day=10))
    assert [a.id for a in call.applications] == ["a1"]
    assert (changed.id, changed.rationale, changed.submitted_at) == ("a1", "Revised.", NOW)
    assert call.version == 3
    with pytest.raises(FailedPrecondition, match="until 2026-03-15"):
        domain.submit_application(call, application(YH), "a3", LATER)
    closed = domain.close_call(call, NOW)
    assert closed.status is CallStatus.CLOSED and domain.close_call(closed, NOW) is None
    with pytest.raises(FailedPrecondition, match="closed to applications"):
        domain.submit_application(closed, application(YH), "a3", NOW)


def test_scores_cover_every_criterion_once_and_are_weighted():
    call = domain.open_call(call_draft(), PCREF, "c1", NOW)
    call, app = domain.submit_application(call, application(), "a1", NOW)

    def scores(*pairs):
        return [domain.CriterionScore(criterion=c, score=s) for c, s in pairs]

    with pytest.raises(FailedPrecondition, match="still open"):
        domain.score_application(call, "a1", scores(("Local partnerships", 80)), NOW)
    call = domain.close_call(call, NOW)
    for bad, field in (
        (scores(("Local partnerships", 80)), "scores"),
        (scores(("Local partnerships", 80), ("Vibes", 1)), "scores.1.criterion"),
        (scores(("Readiness", 80), ("Readiness", 70)), "scores.1.criterion"),
    ):
        with pytest.raises(InvalidArgument) as raised:
            domain.score_application(call, "a1", bad, NOW)
        assert raised.value.field == field
    call, scored = domain.score_application(
        call, "a1", scores(("Local partnerships", 80), ("Readiness", 50)), NOW)
    assert scored.total_score == pytest.approx(68.0)  # (60 x 80 + 40 x 50) / 100


def test_a_proposal_names_arcs_that_applied_once_each():
    call = domain.open_call(call_draft(), PCREF, "c1", NOW)
    call, _ = domain.submit_application(call, application(), "a1", NOW)
    with pytest.raises(FailedPrecondition, match="close it first"):
        domain.propose(call, [GM], "Best.", "p1", NOW)
    call = domain.close_call(call, NOW)
    with pytest.raises(InvalidArgument) as raised:
        domain.propose(call, [GM, GM], "Best.", "p1", NOW)
    assert raised.value.field == "proposed_arcs.1"
    with pytest.raises(InvalidArgument) as raised:
        domain.propose(call, [GM], "  ", "p1", NOW)
    assert raised.value.field == "rationale"
    with pytest.raises(FailedPrecondition, match="YORKSHIRE_AND_HUMBER"):
        domain.propose(call, [GM, YH], "Best.", "p1", NOW)
    call, proposal = domain.propose(call, [GM], "Best.", "p1", NOW)
    assert call.status is CallStatus.PROPOSED and proposal.status is ProposalStatus.PENDING
    with pytest.raises(FailedPrecondition, match="awaits the Executive"):
        domain.propose(call, [GM], "Again.", "p2", NOW)


def test_an_executive_approval_selects_the_proposed_arcs_and_not_the_others():
    call, _ = proposed_call()
    effect = domain.apply_decision(call, decision(), "project-9", LATER)
    assert effect.finalised and effect.approved
    assert effect.call.status is CallStatus.SELECTED and effect.call.project_id == "project-9"
    assert {a.arc: a.status for a in effect.call.applications} == {
        GM: ApplicationStatus.SELECTED, YH: ApplicationStatus.SELECTED,
        SL: ApplicationStatus.NOT_SELECTED}
    assert effect.proposal.decision_id == "d1"
    assert domain.apply_decision(effect.call, decision(), "project-9", LATER) is None


def test_a_rejection_closes_the_proposal_and_lets_the_team_propose_again():
    call, _ = proposed_call()
    effect = domain.apply_decision(call, decision(outcome=DecisionOutcome.REJECTED), "x", LATER)
    assert effect.finalised and not effect.approved
    assert effect.proposal.status is ProposalStatus.REJECTED and effect.proposal.project_id == ""
    assert {a.arc: a.status for a in effect.call.applications} == {
        GM: ApplicationStatus.NOT_SELECTED, YH: ApplicationStatus.NOT_SELECTED,
        SL: ApplicationStatus.SUBMITTED}
    assert effect.call.status is CallStatus.CLOSED
    call, _ = domain.propose(effect.call, [SL], "Second choice.", "p2", LATER)
    assert call.status is CallStatus.PROPOSED


@pytest.mark.parametrize(
    ("body", "outcome", "reason"),
    [
        (BodyKind.ADVISORY_BOARD, DecisionOutcome.APPROVED, "not the Executive"),
        (BodyKind.ADVISORY_GROUP, DecisionOutcome.REJECTED, "not the Executive"),
        (BodyKind.EXECUTIVE, DecisionOutcome.DEFERRED, "deferred"),
    ],
)
def test_other_decisions_are_noted_once_and_finalise_nothing(body, outcome, reason):
    call, _ = proposed_call()
    effect = domain.apply_decision(call, decision(body, outcome), "x", LATER)
    assert not effect.finalised and reason in effect.reason
    assert effect.call.status is CallStatus.PROPOSED
    assert effect.proposal.status is ProposalStatus.PENDING
    assert [d.decision_id for d in effect.proposal.decisions_not_applied] == ["d1"]
    assert domain.apply_decision(effect.call, decision(body, outcome), "x", LATER) is None
    approved = domain.apply_decision(effect.call, decision(decision_id="d2"), "x", LATER)
    assert approved.approved


def test_a_second_executive_decision_on_a_finalised_proposal_is_only_noted():
    call, _ = proposed_call()
    approved = domain.apply_decision(call, decision(), "x", LATER).call
    late = domain.apply_decision(approved, decision(outcome=DecisionOutcome.REJECTED,
                                                    decision_id="d2"), "x", LATER)
    assert "already approved by decision d1" in late.reason
    assert late.call.status is CallStatus.SELECTED


def project(**changes) -> domain.Project:
    draft = build(domain.ProjectDraft, {"name": "PCREF", "solution_id": "s1",
                                        "priority_area": "Inequalities", "arcs": [GM, YH],
                                        **changes}, "project")
    return domain.create_project(draft, PCREF, "pr1", NOW)


def site(arc: Arc = GM, **changes) -> domain.SiteDraft:
    data = {"name": "Oldham", "organisation_name": "Pennine Care NHS FT",
            "organisation_type": OrganisationType.NHS_TRUST, "arc": arc, **changes}
    return build(domain.SiteDraft, data, "site")


def test_project_drafts_name_bad_fields():
    for changes, field in (({"arcs": [GM, GM]}, "project.arcs"),
                           ({"priority_area": "Uncategorised"}, "project.priority_area"),
                           ({"name": ""}, "project.name")):
        with pytest.raises(InvalidArgument) as raised:
            project(**changes)
        assert raised.value.field == field


def test_phases_move_forward_only_and_a_closed_project_never_reopens():
    p = project()
    assert p.phase is Phase.SET_UP
    with pytest.raises(FailedPrecondition, match="from SET_UP it can move to IMPLEMENTATION or"):
        domain.change_phase(p, Phase.SUSTAINMENT, "", NOW)
    p = domain.change_phase(p, Phase.IMPLEMENTATION, "", NOW)
    assert domain.change_phase(p, Phase.IMPLEMENTATION, "", NOW) is None
    with pytest.raises(FailedPrecondition, match="cannot move from IMPLEMENTATION to SET_UP"):
        domain.change_phase(p, Phase.SET_UP, "", NOW)
    with pytest.raises(InvalidArgument) as raised:
        domain.change_phase(p, Phase.CLOSED, " ", NOW)
    assert raised.value.field == "reason"
    closed = domain.change_phase(p, Phase.CLOSED, "Funding ended", NOW)
    assert (closed.phase, closed.closure_reason, closed.version) == (Phase.CLOSED,
                                                                     "Funding ended", 3)
    with pytest.raises(FailedPrecondition, match="a closed project never reopens"):
        domain.change_phase(closed, Phase.IMPLEMENTATION, "", NOW)
    with pytest.raises(FailedPrecondition, match="closed"):
        domain.add_site(closed, site(), "s1", NOW)
    sustained = domain.change_phase(domain.change_phase(project(), Phase.IMPLEMENTATION, "", NOW),
                                    Phase.SUSTAINMENT, "", NOW)
    assert domain.change_phase(sustained, Phase.CLOSED, "", NOW).closure_reason == ""


def test_sites_belong_to_the_projects_arcs_and_are_unique_per_arc():
    p, added = domain.add_site(project(), site(), "s1", NOW)
    assert p.sites == [added] and p.version == 2
    with pytest.raises(FailedPrecondition, match="SOUTH_LONDON: the ARC does not implement"):
        domain.add_site(p, site(SL), "s2", NOW)
    with pytest.raises(AlreadyExists):
        domain.add_site(p, site(), "s2", NOW)
    p, _ = domain.add_site(p, site(YH, name="Bradford"), "s2", NOW)
    live = site(go_live_date=date(2026, 6, 1))
    p2, updated = domain.update_site(p, "s1", live, LATER)
    assert updated.go_live_date == date(2026, 6, 1) and p2.version == p.version + 1
    assert domain.update_site(p2, "s1", live, LATER) is None
    with pytest.raises(AlreadyExists):
        domain.update_site(p2, "s2", site(YH, name="Oldham").model_copy(update={"arc": GM}), NOW)


def test_milestones_progress_forward_and_completion_needs_a_past_date():
    draft = build(domain.MilestoneDraft, {"title": "Staff trained", "arc": GM,
                                          "planned_date": date(2026, 5, 1)}, "milestone")
    p, m = domain.add_milestone(project(), draft, "m1", NOW)
    assert (m.status, m.rag) == (MilestoneStatus.NOT_STARTED, Rag.GREEN)

    def update(**data):
        return build(domain.MilestoneUpdate, data)

    with pytest.raises(InvalidArgument) as raised:
        update(status="completed", rag="green")
    assert raised.value.field == "actual_date"
    with pytest.raises(InvalidArgument) as raised:
        update(status="in progress", rag="green", actual_date=date(2026, 3, 1))
    assert raised.value.field == "actual_date"
    p, m = domain.update_milestone(p, "m1", update(status="in progress", rag="amber",
                                                   planned_date=date(2026, 6, 1)), NOW)
    assert (m.status, m.rag, m.planned_date) == (MilestoneStatus.IN_PROGRESS, Rag.AMBER,
                                                 date(2026, 6, 1))
    with pytest.raises(FailedPrecondition, match="never goes back"):
        domain.update_milestone(p, "m1", update(status="not started", rag="green"), NOW)
    with pytest.raises(InvalidArgument, match="in the future"):
        domain.update_milestone(p, "m1", update(status="completed", rag="green",
                                                actual_date=date(2026, 3, 2)), NOW)
    p, m = domain.update_milestone(p, "m1", update(status="completed", rag="green",
                                                   actual_date=date(2026, 3, 1)), NOW)
    with pytest.raises(FailedPrecondition, match="it is final"):
        domain.update_milestone(p, "m1", update(status="cancelled", rag="red"), NOW)


def test_reports_count_in_the_project_version_and_cover_a_past_period():
    def draft(**changes):
        return build(domain.StatusReportDraft, {
            "arc": GM, "period_start": date(2026, 1, 1), "period_end": date(2026, 2, 28),
            "rag": "amber", "summary": "Two sites live.", **changes}, "report")

    with pytest.raises(InvalidArgument) as raised:
        draft(period_end=date(2025, 12, 31))
    assert raised.value.field == "report.period_end"
    p, report = domain.report_status(project(), draft(), "r1", "alice", NOW)
    assert p.version == 2 and report.submitted_by == "alice"
    with pytest.raises(InvalidArgument, match="in the future"):
        domain.report_status(p, draft(period_end=date(2026, 3, 31)), "r2", "alice", NOW)
    with pytest.raises(FailedPrecondition, match="SOUTH_LONDON"):
        domain.report_status(p, draft(arc=SL), "r2", "alice", NOW)


def test_adding_arcs_keeps_existing_partnerships():
    p = project()
    added = domain.add_arcs(p, [YH, SL], "c1", NOW)
    assert added.arcs == [GM, YH, SL] and added.selection_call_id == "c1"
    assert domain.add_arcs(added, [SL], "c1", NOW) is None


def test_stored_documents_round_trip():
    call, _ = proposed_call()
    call = domain.apply_decision(call, decision(), "x", LATER).call
    assert domain.SelectionCall.model_validate_json(call.model_dump_json()) == call
    p, _ = domain.add_site(project(), site(), "s1", NOW)
    assert domain.Project.model_validate_json(p.model_dump_json()) == p
