"""Selection calls: ARC applications, their scoring, proposals, and the
governance decision that settles one."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from mhin_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from mhin_platform.models import Id, Model, Name, RequiredText, Text, Versioned
from mhin_platform.paging import Filter
from mhin_platform.reference import Arc, OrganisationType
from mhin_projects.domain.solutions import Area, KnownSolution, Score, check_usable


class CallStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    PROPOSED = "proposed"
    SELECTED = "selected"


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    SELECTED = "selected"
    NOT_SELECTED = "not selected"


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class BodyKind(StrEnum):
    EXECUTIVE = "Executive committee"
    ADVISORY_BOARD = "Advisory Board"
    ADVISORY_GROUP = "advisory group"


class DecisionOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    DEFERRED = "deferred"


class ScoringCriterion(Model):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    weight: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]


class CriterionScore(Model):
    criterion: str
    score: Score


class Partner(Model):
    name: Name
    type: OrganisationType


class ProposedSite(Model):
    name: Name
    organisation_name: Name
    organisation_type: OrganisationType


def _weighted_to_100(criteria: list[ScoringCriterion]) -> list[ScoringCriterion]:
    names = [criterion.name for criterion in criteria]
    if len(set(names)) != len(names):
        raise ValueError("name each criterion at most once")
    total = sum(criterion.weight for criterion in criteria)
    if not math.isclose(total, 100, abs_tol=1e-6):
        raise ValueError(f"weights must sum to 100, they sum to {total:g}")
    return criteria


class CallDraft(Model):
    solution_id: Id
    priority_area: Area
    title: Name
    description: Text = ""
    deadline: date
    criteria: Annotated[list[ScoringCriterion], Field(min_length=1, max_length=10),
                        AfterValidator(_weighted_to_100)]


class ApplicationDraft(Model):
    arc: Arc
    local_partners: Annotated[list[Partner], Field(min_length=1, max_length=30)]
    proposed_sites: Annotated[list[ProposedSite], Field(max_length=50)] = []
    rationale: RequiredText


class ArcApplication(ApplicationDraft):
    id: str
    scores: list[CriterionScore] = []
    total_score: float = 0.0
    status: ApplicationStatus = ApplicationStatus.SUBMITTED
    submitted_at: datetime
    updated_at: datetime


class DecisionNotApplied(Model):
    decision_id: str
    reason: str
    received_at: datetime


class SelectionProposal(Model):
    id: str
    call_id: str
    proposed_arcs: list[Arc]
    rationale: RequiredText
    status: ProposalStatus = ProposalStatus.PENDING
    proposed_at: datetime
    decision_id: str = ""
    decided_at: datetime | None = None
    project_id: str = ""
    decisions_not_applied: list[DecisionNotApplied] = []

    def has_seen(self, decision_id: str) -> bool:
        return decision_id == self.decision_id or any(
            noted.decision_id == decision_id for noted in self.decisions_not_applied)


class SelectionCall(CallDraft, Versioned):
    id: str
    status: CallStatus = CallStatus.OPEN
    applications: list[ArcApplication] = []
    proposals: list[SelectionProposal] = []
    project_id: str = ""
    opened_at: datetime

    def application(self, application_id: str) -> ArcApplication:
        for application in self.applications:
            if application.id == application_id:
                return application
        raise NotFound(f"call {self.id} has no application {application_id!r}")

    def proposal(self, proposal_id: str) -> SelectionProposal:
        for proposal in self.proposals:
            if proposal.id == proposal_id:
                return proposal
        raise NotFound(f"call {self.id} has no proposal {proposal_id!r}")

    def _require_status(self, wanted: CallStatus, action: str) -> None:
        if self.status is wanted:
            return
        why = {
            CallStatus.OPEN: "it is still open to applications; close it first",
            CallStatus.CLOSED: "it is closed to applications",
            CallStatus.PROPOSED: "a selection proposal awaits the Executive's decision",
            CallStatus.SELECTED: "its ARCs are already selected",
        }[self.status]
        raise FailedPrecondition(f"cannot {action} call {self.id}: {why}")


class Decision(Model):
    """A governance decision about a selection proposal, as the saga sees it."""

    decision_id: Id
    body_kind: BodyKind
    outcome: DecisionOutcome
    proposal_id: Id
    decided_at: datetime


class DecisionEffect(Model):
    """What a decision did to a call: finalised one of its proposals, or was noted
    on it without effect (``reason`` says why)."""

    call: SelectionCall
    proposal: SelectionProposal
    reason: str = ""

    @property
    def finalised(self) -> bool:
        return not self.reason

    @property
    def approved(self) -> bool:
        return self.proposal.status is ProposalStatus.APPROVED


def open_call(draft: CallDraft, solution: KnownSolution | None, call_id: str,
              now: datetime) -> SelectionCall:
    check_usable(solution, draft.solution_id, draft.priority_area, "call.priority_area")
    if draft.deadline < now.date():
        raise InvalidArgument("call.deadline", f"{draft.deadline} is in the past")
    return SelectionCall(**draft.model_dump(), id=call_id, opened_at=now, updated_at=now)


def submit_application(call: SelectionCall, draft: ApplicationDraft, application_id: str,
                       now: datetime) -> tuple[SelectionCall, ArcApplication]:
    """The call with the ARC's application added, or replacing the ARC's earlier one."""
    call._require_status(CallStatus.OPEN, "apply to")
    if now.date() > call.deadline:
        raise FailedPrecondition(f"call {call.id} took applications until {call.deadline}")
    earlier = next((a for a in call.applications if a.arc is draft.arc), None)
    application = ArcApplication(
        **draft.model_dump(),
        id=earlier.id if earlier else application_id,
        submitted_at=earlier.submitted_at if earlier else now,
        updated_at=now,
    )
    applications = ([application if a is earlier else a for a in call.applications] if earlier
                    else [*call.applications, application])
    return call._changed(now, applications=applications), application


def close_call(call: SelectionCall, now: datetime) -> SelectionCall | None:
    """The call closed to applications, or None when it already is."""
    if call.status is not CallStatus.OPEN:
        return None
    return call._changed(now, status=CallStatus.CLOSED)


def score_application(call: SelectionCall, application_id: str, scores: list[CriterionScore],
                      now: datetime) -> tuple[SelectionCall, ArcApplication]:
    """Scores on every criterion of the call, each once; the total is weighted as
    in the network's MCDA: sum of weight x score / 100."""
    application = call.application(application_id)
    call._require_status(CallStatus.CLOSED, "score applications of")
    weights = {criterion.name: criterion.weight for criterion in call.criteria}
    seen: set[str] = set()
    for index, score in enumerate(scores):
        if score.criterion not in weights:
            raise InvalidArgument(f"scores.{index}.criterion",
                                  f"{score.criterion!r} is not a criterion of the call "
                                  f"(its criteria: {', '.join(weights)})")
        if score.criterion in seen:
            raise InvalidArgument(f"scores.{index}.criterion", f"{score.criterion!r} scored twice")
        seen.add(score.criterion)
    if missing := [name for name in weights if name not in seen]:
        raise InvalidArgument("scores", f"score every criterion; missing: {', '.join(missing)}")
    total = round(sum(weights[s.criterion] * s.score for s in scores) / 100, 4)
    scored = application.model_copy(update={"scores": scores, "total_score": total,
                                            "updated_at": now})
    applications = [scored if a.id == application_id else a for a in call.applications]
    return call._changed(now, applications=applications), scored


def propose(call: SelectionCall, arcs: list[Arc], rationale: str, proposal_id: str,
            now: datetime) -> tuple[SelectionCall, SelectionProposal]:
    if not arcs:
        raise InvalidArgument("proposed_arcs", "name at least one ARC")
    rationale = rationale.strip()
    if not rationale or len(rationale) > 5000:
        raise InvalidArgument("rationale", "say why these ARCs, in 1 to 5000 characters")
    for index, arc in enumerate(arcs):
        if arc in arcs[:index]:
            raise InvalidArgument(f"proposed_arcs.{index}", f"{arc.name} is named twice")
    call._require_status(CallStatus.CLOSED, "propose a selection for")
    applied = {application.arc for application in call.applications}
    if not_applied := [arc.name for arc in arcs if arc not in applied]:
        raise FailedPrecondition(f"cannot propose {', '.join(not_applied)} for call {call.id}: "
                                 "only ARCs that applied can be proposed")
    proposal = SelectionProposal(id=proposal_id, call_id=call.id, proposed_arcs=arcs,
                                 rationale=rationale, proposed_at=now)
    changed = call._changed(now, status=CallStatus.PROPOSED,
                            proposals=[*call.proposals, proposal])
    return changed, proposal


def apply_decision(call: SelectionCall, decision: Decision, project_id: str,
                   now: datetime) -> DecisionEffect | None:
    """Finalise a pending proposal with an Executive decision (approved: its ARCs
    selected for ``project_id``, the others not; rejected: its ARCs not selected and
    the call open to a new proposal). Any other decision is noted on the proposal
    with the reason it had no effect. None when this decision was already handled."""
    proposal = call.proposal(decision.proposal_id)
    if proposal.has_seen(decision.decision_id):
        return None
    if reason := _why_not_applied(proposal, decision):
        noted = DecisionNotApplied(decision_id=decision.decision_id, reason=reason,
                                   received_at=now)
        proposal = proposal.model_copy(update={
            "decisions_not_applied": [*proposal.decisions_not_applied, noted]})
        return DecisionEffect(call=_with_proposal(call, proposal, now), proposal=proposal,
                              reason=reason)
    approved = decision.outcome is DecisionOutcome.APPROVED
    proposal = proposal.model_copy(update={
        "status": ProposalStatus.APPROVED if approved else ProposalStatus.REJECTED,
        "decision_id": decision.decision_id,
        "decided_at": decision.decided_at,
        "project_id": project_id if approved else "",
    })
    applications = [_selected_or_not(a, proposal, approved, now) for a in call.applications]
    changed = _with_proposal(call, proposal, now).model_copy(update={
        "applications": applications,
        "status": CallStatus.SELECTED if approved else CallStatus.CLOSED,
        "project_id": project_id if approved else "",
    })
    return DecisionEffect(call=changed, proposal=proposal)


def _why_not_applied(proposal: SelectionProposal, decision: Decision) -> str:
    if decision.body_kind is not BodyKind.EXECUTIVE:
        return (f"decided by the {decision.body_kind}, not the Executive committee: only an "
                "Executive decision can finalise a selection")
    if proposal.status is not ProposalStatus.PENDING:
        return (f"proposal {proposal.id} was already {proposal.status} by decision "
                f"{proposal.decision_id}")
    if decision.outcome is DecisionOutcome.DEFERRED:
        return "the Executive deferred the decision; the proposal stays pending"
    return ""


def _with_proposal(call: SelectionCall, proposal: SelectionProposal,
                   now: datetime) -> SelectionCall:
    proposals = [proposal if p.id == proposal.id else p for p in call.proposals]
    return call._changed(now, proposals=proposals)


def _selected_or_not(application: ArcApplication, proposal: SelectionProposal, approved: bool,
                     now: datetime) -> ArcApplication:
    proposed = application.arc in proposal.proposed_arcs
    if approved:
        status = ApplicationStatus.SELECTED if proposed else ApplicationStatus.NOT_SELECTED
    elif proposed:
        status = ApplicationStatus.NOT_SELECTED
    else:
        return application
    return application.model_copy(update={"status": status, "updated_at": now})


@dataclass(frozen=True)
class CallFilter(Filter):
    status: CallStatus | None = None
    solution_id: str = ""
