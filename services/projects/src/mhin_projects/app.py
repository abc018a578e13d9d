"""project-tracking use cases: each one transaction that loads, applies a domain
rule, stores the result and records its events in the outbox.

``apply_decision`` is the selection saga's last step, run by the decision
consumer inside the consumer's own (idempotent) transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from mhin_platform.auth import Principal, require_national, require_write
from mhin_platform.errors import InvalidArgument
from mhin_platform.reference import Arc
from mhin_platform.usecases import UseCases, random_id, time_keyset
from mhin_projects import domain, events, store
from mhin_projects.domain import (
    ApplicationDraft,
    ArcApplication,
    CallDraft,
    CriterionScore,
    Decision,
    KnownSolution,
    Milestone,
    MilestoneDraft,
    MilestoneUpdate,
    Phase,
    Project,
    ProjectDraft,
    SelectionCall,
    SelectionProposal,
    Site,
    SiteDraft,
    StatusReport,
    StatusReportDraft,
)

T = TypeVar("T")


def _require_write(principal: Principal, arc: Arc | None, action: str) -> None:
    """ARC data: its own members (and the national team); project-wide data
    (``arc`` None): the national team only."""
    if arc is None:
        require_national(principal, action)
    else:
        require_write(principal, arc)


class SelectionApp(UseCases):
    def open_call(self, principal: Principal, draft: CallDraft) -> SelectionCall:
        require_national(principal, "open a selection call")
        with self._db.transaction() as session:
            solution = store.solutions.find(session, draft.solution_id)
            call = domain.open_call(draft, solution, self._new_id(), self._clock())
            store.calls.add(session, call)
            events.call_opened(session, call)
        return call

    def get_call(self, call_id: str) -> SelectionCall:
        return self._one(store.calls, call_id, "call_id")

    def list_calls(self, where: domain.CallFilter, page_size: int,
                   page_token: str) -> tuple[list[SelectionCall], str]:
        return self._page(lambda session, after, limit: store.list_calls(
            session, where, after, limit), page_size, page_token, where.as_dict(),
            lambda call: [call.opened_at.isoformat(), call.id], time_keyset)

    def submit_application(self, principal: Principal, call_id: str,
                           draft: ApplicationDraft) -> tuple[SelectionCall, ArcApplication]:
        self._check_id(call_id, "call_id")
        require_write(principal, draft.arc)
        with self._db.transaction() as session:
            call, application = domain.submit_application(
                store.calls.get(session, call_id), draft, self._new_id(), self._clock())
            store.calls.replace(session, call)
            events.application_submitted(session, call, application.id)
        return call, application

    def close_call(self, principal: Principal, call_id: str) -> SelectionCall:
        require_national(principal, "close a selection call")
        return self._change(store.calls, call_id, "call_id",
                            lambda call: domain.close_call(call, self._clock()),
                            events.call_closed)

    def score_application(self, principal: Principal, call_id: str, application_id: str,
                          scores: list[CriterionScore]) -> tuple[SelectionCall, ArcApplication]:
        self._check_id(call_id, "call_id")
        self._check_id(application_id, "application_id")
        require_national(principal, "score applications")
        with self._db.transaction() as session:
            call, application = domain.score_application(
                store.calls.get(session, call_id), application_id, scores, self._clock())
            store.calls.replace(session, call)
            events.application_scored(session, call, application.id)
        return call, application

    def propose(self, principal: Principal, call_id: str, arcs: list[Arc],
                rationale: str) -> tuple[SelectionCall, SelectionProposal]:
        self._check_id(call_id, "call_id")
        require_national(principal, "propose a selection")
        with self._db.transaction() as session:
            call, proposal = domain.propose(store.calls.get(session, call_id), arcs, rationale,
                                            self._new_id(), self._clock())
            store.calls.replace(session, call)
            events.selection_proposed(session, call, proposal)
        return call, proposal


class ProjectsApp(UseCases):
    def create_project(self, principal: Principal, draft: ProjectDraft) -> Project:
        require_national(principal, "create a project")
        with self._db.transaction() as session:
            solution = store.solutions.find(session, draft.solution_id)
            project = domain.create_project(draft, solution, self._new_id(), self._clock())
            store.project_documents.add(session, project)
            events.project_created(session, project)
        return project

    def get_project(self, project_id: str) -> Project:
        return self._one(store.project_documents, project_id, "project_id")

    def list_projects(self, where: domain.ProjectFilter, page_size: int,
                      page_token: str) -> tuple[list[Project], str]:
        return self._page(lambda session, after, limit: store.list_projects(
            session, where, after, limit), page_size, page_token, where.as_dict(),
            lambda project: [project.created_at.isoformat(), project.id], time_keyset)

    def add_site(self, principal: Principal, project_id: str,
                 draft: SiteDraft) -> tuple[Project, Site]:
        self._check_id(project_id, "project_id")
        require_write(principal, draft.arc)
        with self._db.transaction() as session:
            project, site = domain.add_site(store.project_documents.get(session, project_id), draft,
                                            self._new_id(), self._clock())
            store.project_documents.replace(session, project)
            events.site_added(session, project, site.id)
        return project, site

    def update_site(self, principal: Principal, project_id: str, site_id: str,
                    draft: SiteDraft) -> tuple[Project, Site]:
        self._check_id(project_id, "project_id")
        self._check_id(site_id, "site_id")
        require_write(principal, draft.arc)
        with self._db.transaction() as session:
            project = store.project_documents.get(session, project_id)
            require_write(principal, project.site(site_id).arc)
            changed = domain.update_site(project, site_id, draft, self._clock())
            if changed is None:
                return project, project.site(site_id)
            project, site = changed
            store.project_documents.replace(session, project)
            events.site_updated(session, project, site.id)
        return project, site

    def change_phase(self, principal: Principal, project_id: str, phase: Phase,
                     reason: str) -> Project:
        self._check_id(project_id, "project_id")
        require_national(principal, "change a project's phase")
        if len(reason) > 1000:
            raise InvalidArgument("reason", "at most 1000 characters")
        with self._db.transaction() as session:
            project = store.project_documents.get(session, project_id)
            changed = domain.change_phase(project, phase, reason, self._clock())
            if changed is None:
                return project
            store.project_documents.replace(session, changed)
            events.phase_changed(session, changed, previous=project.phase)
        return changed

    def add_milestone(self, principal: Principal, project_id: str,
                      draft: MilestoneDraft) -> tuple[Project, Milestone]:
        self._check_id(project_id, "project_id")
        _require_write(principal, draft.arc, "add a project-wide milestone")
        with self._db.transaction() as session:
            project = store.project_documents.get(session, project_id)
            project, milestone = domain.add_milestone(project, draft, self._new_id(),
                                                      self._clock())
            store.project_documents.replace(session, project)
            events.milestone_added(session, project, milestone.id)
        return project, milestone

    def update_milestone(self, principal: Principal, project_id: str, milestone_id: str,
                         update: MilestoneUpdate) -> tuple[Project, Milestone]:
        self._check_id(project_id, "project_id")
        self._check_id(milestone_id, "milestone_id")
        with self._db.transaction() as session:
            project = store.project_documents.get(session, project_id)
            _require_write(principal, project.milestone(milestone_id).arc,
                           "update a project-wide milestone")
            changed = domain.update_milestone(project, milestone_id, update, self._clock())
            if changed is None:
                return project, project.milestone(milestone_id)
            project, milestone = changed
            store.project_documents.replace(session, project)
            events.milestone_updated(session, project, milestone.id)
        return project, milestone

    def submit_report(self, principal: Principal, project_id: str,
                      draft: StatusReportDraft) -> tuple[Project, StatusReport]:
        self._check_id(project_id, "project_id")
        _require_write(principal, draft.arc, "report on a whole project")
        with self._db.transaction() as session:
            project, report = domain.report_status(
                store.project_documents.get(session, project_id), draft, self._new_id(),
                principal.subject, self._clock())
            store.project_documents.replace(session, project)
            store.reports.add(session, report)
            events.status_reported(session, project, report)
        return project, report

    def list_reports(self, project_id: str, arc: Arc | None, page_size: int,
                     page_token: str) -> tuple[list[StatusReport], str]:
        self._check_id(project_id, "project_id")

        def reports_of_the_project(session: Session, after: store.Keyset | None,
                                   limit: int) -> list[StatusReport]:
            store.project_documents.get(session, project_id)  # NotFound naming it
            return store.list_reports(session, project_id, arc, after, limit)

        return self._page(reports_of_the_project, page_size, page_token,
                          {"project_id": project_id, "arc": arc.name if arc else None},
                          lambda report: [report.submitted_at.isoformat(), report.id],
                          time_keyset)

    def list_solutions(self, page_size: int, page_token: str) -> tuple[list[KnownSolution], str]:
        return self._page(lambda session, after, limit: store.list_solutions(
            session, after or "", limit), page_size, page_token, {},
            lambda solution: [solution.id], lambda after: str(after[0]))


# ------------------------------------------------------------------ the saga's last step


def apply_decision(session: Session, decision: Decision, at: datetime,
                   make_id: Callable[[], str] = random_id) -> None:
    """Apply a governance decision about a selection proposal (see
    ``domain.apply_decision``): an approval selects the ARCs and gives the call's
    solution its project (created if no open one exists) with the ARC
    partnerships and the selected ARCs' proposed sites."""
    call = store.call_of_proposal(session, decision.proposal_id)
    if call is None:
        raise InvalidArgument("subject.aggregate_id", "project-tracking has no selection "
                                                      f"proposal {decision.proposal_id!r}")
    project = store.active_project_for(session, call.solution_id)
    project_id = project.id if project else make_id()
    effect = domain.apply_decision(call, decision, project_id, at)
    if effect is None:
        return
    store.calls.replace(session, effect.call)
    if not effect.finalised:
        events.decision_not_applied(session, effect.call, effect.proposal.id,
                                    decision.decision_id, effect.reason)
        return
    if effect.approved:
        _give_project_its_arcs(session, effect.call, effect.proposal, project, project_id,
                               at, make_id)
    events.selection_finalised(session, effect.call, effect.proposal)


def _give_project_its_arcs(session: Session, call: SelectionCall, proposal: SelectionProposal,
                           project: Project | None, project_id: str, at: datetime,
                           make_id: Callable[[], str]) -> None:
    if project is None:
        solution = store.solutions.find(session, call.solution_id)
        draft = ProjectDraft(name=solution.name if solution else call.title,
                             solution_id=call.solution_id, priority_area=call.priority_area,
                             arcs=proposal.proposed_arcs)
        project = domain.new_project(draft, project_id, at, selection_call_id=call.id)
        store.project_documents.add(session, project)
        events.project_created(session, project)
    elif changed := domain.add_arcs(project, proposal.proposed_arcs, call.id, at):
        project = changed
        store.project_documents.replace(session, project)
        events.arcs_changed(session, project)
    for application in call.applications:
        if application.arc in proposal.proposed_arcs:
            project = _add_proposed_sites(session, project, application, at, make_id)


def _add_proposed_sites(session: Session, project: Project, application: ArcApplication,
                        at: datetime, make_id: Callable[[], str]) -> Project:
    """The application's proposed sites become the project's (those it lacks)."""
    for proposed in application.proposed_sites:
        if any((s.arc, s.name) == (application.arc, proposed.name) for s in project.sites):
            continue
        draft = SiteDraft(name=proposed.name, organisation_name=proposed.organisation_name,
                          organisation_type=proposed.organisation_type, arc=application.arc)
        project, site = domain.add_site(project, draft, make_id(), at)
        store.project_documents.replace(session, project)
        events.site_added(session, project, site.id)
    return project
