"""Translation between mhin.projects.v1 messages (and the events project-tracking
consumes) and the domain, both ways.

Requests become domain models through ``mhin_platform.validation.build``, so any
bad value is reported as INVALID_ARGUMENT naming the request field.
"""

from __future__ import annotations

from typing import Any

from mhin.catalogue.v1 import solution_pb2
from mhin.common.v1 import arc_pb2, organisation_pb2, priority_area_pb2
from mhin.governance.v1 import decision_events_pb2
from mhin.projects.v1 import (
    project_pb2,
    projects_service_pb2,
    selection_pb2,
    selection_service_pb2,
)
from mhin_platform.protoconv import (
    date_from_proto,
    date_to_proto,
    enum_from_proto,
    enum_to_proto,
    from_timestamp,
    timestamp,
)
from mhin_platform.reference import Arc, OrganisationType, PriorityArea
from mhin_platform.validation import build
from mhin_projects import domain

ARC = arc_pb2.Arc
AREA = priority_area_pb2.PriorityArea
ORG_TYPE = organisation_pb2.OrganisationType
PHASE = project_pb2.Phase
MILESTONE_STATUS = project_pb2.MilestoneStatus
RAG = project_pb2.Rag
CALL_STATUS = selection_pb2.CallStatus
APPLICATION_STATUS = selection_pb2.ApplicationStatus
PROPOSAL_STATUS = selection_pb2.ProposalStatus
BODY_KIND = decision_events_pb2.BodyKind
OUTCOME = decision_events_pb2.DecisionOutcome

# What governance decisions name as their subject when they decide on a proposal.
SELECTION_PROPOSAL_TYPE = selection_pb2.SelectionProposal.DESCRIPTOR.full_name


def _arc(number: int, field: str, *, required: bool = True) -> Arc | None:
    return enum_from_proto(Arc, ARC, number, field, required=required)


def _org_type(number: int, field: str) -> OrganisationType | None:
    return enum_from_proto(OrganisationType, ORG_TYPE, number, field)


def _area(number: int, field: str) -> PriorityArea | None:
    return enum_from_proto(PriorityArea, AREA, number, field)


def arcs_from_proto(numbers: Any, field: str) -> list[Arc]:
    return [enum_from_proto(Arc, ARC, number, f"{field}.{index}")
            for index, number in enumerate(numbers)]


# ------------------------------------------------------------------ requests


def call_draft_from_proto(message: selection_service_pb2.CallDraft,
                          prefix: str = "call") -> domain.CallDraft:
    return build(domain.CallDraft, {
        "solution_id": message.solution_id,
        "priority_area": _area(message.priority_area, f"{prefix}.priority_area"),
        "title": message.title,
        "description": message.description,
        "deadline": date_from_proto(message.deadline, f"{prefix}.deadline"),
        "criteria": [{"name": c.name, "weight": c.weight} for c in message.criteria],
    }, prefix)


def application_draft_from_proto(message: selection_service_pb2.ApplicationDraft,
                                 prefix: str = "application") -> domain.ApplicationDraft:
    return build(domain.ApplicationDraft, {
        "arc": _arc(message.arc, f"{prefix}.arc"),
        "local_partners": [
            {"name": p.name, "type": _org_type(p.type, f"{prefix}.local_partners.{i}.type")}
            for i, p in enumerate(message.local_partners)],
        "proposed_sites": [
            {"name": s.name, "organisation_name": s.organisation_name,
             "organisation_type": _org_type(s.organisation_type,
                                            f"{prefix}.proposed_sites.{i}.organisation_type")}
            for i, s in enumerate(message.proposed_sites)],
        "rationale": message.rationale,
    }, prefix)


def scores_from_proto(scores: Any, prefix: str = "scores") -> list[domain.CriterionScore]:
    return [build(domain.CriterionScore, {"criterion": s.criterion, "score": s.score},
                  f"{prefix}.{index}") for index, s in enumerate(scores)]


def project_draft_from_proto(message: projects_service_pb2.ProjectDraft,
                             prefix: str = "project") -> domain.ProjectDraft:
    return build(domain.ProjectDraft, {
        "name": message.name,
        "solution_id": message.solution_id,
        "priority_area": _area(message.priority_area, f"{prefix}.priority_area"),
        "arcs": arcs_from_proto(message.arcs, f"{prefix}.arcs"),
    }, prefix)


def site_draft_from_proto(message: projects_service_pb2.SiteDraft,
                          prefix: str = "site") -> domain.SiteDraft:
    return build(domain.SiteDraft, {
        "name": message.name,
        "organisation_name": message.organisation_name,
        "organisation_type": _org_type(message.organisation_type,
                                       f"{prefix}.organisation_type"),
        "arc": _arc(message.arc, f"{prefix}.arc"),
        "go_live_date": date_from_proto(message.go_live_date, f"{prefix}.go_live_date",
                                        required=False),
    }, prefix)


def milestone_draft_from_proto(message: projects_service_pb2.MilestoneDraft,
                               prefix: str = "milestone") -> domain.MilestoneDraft:
    data: dict[str, Any] = {
        "title": message.title,
        "description": message.description,
        "arc": _arc(message.arc, f"{prefix}.arc", required=False),
        "planned_date": date_from_proto(message.planned_date, f"{prefix}.planned_date"),
    }
    if message.rag:
        data["rag"] = enum_from_proto(domain.Rag, RAG, message.rag, f"{prefix}.rag")
    return build(domain.MilestoneDraft, data, prefix)


def milestone_update_from_proto(
        request: projects_service_pb2.UpdateMilestoneRequest) -> domain.MilestoneUpdate:
    return build(domain.MilestoneUpdate, {
        "status": enum_from_proto(domain.MilestoneStatus, MILESTONE_STATUS, request.status,
                                  "status"),
        "rag": enum_from_proto(domain.Rag, RAG, request.rag, "rag"),
        "actual_date": date_from_proto(request.actual_date, "actual_date", required=False),
        "planned_date": date_from_proto(request.planned_date, "planned_date", required=False),
        "note": request.note,
    })


def report_draft_from_proto(message: projects_service_pb2.StatusReportDraft,
                            prefix: str = "report") -> domain.StatusReportDraft:
    return build(domain.StatusReportDraft, {
        "arc": _arc(message.arc, f"{prefix}.arc", required=False),
        "period_start": date_from_proto(message.period_start, f"{prefix}.period_start"),
        "period_end": date_from_proto(message.period_end, f"{prefix}.period_end"),
        "rag": enum_from_proto(domain.Rag, RAG, message.rag, f"{prefix}.rag"),
        "summary": message.summary,
        "risks": message.risks,
        "next_steps": message.next_steps,
    }, prefix)


# ------------------------------------------------------------------ consumed events


def solution_from_proto(message: solution_pb2.Solution) -> domain.KnownSolution:
    """The read model's view of a catalogue solution snapshot."""
    return build(domain.KnownSolution, {
        "id": message.id,
        "name": message.name,
        "priority_areas": [_area(area, f"solution.priority_areas.{index}")
                           for index, area in enumerate(message.priority_areas)],
        "retired": message.status == solution_pb2.SOLUTION_STATUS_RETIRED,
        "version": message.version,
    }, "solution")


def decision_from_proto(message: decision_events_pb2.DecisionRecorded) -> domain.Decision | None:
    """The decision, if it is about a selection proposal (None: not the saga's)."""
    if message.subject.aggregate_type != SELECTION_PROPOSAL_TYPE:
        return None
    return build(domain.Decision, {
        "decision_id": message.decision_id,
        "body_kind": enum_from_proto(domain.BodyKind, BODY_KIND, message.body_kind, "body_kind"),
        "outcome": enum_from_proto(domain.DecisionOutcome, OUTCOME, message.outcome, "outcome"),
        "proposal_id": message.subject.aggregate_id,
        "decided_at": from_timestamp(message.decided_at),
    })


# ------------------------------------------------------------------ responses and events


def call_to_proto(call: domain.SelectionCall) -> selection_pb2.SelectionCall:
    return selection_pb2.SelectionCall(
        id=call.id,
        solution_id=call.solution_id,
        priority_area=enum_to_proto(call.priority_area, AREA),
        title=call.title,
        description=call.description,
        deadline=date_to_proto(call.deadline),
        criteria=[selection_pb2.ScoringCriterion(name=c.name, weight=c.weight)
                  for c in call.criteria],
        status=enum_to_proto(call.status, CALL_STATUS),
        applications=[application_to_proto(a) for a in call.applications],
        proposals=[proposal_to_proto(p) for p in call.proposals],
        project_id=call.project_id,
        opened_at=timestamp(call.opened_at),
        updated_at=timestamp(call.updated_at),
        version=call.version,
    )


def application_to_proto(application: domain.ArcApplication) -> selection_pb2.ArcApplication:
    return selection_pb2.ArcApplication(
        id=application.id,
        arc=enum_to_proto(application.arc, ARC),
        local_partners=[selection_pb2.Partner(name=p.name, type=enum_to_proto(p.type, ORG_TYPE))
                        for p in application.local_partners],
        proposed_sites=[selection_pb2.ProposedSite(
            name=s.name, organisation_name=s.organisation_name,
            organisation_type=enum_to_proto(s.organisation_type, ORG_TYPE))
            for s in application.proposed_sites],
        rationale=application.rationale,
        scores=[selection_pb2.CriterionScore(criterion=s.criterion, score=s.score)
                for s in application.scores],
        total_score=application.total_score,
        status=enum_to_proto(application.status, APPLICATION_STATUS),
        submitted_at=timestamp(application.submitted_at),
        updated_at=timestamp(application.updated_at),
    )


def proposal_to_proto(proposal: domain.SelectionProposal) -> selection_pb2.SelectionProposal:
    message = selection_pb2.SelectionProposal(
        id=proposal.id,
        call_id=proposal.call_id,
        proposed_arcs=[enum_to_proto(arc, ARC) for arc in proposal.proposed_arcs],
        rationale=proposal.rationale,
        status=enum_to_proto(proposal.status, PROPOSAL_STATUS),
        proposed_at=timestamp(proposal.proposed_at),
        decision_id=proposal.decision_id,
        project_id=proposal.project_id,
        decisions_not_applied=[selection_pb2.DecisionNotApplied(
            decision_id=d.decision_id, reason=d.reason, received_at=timestamp(d.received_at))
            for d in proposal.decisions_not_applied],
    )
    if proposal.decided_at is not None:
        message.decided_at.CopyFrom(timestamp(proposal.decided_at))
    return message


def project_to_proto(project: domain.Project) -> project_pb2.Project:
    return project_pb2.Project(
        id=project.id,
        name=project.name,
        solution_id=project.solution_id,
        priority_area=enum_to_proto(project.priority_area, AREA),
        arcs=[enum_to_proto(arc, ARC) for arc in project.arcs],
        sites=[site_to_proto(site) for site in project.sites],
        phase=enum_to_proto(project.phase, PHASE),
        updated_at=timestamp(project.updated_at),
        version=project.version,
        milestones=[milestone_to_proto(m) for m in project.milestones],
        created_at=timestamp(project.created_at),
        selection_call_id=project.selection_call_id,
        closure_reason=project.closure_reason,
    )


def site_to_proto(site: domain.Site) -> project_pb2.Site:
    return project_pb2.Site(
        id=site.id,
        name=site.name,
        organisation_name=site.organisation_name,
        organisation_type=enum_to_proto(site.organisation_type, ORG_TYPE),
        arc=enum_to_proto(site.arc, ARC),
        go_live_date=date_to_proto(site.go_live_date),
    )


def milestone_to_proto(milestone: domain.Milestone) -> project_pb2.Milestone:
    return project_pb2.Milestone(
        id=milestone.id,
        title=milestone.title,
        description=milestone.description,
        arc=enum_to_proto(milestone.arc, ARC),
        planned_date=date_to_proto(milestone.planned_date),
        actual_date=date_to_proto(milestone.actual_date),
        status=enum_to_proto(milestone.status, MILESTONE_STATUS),
        rag=enum_to_proto(milestone.rag, RAG),
        note=milestone.note,
    )


def report_to_proto(report: domain.StatusReport) -> project_pb2.StatusReport:
    return project_pb2.StatusReport(
        id=report.id,
        project_id=report.project_id,
        arc=enum_to_proto(report.arc, ARC),
        period_start=date_to_proto(report.period_start),
        period_end=date_to_proto(report.period_end),
        rag=enum_to_proto(report.rag, RAG),
        summary=report.summary,
        risks=report.risks,
        next_steps=report.next_steps,
        submitted_by=report.submitted_by,
        submitted_at=timestamp(report.submitted_at),
    )


def known_solution_to_proto(solution: domain.KnownSolution) -> projects_service_pb2.KnownSolution:
    return projects_service_pb2.KnownSolution(
        id=solution.id,
        name=solution.name,
        priority_areas=[enum_to_proto(area, AREA) for area in solution.priority_areas],
        retired=solution.retired,
        version=solution.version,
    )
