"""gRPC servicers for mhin.projects.v1 (SelectionService, ProjectsService):
translation only (requests to domain values, results to responses); the rules
live in domain, the transactions in app."""

from __future__ import annotations

import grpc

from mhin.projects.v1 import projects_service_pb2 as projects_api
from mhin.projects.v1 import projects_service_pb2_grpc as projects_grpc
from mhin.projects.v1 import selection_service_pb2 as selection_api
from mhin.projects.v1 import selection_service_pb2_grpc as selection_grpc
from mhin_platform.auth import current_principal
from mhin_platform.paging import page_size
from mhin_platform.protoconv import enum_from_proto
from mhin_platform.reference import Arc, PriorityArea
from mhin_projects import convert, domain
from mhin_projects.app import ProjectsApp, SelectionApp
from mhin_projects.domain import CallFilter, ProjectFilter

SELECTION_SERVICE = selection_api.DESCRIPTOR.services_by_name["SelectionService"].full_name
PROJECTS_SERVICE = projects_api.DESCRIPTOR.services_by_name["ProjectsService"].full_name


class SelectionServicer(selection_grpc.SelectionServiceServicer):
    def __init__(self, app: SelectionApp) -> None:
        self._app = app

    def OpenCall(self, request, context):
        call = self._app.open_call(current_principal(), convert.call_draft_from_proto(request.call))
        return selection_api.OpenCallResponse(call=convert.call_to_proto(call))

    def GetCall(self, request, context):
        return selection_api.GetCallResponse(
            call=convert.call_to_proto(self._app.get_call(request.call_id)))

    def ListCalls(self, request, context):
        where = CallFilter(
            status=enum_from_proto(domain.CallStatus, convert.CALL_STATUS, request.status,
                                   "status", required=False),
            solution_id=request.solution_id,
        )
        calls, token = self._app.list_calls(where, page_size(request.page.page_size),
                                            request.page.page_token)
        return selection_api.ListCallsResponse(calls=[convert.call_to_proto(c) for c in calls],
                                               page={"next_page_token": token})

    def SubmitApplication(self, request, context):
        draft = convert.application_draft_from_proto(request.application)
        call, application = self._app.submit_application(current_principal(), request.call_id,
                                                         draft)
        return selection_api.SubmitApplicationResponse(
            call=convert.call_to_proto(call),
            application=convert.application_to_proto(application))

    def CloseCall(self, request, context):
        call = self._app.close_call(current_principal(), request.call_id)
        return selection_api.CloseCallResponse(call=convert.call_to_proto(call))

    def ScoreApplication(self, request, context):
        scores = convert.scores_from_proto(request.scores)
        call, application = self._app.score_application(
            current_principal(), request.call_id, request.application_id, scores)
        return selection_api.ScoreApplicationResponse(
            call=convert.call_to_proto(call),
            application=convert.application_to_proto(application))

    def ProposeSelection(self, request, context):
        arcs = convert.arcs_from_proto(request.proposed_arcs, "proposed_arcs")
        call, proposal = self._app.propose(current_principal(), request.call_id, arcs,
                                           request.rationale)
        return selection_api.ProposeSelectionResponse(
            call=convert.call_to_proto(call), proposal=convert.proposal_to_proto(proposal))


class ProjectsServicer(projects_grpc.ProjectsServiceServicer):
    def __init__(self, app: ProjectsApp) -> None:
        self._app = app

    def CreateProject(self, request, context):
        draft = convert.project_draft_from_proto(request.project)
        project = self._app.create_project(current_principal(), draft)
        return projects_api.CreateProjectResponse(project=convert.project_to_proto(project))

    def GetProject(self, request, context):
        return projects_api.GetProjectResponse(
            project=convert.project_to_proto(self._app.get_project(request.project_id)))

    def ListProjects(self, request, context):
        where = ProjectFilter(
            arc=enum_from_proto(Arc, convert.ARC, request.arc, "arc", required=False),
            phase=enum_from_proto(domain.Phase, convert.PHASE, request.phase, "phase",
                                  required=False),
            solution_id=request.solution_id,
            priority_area=enum_from_proto(PriorityArea, convert.AREA, request.priority_area,
                                          "priority_area", required=False),
        )
        projects, token = self._app.list_projects(where, page_size(request.page.page_size),
                                                  request.page.page_token)
        return projects_api.ListProjectsResponse(
            projects=[convert.project_to_proto(p) for p in projects],
            page={"next_page_token": token})

    def AddSite(self, request, context):
        draft = convert.site_draft_from_proto(request.site)
        project, site = self._app.add_site(current_principal(), request.project_id, draft)
        return projects_api.AddSiteResponse(project=convert.project_to_proto(project),
                                            site=convert.site_to_proto(site))

    def UpdateSite(self, request, context):
        draft = convert.site_draft_from_proto(request.site)
        project, site = self._app.update_site(current_principal(), request.project_id,
                                              request.site_id, draft)
        return projects_api.UpdateSiteResponse(project=convert.project_to_proto(project),
                                               site=convert.site_to_proto(site))

    def ChangePhase(self, request, context):
        phase = enum_from_proto(domain.Phase, convert.PHASE, request.phase, "phase")
        project = self._app.change_phase(current_principal(), request.project_id, phase,
                                         request.reason)
        return projects_api.ChangePhaseResponse(project=convert.project_to_proto(project))

    def AddMilestone(self, request, context):
        draft = convert.milestone_draft_from_proto(request.milestone)
        project, milestone = self._app.add_milestone(current_principal(), request.project_id,
                                                     draft)
        return projects_api.AddMilestoneResponse(project=convert.project_to_proto(project),
                                                 milestone=convert.milestone_to_proto(milestone))

    def UpdateMilestone(self, request, context):
        update = convert.milestone_update_from_proto(request)
        project, milestone = self._app.update_milestone(current_principal(), request.project_id,
                                                        request.milestone_id, update)
        return projects_api.UpdateMilestoneResponse(
            project=convert.project_to_proto(project),
            milestone=convert.milestone_to_proto(milestone))

    def SubmitStatusReport(self, request, context):
        draft = convert.report_draft_from_proto(request.report)
        project, report = self._app.submit_report(current_principal(), request.project_id, draft)
        return projects_api.SubmitStatusReportResponse(project=convert.project_to_proto(project),
                                                       report=convert.report_to_proto(report))

    def ListStatusReports(self, request, context):
        arc = enum_from_proto(Arc, convert.ARC, request.arc, "arc", required=False)
        reports, token = self._app.list_reports(request.project_id, arc,
                                                page_size(request.page.page_size),
                                                request.page.page_token)
        return projects_api.ListStatusReportsResponse(
            reports=[convert.report_to_proto(r) for r in reports],
            page={"next_page_token": token})

    def ListSolutions(self, request, context):
        solutions, token = self._app.list_solutions(page_size(request.page.page_size),
                                                    request.page.page_token)
        return projects_api.ListSolutionsResponse(
            solutions=[convert.known_solution_to_proto(s) for s in solutions],
            page={"next_page_token": token})


def register(server: grpc.Server, selection: SelectionApp, projects: ProjectsApp) -> list[str]:
    selection_grpc.add_SelectionServiceServicer_to_server(SelectionServicer(selection), server)
    projects_grpc.add_ProjectsServiceServicer_to_server(ProjectsServicer(projects), server)
    return [SELECTION_SERVICE, PROJECTS_SERVICE]
