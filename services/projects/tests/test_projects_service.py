"""ProjectsService through a real gRPC server on a real port, a real broker and a
real database: every RPC, the project events, the read model of catalogue
solutions, bad input, illegal transitions, ARC permissions."""

from __future__ import annotations

import grpc
import pytest

from mhin.catalogue.v1 import events_pb2 as catalogue_events
from mhin.catalogue.v1 import solution_pb2
from mhin.common.v1 import arc_pb2, organisation_pb2, period_pb2, priority_area_pb2
from mhin.projects.v1 import project_events_pb2, project_pb2
from mhin.projects.v1 import projects_service_pb2 as api_pb2

pytestmark = pytest.mark.integration

GM = arc_pb2.ARC_GREATER_MANCHESTER
YH = arc_pb2.ARC_YORKSHIRE_AND_HUMBER
EOE = arc_pb2.ARC_EAST_OF_ENGLAND
NWC = arc_pb2.ARC_NORTH_WEST_COAST
INEQUALITIES = priority_area_pb2.PRIORITY_AREA_INEQUALITIES
NHS_TRUST = organisation_pb2.ORGANISATION_TYPE_NHS_TRUST


@pytest.fixture
def solution_id(module_service, make, catalogue, known_solution) -> str:
    """A solution the catalogue has just published, known to the service."""
    snapshot = make.solution()
    catalogue(snapshot)
    known_solution(make.projects_api(module_service), snapshot.id)
    return snapshot.id


@pytest.fixture
def new_project(module_service, make, solution_id):
    def create(arcs=(GM, YH), name="PCREF in the North") -> project_pb2.Project:
        return make.projects_api(module_service).CreateProject(api_pb2.CreateProjectRequest(
            project=api_pb2.ProjectDraft(name=name, solution_id=solution_id,
                                         priority_area=INEQUALITIES, arcs=list(arcs)))).project
    return create


def site(arc=GM, name="Oldham community team", **changes) -> api_pb2.SiteDraft:
    fields = {"name": name, "organisation_name": "Pennine Care NHS FT",
              "organisation_type": NHS_TRUST, "arc": arc}
    return api_pb2.SiteDraft(**{**fields, **changes})


def milestone(arc=GM, title="Staff trained", **changes) -> api_pb2.MilestoneDraft:
    fields = {"title": title, "arc": arc,
              "planned_date": period_pb2.Date(year=2030, month=6, day=1)}
    return api_pb2.MilestoneDraft(**{**fields, **changes})


def report(make, arc=GM, **changes) -> api_pb2.StatusReportDraft:
    fields = {"arc": arc, "period_start": period_pb2.Date(year=2026, month=1, day=1),
              "period_end": make.date(make.today()), "rag": project_pb2.RAG_AMBER,
              "summary": "Two sites live; recruitment slower than planned.",
              "risks": "Staff turnover.", "next_steps": "Train the second team."}
    fields.update(changes)
    return api_pb2.StatusReportDraft(**fields)


def rpc_error(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def test_the_three_mhin_projects_are_loaded_with_their_arc_pairs(module_service, make):
    viewer = make.projects_api(module_service, "viewer")
    projects = {p.id: p for p in viewer.ListProjects(api_pb2.ListProjectsRequest()).projects}
    expected = {
        "mhin-project-1": ("solution-pcref", [GM, YH], INEQUALITIES),
        "mhin-project-2": ("solution-parent-led-cbt", [EOE, NWC],
                           priority_area_pb2.PRIORITY_AREA_CHILDREN_AND_YOUNG_PEOPLE),
        "mhin-project-3": ("solution-alcohol-assertive-outreach", [GM, YH],
                           priority_area_pb2.PRIORITY_AREA_COMORBIDITIES),
    }
    for project_id, (solution_id, arcs, area) in expected.items():
        project = projects[project_id]
        assert (project.solution_id, list(project.arcs), project.priority_area) == (
            solution_id, arcs, area)
        assert project.phase == project_pb2.PHASE_SET_UP
    assert [p.id for p in viewer.ListProjects(api_pb2.ListProjectsRequest(arc=EOE)).projects
            ] == ["mhin-project-2"]
    solutions = {s.id: s for s in viewer.ListSolutions(api_pb2.ListSolutionsRequest(
        page={"page_size": 200})).solutions}
    assert solutions["solution-pcref"].version == 0  # until the catalogue says more


def test_the_life_of_a_project_and_its_events(module_service, make, new_project, topic):
    events = topic("mhin.projects.project")
    api = make.projects_api(module_service)
    project = new_project()
    assert (project.phase, project.version, list(project.arcs)) == (project_pb2.PHASE_SET_UP, 1,
                                                                    [GM, YH])
    pid = project.id
    oldham = api.AddSite(api_pb2.AddSiteRequest(project_id=pid, site=site())).site
    api.AddSite(api_pb2.AddSiteRequest(project_id=pid, site=site(YH, "Bradford team")))
    live = site(go_live_date=period_pb2.Date(year=2026, month=9, day=1))
    updated = api.UpdateSite(api_pb2.UpdateSiteRequest(project_id=pid, site_id=oldham.id,
                                                       site=live)).site
    assert updated.go_live_date == live.go_live_date and updated.id == oldham.id
    step = api.AddMilestone(api_pb2.AddMilestoneRequest(project_id=pid,
                                                        milestone=milestone())).milestone
    assert (step.status, step.rag) == (project_pb2.MILESTONE_STATUS_NOT_STARTED,
                                       project_pb2.RAG_GREEN)
    step = api.UpdateMilestone(api_pb2.UpdateMilestoneRequest(
        project_id=pid, milestone_id=step.id, status=project_pb2.MILESTONE_STATUS_COMPLETED,
        rag=project_pb2.RAG_GREEN, actual_date=make.date(make.today()), note="All trained")
    ).milestone
    assert step.actual_date == make.date(make.today())
    filed = api.SubmitStatusReport(api_pb2.SubmitStatusReportRequest(
        project_id=pid, report=report(make))).report
    assert filed.submitted_by == "tester" and filed.project_id == pid
    moved = api.ChangePhase(api_pb2.ChangePhaseRequest(
        project_id=pid, phase=project_pb2.PHASE_IMPLEMENTATION)).project
    assert moved.phase == project_pb2.PHASE_IMPLEMENTATION and moved.version == 8

    reports = api.ListStatusReports(api_pb2.ListStatusReportsRequest(project_id=pid)).reports
    assert list(reports) == [filed]
    assert api.GetProject(api_pb2.GetProjectRequest(project_id=pid)).project == moved

    history = events.wait_for(lambda seen: len([e for e in seen if e.key == pid]) >= 8)
    mine = [e for e in history if e.key == pid]
    assert [e.type.rsplit(".", 1)[1] for e in mine] == [
        "ProjectCreated", "ProjectSiteAdded", "ProjectSiteAdded", "ProjectSiteUpdated",
        "ProjectMilestoneAdded", "ProjectMilestoneUpdated", "ProjectStatusReported",
        "ProjectPhaseChanged"]
    changed = mine[-1].decode(project_events_pb2.ProjectPhaseChanged)
    assert changed.project == moved
    assert changed.previous_phase == project_pb2.PHASE_SET_UP
    assert mine[0].decode(project_events_pb2.ProjectCreated).project.version == 1
    reported = mine[6].decode(project_events_pb2.ProjectStatusReported)
    assert reported.report == filed and reported.project.version == 7
    assert mine[3].decode(project_events_pb2.ProjectSiteUpdated).site_id == oldham.id


def test_illegal_transitions_fail_precondition_with_a_clear_message(module_service, make,
                                                                    new_project):
    api = make.projects_api(module_service)
    pid = new_project().id

    def move(phase, reason=""):
        return lambda: api.ChangePhase(api_pb2.ChangePhaseRequest(project_id=pid, phase=phase,
                                                                  reason=reason))

    error = rpc_error(move(project_pb2.PHASE_SUSTAINMENT))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "cannot move from SET_UP to SUSTAINMENT" in error.details()
    error = rpc_error(move(project_pb2.PHASE_CLOSED))  # early: a reason is needed
    assert (error.code(), error.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT, f"reason: say why project {pid} closes early "
                                          "(from SET_UP)")
    closed = move(project_pb2.PHASE_CLOSED, "Trust withdrew")().project
    assert (closed.phase, closed.closure_reason) == (project_pb2.PHASE_CLOSED, "Trust withdrew")
    error = rpc_error(move(project_pb2.PHASE_IMPLEMENTATION))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == (f"project {pid} cannot move from CLOSED to IMPLEMENTATION: "
                               "a closed project never reopens")
    error = rpc_error(lambda: api.AddSite(api_pb2.AddSiteRequest(project_id=pid, site=site())))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "closed" in error.details()

    other = new_project().id
    step = api.AddMilestone(api_pb2.AddMilestoneRequest(project_id=other,
                                                        milestone=milestone())).milestone
    api.UpdateMilestone(api_pb2.UpdateMilestoneRequest(
        project_id=other, milestone_id=step.id, status=project_pb2.MILESTONE_STATUS_CANCELLED,
        rag=project_pb2.RAG_RED))
    error = rpc_error(lambda: api.UpdateMilestone(api_pb2.UpdateMilestoneRequest(
        project_id=other, milestone_id=step.id, status=project_pb2.MILESTONE_STATUS_IN_PROGRESS,
        rag=project_pb2.RAG_GREEN)))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "final" in error.details()
    error = rpc_error(lambda: api.AddSite(api_pb2.AddSiteRequest(
        project_id=other, site=site(arc_pb2.ARC_WESSEX))))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "ARC WESSEX: the ARC does not implement" in error.details()
    error = rpc_error(lambda: api.GetProject(api_pb2.GetProjectRequest(project_id="nope")))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_bad_input_names_the_field_and_writes_nothing(module_service, make, new_project,
                                                      solution_id, topic):
    api = make.projects_api(module_service)
    project = new_project()
    pid = project.id
    step = api.AddMilestone(api_pb2.AddMilestoneRequest(project_id=pid,
                                                        milestone=milestone())).milestone
    oldham = api.AddSite(api_pb2.AddSiteRequest(project_id=pid, site=site())).site
    before = api.GetProject(api_pb2.GetProjectRequest(project_id=pid)).project
    count = len(api.ListProjects(api_pb2.ListProjectsRequest(solution_id=solution_id)).projects)
    events = topic("mhin.projects.project")

    def draft(**changes):
        fields = {"name": "PCREF", "solution_id": solution_id, "priority_area": INEQUALITIES,
                  "arcs": [GM]}
        return api_pb2.CreateProjectRequest(project=api_pb2.ProjectDraft(**{**fields,
                                                                           **changes}))

    bad_date = period_pb2.Date(year=2026, month=13, day=1)
    cases = [
        (api.CreateProject, draft(name=""), "project.name"),
        (api.CreateProject, draft(solution_id=""), "project.solution_id"),
        (api.CreateProject, draft(priority_area=0), "project.priority_area"),
        (api.CreateProject, draft(priority_area=priority_area_pb2.PRIORITY_AREA_UNCATEGORISED),
         "project.priority_area"),
        (api.CreateProject, draft(priority_area=priority_area_pb2.PRIORITY_AREA_COMORBIDITIES),
         "project.priority_area"),
        (api.CreateProject, draft(arcs=[GM, GM]), "project.arcs"),
        (api.CreateProject, draft(arcs=[99]), "project.arcs.0"),
        (api.AddSite, api_pb2.AddSiteRequest(project_id="", site=site()), "project_id"),
        (api.AddSite, api_pb2.AddSiteRequest(project_id=pid, site=site(name="")), "site.name"),
        (api.AddSite, api_pb2.AddSiteRequest(project_id=pid, site=site(organisation_type=0)),
         "site.organisation_type"),
        (api.AddSite, api_pb2.AddSiteRequest(project_id=pid, site=site(arc=0)), "site.arc"),
        (api.AddSite, api_pb2.AddSiteRequest(project_id=pid, site=site(go_live_date=bad_date)),
         "site.go_live_date"),
        (api.UpdateSite, api_pb2.UpdateSiteRequest(project_id=pid, site_id="", site=site()),
         "site_id"),
        (api.UpdateSite, api_pb2.UpdateSiteRequest(project_id=pid, site_id=oldham.id,
                                                   site=site(organisation_name="x" * 201)),
         "site.organisation_name"),
        (api.ChangePhase, api_pb2.ChangePhaseRequest(project_id=pid), "phase"),
        (api.ChangePhase, api_pb2.ChangePhaseRequest(
            project_id=pid, phase=project_pb2.PHASE_IMPLEMENTATION, reason="x" * 1001), "reason"),
        (api.AddMilestone, api_pb2.AddMilestoneRequest(project_id=pid,
                                                       milestone=milestone(title="")),
         "milestone.title"),
        (api.AddMilestone, api_pb2.AddMilestoneRequest(
            project_id=pid, milestone=api_pb2.MilestoneDraft(title="Go live", arc=GM)),
         "milestone.planned_date"),
        (api.AddMilestone, api_pb2.AddMilestoneRequest(project_id=pid,
                                                       milestone=milestone(rag=9)),
         "milestone.rag"),
        (api.UpdateMilestone, api_pb2.UpdateMilestoneRequest(
            project_id=pid, milestone_id=step.id, rag=project_pb2.RAG_GREEN), "status"),
        (api.UpdateMilestone, api_pb2.UpdateMilestoneRequest(
            project_id=pid, milestone_id=step.id, status=project_pb2.MILESTONE_STATUS_COMPLETED,
            rag=project_pb2.RAG_GREEN), "actual_date"),
        (api.UpdateMilestone, api_pb2.UpdateMilestoneRequest(
            project_id=pid, milestone_id=step.id, status=project_pb2.MILESTONE_STATUS_COMPLETED,
            rag=project_pb2.RAG_GREEN, actual_date=period_pb2.Date(year=2099, month=1, day=1)),
         "actual_date"),
        (api.SubmitStatusReport, api_pb2.SubmitStatusReportRequest(
            project_id=pid, report=report(make, summary=" ")), "report.summary"),
        (api.SubmitStatusReport, api_pb2.SubmitStatusReportRequest(
            project_id=pid, report=report(make, rag=0)), "report.rag"),
        (api.SubmitStatusReport, api_pb2.SubmitStatusReportRequest(
            project_id=pid, report=report(make, period_end=period_pb2.Date(
                year=2025, month=12, day=31))), "report.period_end"),
        (api.ListProjects, api_pb2.ListProjectsRequest(page={"page_size": -1}),
         "page.page_size"),
        (api.ListStatusReports, api_pb2.ListStatusReportsRequest(
            project_id=pid, page={"page_token": "not-a-token"}), "page.page_token"),
    ]
    for method, request, field in cases:
        error = rpc_error(lambda: method(request))  # noqa: B023
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (field, error.details())
        assert error.details().startswith(f"{field}: "), (field, error.details())

    assert api.GetProject(api_pb2.GetProjectRequest(project_id=pid)).project == before
    assert len(api.ListProjects(api_pb2.ListProjectsRequest(solution_id=solution_id)).projects
               ) == count
    assert not api.ListStatusReports(api_pb2.ListStatusReportsRequest(project_id=pid)).reports
    assert events.settle() == [], "bad requests must publish nothing"


def test_an_arc_member_changes_only_their_own_arcs_sites_and_milestones(module_service, make,
                                                                        new_project):
    admin = make.projects_api(module_service)
    gm = make.projects_api(module_service, "arc_member", "greater-manchester")
    pid = new_project().id
    theirs = admin.AddSite(api_pb2.AddSiteRequest(project_id=pid,
                                                  site=site(YH, "Bradford team"))).site
    their_step = admin.AddMilestone(api_pb2.AddMilestoneRequest(
        project_id=pid, milestone=milestone(YH))).milestone
    national_step = admin.AddMilestone(api_pb2.AddMilestoneRequest(
        project_id=pid, milestone=milestone(0, "Evaluation protocol agreed"))).milestone

    own = gm.AddSite(api_pb2.AddSiteRequest(project_id=pid, site=site())).site
    gm.UpdateSite(api_pb2.UpdateSiteRequest(project_id=pid, site_id=own.id, site=site(
        go_live_date=period_pb2.Date(year=2026, month=10, day=1))))
    own_step = gm.AddMilestone(api_pb2.AddMilestoneRequest(project_id=pid,
                                                           milestone=milestone())).milestone
    gm.UpdateMilestone(api_pb2.UpdateMilestoneRequest(
        project_id=pid, milestone_id=own_step.id,
        status=project_pb2.MILESTONE_STATUS_IN_PROGRESS, rag=project_pb2.RAG_AMBER))
    gm.SubmitStatusReport(api_pb2.SubmitStatusReportRequest(project_id=pid, report=report(make)))
    in_progress = project_pb2.MILESTONE_STATUS_IN_PROGRESS

    for attempt in (
        lambda: gm.AddSite(api_pb2.AddSiteRequest(project_id=pid, site=site(YH, "Leeds"))),
        lambda: gm.UpdateSite(api_pb2.UpdateSiteRequest(project_id=pid, site_id=theirs.id,
                                                        site=site(YH, "Bradford"))),
        lambda: gm.UpdateSite(api_pb2.UpdateSiteRequest(project_id=pid, site_id=own.id,
                                                        site=site(YH))),
        lambda: gm.UpdateMilestone(api_pb2.UpdateMilestoneRequest(
            project_id=pid, milestone_id=their_step.id, status=in_progress,
            rag=project_pb2.RAG_RED)),
        lambda: gm.UpdateMilestone(api_pb2.UpdateMilestoneRequest(
            project_id=pid, milestone_id=national_step.id, status=in_progress,
            rag=project_pb2.RAG_RED)),
        lambda: gm.AddMilestone(api_pb2.AddMilestoneRequest(project_id=pid,
                                                            milestone=milestone(YH))),
        lambda: gm.AddMilestone(api_pb2.AddMilestoneRequest(project_id=pid,
                                                            milestone=milestone(0))),
        lambda: gm.SubmitStatusReport(api_pb2.SubmitStatusReportRequest(
            project_id=pid, report=report(make, arc=YH))),
        lambda: gm.ChangePhase(api_pb2.ChangePhaseRequest(
            project_id=pid, phase=project_pb2.PHASE_IMPLEMENTATION)),
        lambda: gm.CreateProject(api_pb2.CreateProjectRequest(project=api_pb2.ProjectDraft(
            name="x", solution_id="solution-pcref", priority_area=INEQUALITIES))),
        lambda: make.projects_api(module_service, "viewer").AddSite(
            api_pb2.AddSiteRequest(project_id=pid, site=site(name="Wigan"))),
    ):
        assert rpc_error(attempt).code() == grpc.StatusCode.PERMISSION_DENIED

    project = admin.GetProject(api_pb2.GetProjectRequest(project_id=pid)).project
    sites = {s.id: s for s in project.sites}
    assert sites[own.id].go_live_date.year == 2026 and sites[theirs.id].name == "Bradford team"
    steps = {m.id: m.status for m in project.milestones}
    assert steps == {their_step.id: project_pb2.MILESTONE_STATUS_NOT_STARTED,
                     national_step.id: project_pb2.MILESTONE_STATUS_NOT_STARTED,
                     own_step.id: in_progress}


def test_projects_are_checked_against_the_catalogue_read_model(module_service, make, catalogue,
                                                               publish_event, known_solution,
                                                               topic):
    api = make.projects_api(module_service)
    dead_letters = topic("mhin.catalogue.solution.dlq")

    def create(solution_id):
        return lambda: api.CreateProject(api_pb2.CreateProjectRequest(
            project=api_pb2.ProjectDraft(name="PCREF", solution_id=solution_id,
                                         priority_area=INEQUALITIES)))

    error = rpc_error(create("solution-never-catalogued"))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "not in the catalogue" in error.details()

    revised = make.solution(version=2, name="PCREF (revised)")
    sid = revised.id
    catalogue(revised, catalogue_events.SolutionRevised)
    catalogue(make.solution(sid, version=1, name="PCREF (stale)"))  # late, older: ignored
    publish_event("mhin.catalogue.solution", sid, catalogue_events.SolutionRevised(
        solution=make.solution("someone-else", version=3)))  # not the key: dead-lettered
    dead_letters.wait_for(lambda seen: any(e.key == sid for e in seen))
    letter = next(r for r in dead_letters.records if r.key == sid.encode())
    reason = dict(letter.headers)["dlq_reason"].decode()
    assert "solution.id" in reason and "record key" in reason
    known = known_solution(api, sid, version=2)  # same key, so the stale one came first
    assert known.name == "PCREF (revised)" and not known.retired
    assert create(sid)().project.solution_id == sid

    catalogue(make.solution(sid, version=4, status=solution_pb2.SOLUTION_STATUS_RETIRED),
              catalogue_events.SolutionRetired)
    assert known_solution(api, sid, version=4).retired
    error = rpc_error(create(sid))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == f"solution {sid!r} is retired from the catalogue"


def test_list_projects_filters_and_pages(module_service, make, new_project, solution_id):
    api = make.projects_api(module_service)
    created = [new_project(name=f"project {i}", arcs=arcs)
               for i, arcs in enumerate(((GM, YH), (GM,), (EOE, NWC)))]
    api.ChangePhase(api_pb2.ChangePhaseRequest(project_id=created[2].id,
                                               phase=project_pb2.PHASE_IMPLEMENTATION))

    def names(**filters):
        found, token = [], ""
        while True:
            page = api.ListProjects(api_pb2.ListProjectsRequest(
                solution_id=solution_id, page={"page_size": 2, "page_token": token}, **filters))
            found += [p.name for p in page.projects]
            if not (token := page.page.next_page_token):
                return found

    assert names() == ["project 0", "project 1", "project 2"]
    assert names(arc=GM) == ["project 0", "project 1"]
    assert names(phase=project_pb2.PHASE_IMPLEMENTATION) == ["project 2"]
    assert names(priority_area=priority_area_pb2.PRIORITY_AREA_COMORBIDITIES) == []
    first = api.ListProjects(api_pb2.ListProjectsRequest(solution_id=solution_id,
                                                         page={"page_size": 1}))
    error = rpc_error(lambda: api.ListProjects(api_pb2.ListProjectsRequest(
        arc=GM, solution_id=solution_id, page={"page_size": 1,
                                               "page_token": first.page.next_page_token})))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "other filters" in error.details()
