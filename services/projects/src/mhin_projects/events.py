"""Selection and project events: each state change is written to the outbox in the
same transaction, with the aggregate after the change (and its version).

- ``mhin.projects.selection``, key = selection call id: the call's life, including
  the saga's SelectionProposed (governance consumes it) and SelectionFinalised;
- ``mhin.projects.project``, key = project id: projects, sites, phases, milestones,
  status reports (evaluation keeps its site read model from them).
"""

from __future__ import annotations

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from mhin.projects.v1 import project_events_pb2, selection_events_pb2
from mhin_platform.events import topic_names
from mhin_platform.events.envelope import new_event
from mhin_platform.events.outbox import add_to_outbox
from mhin_platform.protoconv import enum_to_proto, timestamp
from mhin_projects import SERVICE_NAME
from mhin_projects.convert import (
    ARC,
    PHASE,
    call_to_proto,
    project_to_proto,
    report_to_proto,
)
from mhin_projects.domain import (
    Phase,
    Project,
    ProposalStatus,
    SelectionCall,
    SelectionProposal,
    StatusReport,
)

SELECTION_TOPIC = topic_names.PROJECTS_SELECTION
PROJECT_TOPIC = topic_names.PROJECTS_PROJECT
SOURCE = f"/mhin/{SERVICE_NAME}"


def _record(session: Session, topic: str, key: str, message: Message) -> None:
    add_to_outbox(session, new_event(topic=topic, key=key, source=SOURCE, subject=key,
                                     message=message))


# ------------------------------------------------------------------ selection


def _record_call(session: Session, call: SelectionCall, message: Message) -> None:
    _record(session, SELECTION_TOPIC, call.id, message)


def call_opened(session: Session, call: SelectionCall) -> None:
    _record_call(session, call, selection_events_pb2.SelectionCallOpened(call=call_to_proto(call)))


def application_submitted(session: Session, call: SelectionCall, application_id: str) -> None:
    _record_call(session, call, selection_events_pb2.SelectionApplicationSubmitted(
        call=call_to_proto(call), application_id=application_id))


def call_closed(session: Session, call: SelectionCall) -> None:
    _record_call(session, call, selection_events_pb2.SelectionCallClosed(call=call_to_proto(call)))


def application_scored(session: Session, call: SelectionCall, application_id: str) -> None:
    _record_call(session, call, selection_events_pb2.SelectionApplicationScored(
        call=call_to_proto(call), application_id=application_id))


def selection_proposed(session: Session, call: SelectionCall, proposal: SelectionProposal) -> None:
    _record_call(session, call, selection_events_pb2.SelectionProposed(
        proposal_id=proposal.id,
        call_id=call.id,
        solution_id=call.solution_id,
        proposed_arcs=[enum_to_proto(arc, ARC) for arc in proposal.proposed_arcs],
        rationale=proposal.rationale,
        proposed_at=timestamp(proposal.proposed_at),
        call=call_to_proto(call),
    ))


def selection_finalised(session: Session, call: SelectionCall,
                        proposal: SelectionProposal) -> None:
    approved = proposal.status is ProposalStatus.APPROVED
    _record_call(session, call, selection_events_pb2.SelectionFinalised(
        proposal_id=proposal.id,
        call_id=call.id,
        approved=approved,
        selected_arcs=[enum_to_proto(arc, ARC) for arc in proposal.proposed_arcs] if approved
        else [],
        project_id=proposal.project_id,
        decision_id=proposal.decision_id,
        call=call_to_proto(call),
    ))


def decision_not_applied(session: Session, call: SelectionCall, proposal_id: str,
                         decision_id: str, reason: str) -> None:
    _record_call(session, call, selection_events_pb2.SelectionDecisionNotApplied(
        call=call_to_proto(call), proposal_id=proposal_id, decision_id=decision_id,
        reason=reason))


# ------------------------------------------------------------------ projects


def _record_project(session: Session, project: Project, message: Message) -> None:
    _record(session, PROJECT_TOPIC, project.id, message)


def project_created(session: Session, project: Project) -> None:
    _record_project(session, project,
                    project_events_pb2.ProjectCreated(project=project_to_proto(project)))


def arcs_changed(session: Session, project: Project) -> None:
    _record_project(session, project,
                    project_events_pb2.ProjectArcsChanged(project=project_to_proto(project)))


def site_added(session: Session, project: Project, site_id: str) -> None:
    _record_project(session, project, project_events_pb2.ProjectSiteAdded(
        project=project_to_proto(project), site_id=site_id))


def site_updated(session: Session, project: Project, site_id: str) -> None:
    _record_project(session, project, project_events_pb2.ProjectSiteUpdated(
        project=project_to_proto(project), site_id=site_id))


def phase_changed(session: Session, project: Project, previous: Phase) -> None:
    _record_project(session, project, project_events_pb2.ProjectPhaseChanged(
        project=project_to_proto(project), previous_phase=enum_to_proto(previous, PHASE)))


def milestone_added(session: Session, project: Project, milestone_id: str) -> None:
    _record_project(session, project, project_events_pb2.ProjectMilestoneAdded(
        project=project_to_proto(project), milestone_id=milestone_id))


def milestone_updated(session: Session, project: Project, milestone_id: str) -> None:
    _record_project(session, project, project_events_pb2.ProjectMilestoneUpdated(
        project=project_to_proto(project), milestone_id=milestone_id))


def status_reported(session: Session, project: Project, report: StatusReport) -> None:
    _record_project(session, project, project_events_pb2.ProjectStatusReported(
        project=project_to_proto(project), report=report_to_proto(report)))
