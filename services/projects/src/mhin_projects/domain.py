"""project-tracking: the pure rules of selection calls and projects. No I/O;
unit-tested on their own.

Every change returns a new aggregate with its version incremented (events carry
it); a change that would change nothing returns None, so there is nothing to record.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from mhin_platform.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from mhin_platform.models import Id, Model, Name, RequiredText, Text, Versioned
from mhin_platform.paging import Filter
from mhin_platform.reference import Arc, OrganisationType, PriorityArea

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


def _distinct_arcs(arcs: list[Arc]) -> list[Arc]:
    if len(set(arcs)) != len(arcs):
        raise ValueError("name each ARC at most once")
    return arcs


def _categorised(area: PriorityArea) -> PriorityArea:
    if area is PriorityArea.UNCATEGORISED:
        raise ValueError("must be one of the seven priority areas")
    return area


Area = Annotated[PriorityArea, AfterValidator(_categorised)]
Arcs = Annotated[list[Arc], Field(max_length=len(Arc)), AfterValidator(_distinct_arcs)]


# ------------------------------------------------------------------ solutions


class KnownSolution(Model):
    """A catalogue solution as the last solution event (highest version) told it."""

    id: Id
    name: Name
    priority_areas: list[PriorityArea]
    retired: bool = False
    version: int = Field(ge=0)


def check_usable(solution: KnownSolution | None, solution_id: str, area: PriorityArea,
                 area_field: str) -> None:
    """New work may only be for a known, active solution, in one of its areas."""
    if solution is None:
        raise FailedPrecondition(
            f"solution {solution_id!r} is not in the catalogue as project-tracking knows it "
            "(no solution event about it has arrived)")
    if solution.retired:
        raise FailedPrecondition(f"solution {solution_id!r} is retired from the catalogue")
    if area not in solution.priority_areas:
        areas = ", ".join(a.name for a in solution.priority_areas)
        raise InvalidArgument(area_field, f"{area.name} is not an area of solution "
                                          f"{solution_id!r} (its areas: {areas})")


# ------------------------------------------------------------------ selection


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


# ------------------------------------------------------------------ projects


class Phase(StrEnum):
    SET_UP = "set-up"
    IMPLEMENTATION = "implementation"
    SUSTAINMENT = "sustainment"
    CLOSED = "closed"


NEXT_PHASES: dict[Phase, tuple[Phase, ...]] = {
    Phase.SET_UP: (Phase.IMPLEMENTATION, Phase.CLOSED),
    Phase.IMPLEMENTATION: (Phase.SUSTAINMENT, Phase.CLOSED),
    Phase.SUSTAINMENT: (Phase.CLOSED,),
    Phase.CLOSED: (),
}
EARLY_CLOSE_FROM = (Phase.SET_UP, Phase.IMPLEMENTATION)


class MilestoneStatus(StrEnum):
    NOT_STARTED = "not started"
    IN_PROGRESS = "in progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


NEXT_MILESTONE_STATUSES: dict[MilestoneStatus, tuple[MilestoneStatus, ...]] = {
    MilestoneStatus.NOT_STARTED: (MilestoneStatus.NOT_STARTED, MilestoneStatus.IN_PROGRESS,
                                  MilestoneStatus.COMPLETED, MilestoneStatus.CANCELLED),
    MilestoneStatus.IN_PROGRESS: (MilestoneStatus.IN_PROGRESS, MilestoneStatus.COMPLETED,
                                  MilestoneStatus.CANCELLED),
    MilestoneStatus.COMPLETED: (),
    MilestoneStatus.CANCELLED: (),
}


class Rag(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class SiteDraft(Model):
    name: Name
    organisation_name: Name
    organisation_type: OrganisationType
    arc: Arc
    go_live_date: date | None = None


class Site(SiteDraft):
    id: str


class MilestoneDraft(Model):
    title: Name
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    arc: Arc | None = None  # None: a project-wide milestone
    planned_date: date
    rag: Rag = Rag.GREEN


class Milestone(MilestoneDraft):
    id: str
    status: MilestoneStatus = MilestoneStatus.NOT_STARTED
    actual_date: date | None = None
    note: Note = ""


class MilestoneUpdate(Model):
    status: MilestoneStatus
    rag: Rag
    actual_date: date | None = Field(default=None, validate_default=True)
    planned_date: date | None = None  # None keeps the current plan
    note: Note = ""

    @field_validator("actual_date")
    @classmethod
    def _set_exactly_when_completed(cls, actual: date | None, info: ValidationInfo) -> date | None:
        completed = info.data.get("status") is MilestoneStatus.COMPLETED
        if completed and actual is None:
            raise ValueError("is required when the milestone is completed")
        if not completed and actual is not None:
            raise ValueError("is set only when the milestone is completed")
        return actual


class ProjectDraft(Model):
    name: Name
    solution_id: Id
    priority_area: Area
    arcs: Arcs = []


class Project(ProjectDraft, Versioned):
    id: str
    sites: list[Site] = []
    phase: Phase = Phase.SET_UP
    milestones: list[Milestone] = []
    selection_call_id: str = ""
    closure_reason: str = ""
    created_at: datetime

    def site(self, site_id: str) -> Site:
        for site in self.sites:
            if site.id == site_id:
                return site
        raise NotFound(f"project {self.id} has no site {site_id!r}")

    def milestone(self, milestone_id: str) -> Milestone:
        for milestone in self.milestones:
            if milestone.id == milestone_id:
                return milestone
        raise NotFound(f"project {self.id} has no milestone {milestone_id!r}")

    def _require_open(self) -> None:
        if self.phase is Phase.CLOSED:
            raise FailedPrecondition(f"project {self.id} is closed and can no longer change")

    def _require_arc(self, arc: Arc | None, what: str) -> None:
        if arc is not None and arc not in self.arcs:
            arcs = ", ".join(a.name for a in self.arcs) or "none yet"
            raise FailedPrecondition(f"{what} of ARC {arc.name}: the ARC does not implement "
                                     f"project {self.id} (its ARCs: {arcs})")


class StatusReportDraft(Model):
    arc: Arc | None = None  # None: a report on the whole project
    period_start: date
    period_end: date
    rag: Rag
    summary: RequiredText
    risks: Text = ""
    next_steps: Text = ""

    @field_validator("period_end")
    @classmethod
    def _not_before_start(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("period_start")
        if start is not None and end < start:
            raise ValueError(f"{end} is before period_start {start}")
        return end


class StatusReport(StatusReportDraft):
    id: str
    project_id: str
    submitted_by: str
    submitted_at: datetime


def new_project(draft: ProjectDraft, project_id: str, now: datetime,
                selection_call_id: str = "") -> Project:
    return Project(**draft.model_dump(), id=project_id, selection_call_id=selection_call_id,
                   created_at=now, updated_at=now)


def create_project(draft: ProjectDraft, solution: KnownSolution | None, project_id: str,
                   now: datetime) -> Project:
    check_usable(solution, draft.solution_id, draft.priority_area, "project.priority_area")
    return new_project(draft, project_id, now)


def add_arcs(project: Project, arcs: list[Arc], selection_call_id: str,
             now: datetime) -> Project | None:
    """The project implemented by ``arcs`` too (partnerships are added, never removed:
    the sites of its ARCs stay valid), or None when nothing changes."""
    project._require_open()
    new = [arc for arc in arcs if arc not in project.arcs]
    if not new and project.selection_call_id == selection_call_id:
        return None
    return project._changed(now, arcs=[*project.arcs, *new], selection_call_id=selection_call_id)


def add_site(project: Project, draft: SiteDraft, site_id: str,
             now: datetime) -> tuple[Project, Site]:
    project._require_open()
    project._require_arc(draft.arc, "cannot add a site")
    _require_unique_site(project, draft, site_id)
    site = Site(**draft.model_dump(), id=site_id)
    return project._changed(now, sites=[*project.sites, site]), site


def update_site(project: Project, site_id: str, draft: SiteDraft,
                now: datetime) -> tuple[Project, Site] | None:
    earlier = project.site(site_id)
    project._require_open()
    project._require_arc(draft.arc, "cannot move a site to")
    _require_unique_site(project, draft, site_id)
    site = Site(**draft.model_dump(), id=site_id)
    if site == earlier:
        return None
    sites = [site if s.id == site_id else s for s in project.sites]
    return project._changed(now, sites=sites), site


def _require_unique_site(project: Project, draft: SiteDraft, site_id: str) -> None:
    for site in project.sites:
        if site.id != site_id and (site.arc, site.name) == (draft.arc, draft.name):
            raise AlreadyExists(f"project {project.id} already has a site {draft.name!r} "
                                f"of ARC {draft.arc.name} ({site.id})")


def change_phase(project: Project, phase: Phase, reason: str, now: datetime) -> Project | None:
    """The project in ``phase``, or None when it is already there. Closing early
    (from set-up or implementation) needs a reason."""
    if phase is project.phase:
        return None
    if phase not in NEXT_PHASES[project.phase]:
        allowed = NEXT_PHASES[project.phase]
        why = ("a closed project never reopens" if not allowed else
               f"from {project.phase.name} it can move to "
               f"{' or '.join(p.name for p in allowed)}")
        raise FailedPrecondition(f"project {project.id} cannot move from {project.phase.name} "
                                 f"to {phase.name}: {why}")
    reason = reason.strip()
    if phase is Phase.CLOSED and project.phase in EARLY_CLOSE_FROM and not reason:
        raise InvalidArgument("reason", f"say why project {project.id} closes early "
                                        f"(from {project.phase.name})")
    return project._changed(now, phase=phase,
                            closure_reason=reason if phase is Phase.CLOSED else "")


def add_milestone(project: Project, draft: MilestoneDraft, milestone_id: str,
                  now: datetime) -> tuple[Project, Milestone]:
    project._require_open()
    project._require_arc(draft.arc, "cannot add a milestone")
    milestone = Milestone(**draft.model_dump(), id=milestone_id)
    return project._changed(now, milestones=[*project.milestones, milestone]), milestone


def update_milestone(project: Project, milestone_id: str, update: MilestoneUpdate,
                     now: datetime) -> tuple[Project, Milestone] | None:
    """The milestone's progress recorded, or None when nothing changes. Completed
    and cancelled milestones are final; a completion date is never in the future."""
    earlier = project.milestone(milestone_id)
    project._require_open()
    if update.status not in NEXT_MILESTONE_STATUSES[earlier.status]:
        why = ("it is final" if earlier.status in (MilestoneStatus.COMPLETED,
                                                   MilestoneStatus.CANCELLED)
               else "a milestone never goes back")
        raise FailedPrecondition(f"milestone {milestone_id} is {earlier.status} and cannot "
                                 f"become {update.status}: {why}")
    if update.actual_date is not None and update.actual_date > now.date():
        raise InvalidArgument("actual_date", f"{update.actual_date} is in the future")
    milestone = earlier.model_copy(update={
        "status": update.status,
        "rag": update.rag,
        "actual_date": update.actual_date,
        "planned_date": update.planned_date or earlier.planned_date,
        "note": update.note,
    })
    if milestone == earlier:
        return None
    milestones = [milestone if m.id == milestone_id else m for m in project.milestones]
    return project._changed(now, milestones=milestones), milestone


def report_status(project: Project, draft: StatusReportDraft, report_id: str, submitted_by: str,
                  now: datetime) -> tuple[Project, StatusReport]:
    """A status report recorded; the project's version counts it (reports live
    beside the project, not in its snapshot)."""
    project._require_open()
    project._require_arc(draft.arc, "cannot report")
    if draft.period_end > now.date():
        raise InvalidArgument("report.period_end", f"{draft.period_end} is in the future")
    report = StatusReport(**draft.model_dump(), id=report_id, project_id=project.id,
                          submitted_by=submitted_by, submitted_at=now)
    return project._changed(now), report


# ------------------------------------------------------------------ list filters


@dataclass(frozen=True)
class CallFilter(Filter):
    status: CallStatus | None = None
    solution_id: str = ""


@dataclass(frozen=True)
class ProjectFilter(Filter):
    arc: Arc | None = None
    phase: Phase | None = None
    solution_id: str = ""
    priority_area: PriorityArea | None = None
