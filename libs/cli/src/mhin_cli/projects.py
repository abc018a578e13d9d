"""``mhin calls`` and ``mhin projects`` (project-tracking): selection calls and
ARC applications, scoring and the proposal sent to the Executive; projects, their
sites, phases, milestones and status reports."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from mhin.common.v1 import arc_pb2, organisation_pb2, period_pb2, priority_area_pb2
from mhin.projects.v1 import project_pb2, selection_pb2
from mhin.projects.v1 import projects_service_pb2 as projects_api
from mhin.projects.v1 import projects_service_pb2_grpc as projects_grpc
from mhin.projects.v1 import selection_service_pb2 as selection_api
from mhin.projects.v1 import selection_service_pb2_grpc as selection_grpc
from mhin_cli.choices import enum_number, enum_word, enum_words, reference_number
from mhin_cli.client import ServiceCommand, all_pages, connect, message_dict
from mhin_platform.reference import Arc, OrganisationType, PriorityArea

ARC = arc_pb2.Arc
AREA = priority_area_pb2.PriorityArea
ORG_TYPE = organisation_pb2.OrganisationType

service = ServiceCommand("project-tracking")
date_type = click.DateTime(formats=["%Y-%m-%d"])


def _calls(address: str, token: str) -> selection_grpc.SelectionServiceStub:
    return selection_grpc.SelectionServiceStub(connect(address, token))


def _projects(address: str, token: str) -> projects_grpc.ProjectsServiceStub:
    return projects_grpc.ProjectsServiceStub(connect(address, token))


# ------------------------------------------------------------------ parsing options


def _arc(text: str | None, hint: str = "--arc") -> arc_pb2.Arc.ValueType:
    return reference_number(Arc.parse, ARC, hint, text)


def _date(value: datetime | None) -> period_pb2.Date:
    if value is None:
        return period_pb2.Date()
    return period_pb2.Date(year=value.year, month=value.month, day=value.day)


def _show_date(value: period_pb2.Date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}" if value.year else "-"


def _pair(text: str, hint: str) -> tuple[str, float]:
    """``NAME=NUMBER`` (a criterion and its weight or score)."""
    name, _, number = text.rpartition("=")
    try:
        return name.strip(), float(number)
    except ValueError:
        raise click.BadParameter(f"{text!r}: use NAME=NUMBER", param_hint=hint) from None


def _parts(text: str, count: int, usage: str, hint: str) -> list[str]:
    """``A:B[:C]`` split into ``count`` parts (the last may itself contain colons)."""
    parts = [part.strip() for part in text.split(":", count - 1)]
    if len(parts) != count:
        raise click.BadParameter(f"{text!r}: use {usage}", param_hint=hint)
    return parts


def _partner(text: str) -> selection_pb2.Partner:
    name, kind = _parts(text, 2, "NAME:TYPE", "--partner")
    return selection_pb2.Partner(
        name=name, type=reference_number(OrganisationType.parse, ORG_TYPE, "--partner", kind))


def _proposed_site(text: str) -> selection_pb2.ProposedSite:
    name, organisation, kind = _parts(text, 3, "SITE:ORGANISATION:TYPE", "--site")
    return selection_pb2.ProposedSite(
        name=name, organisation_name=organisation,
        organisation_type=reference_number(OrganisationType.parse, ORG_TYPE, "--site", kind))


# ------------------------------------------------------------------ printing


def _as_json(message: Any) -> str:
    return json.dumps(message_dict(message))


def _arc_name(number: arc_pb2.Arc.ValueType) -> str:
    return arc_pb2.Arc.Name(number).removeprefix("ARC_") if number else "PROJECT-WIDE"


def _print_call(call: selection_pb2.SelectionCall, as_json: bool) -> None:
    if as_json:
        click.echo(_as_json(call))
        return
    status = enum_word(selection_pb2.CallStatus, call.status)
    click.echo(f"{call.id}  {status:<9} deadline {_show_date(call.deadline)}  "
               f"{call.title}  (solution {call.solution_id})")
    for application in call.applications:
        click.echo(f"  application {application.id}  {_arc_name(application.arc):<28} "
                   f"{enum_word(selection_pb2.ApplicationStatus, application.status):<12} "
                   f"score {application.total_score:g}")
    for proposal in call.proposals:
        arcs = ", ".join(_arc_name(arc) for arc in proposal.proposed_arcs)
        click.echo(f"  proposal {proposal.id}  "
                   f"{enum_word(selection_pb2.ProposalStatus, proposal.status):<8} {arcs}")
        for noted in proposal.decisions_not_applied:
            click.echo(f"    decision {noted.decision_id} not applied: {noted.reason}")


def _print_project(project: project_pb2.Project, as_json: bool) -> None:
    if as_json:
        click.echo(_as_json(project))
        return
    arcs = ", ".join(_arc_name(arc) for arc in project.arcs) or "no ARCs yet"
    click.echo(f"{project.id}  {enum_word(project_pb2.Phase, project.phase):<14} {project.name}  "
               f"[{arcs}] (solution {project.solution_id}, v{project.version})")


def _print_site(site: project_pb2.Site, as_json: bool) -> None:
    if as_json:
        click.echo(_as_json(site))
        return
    click.echo(f"{site.id}  {_arc_name(site.arc):<28} go-live {_show_date(site.go_live_date)}  "
               f"{site.name} ({site.organisation_name})")


def _print_milestone(milestone: project_pb2.Milestone, as_json: bool) -> None:
    if as_json:
        click.echo(_as_json(milestone))
        return
    click.echo(f"{milestone.id}  {_arc_name(milestone.arc):<28} "
               f"{enum_word(project_pb2.MilestoneStatus, milestone.status):<12} "
               f"{enum_word(project_pb2.Rag, milestone.rag):<6} "
               f"planned {_show_date(milestone.planned_date)} "
               f"actual {_show_date(milestone.actual_date)}  {milestone.title}")


def _print_report(report: project_pb2.StatusReport, as_json: bool) -> None:
    if as_json:
        click.echo(_as_json(report))
        return
    click.echo(f"{report.id}  {_arc_name(report.arc):<28} "
               f"{_show_date(report.period_start)}..{_show_date(report.period_end)} "
               f"{enum_word(project_pb2.Rag, report.rag):<6} {report.summary}")


# ------------------------------------------------------------------ mhin calls


@click.group()
def calls() -> None:
    """Selection calls: ARC applications, scoring, proposals (project-tracking)."""


@calls.command("open")
@click.option("--solution", "solution_id", required=True,
              help="Solution id (see `mhin projects solutions`).")
@click.option("--area", required=True, help="Priority area of the project to be.")
@click.option("--title", required=True)
@click.option("--description", default="")
@click.option("--deadline", type=date_type, required=True, help="Last day to apply, YYYY-MM-DD.")
@click.option("--criterion", "criteria", multiple=True, required=True,
              help="Scoring criterion as NAME=WEIGHT; weights sum to 100 (repeatable).")
@service
def open_call(solution_id: str, area: str, title: str, description: str, deadline: datetime,
              criteria: tuple[str, ...], address: str, token: str, as_json: bool) -> None:
    """Open a call for ARCs to implement a solution (national_admin)."""
    draft = selection_api.CallDraft(
        solution_id=solution_id, title=title, description=description,
        priority_area=reference_number(PriorityArea.parse, AREA, "--area", area),
        deadline=_date(deadline),
        criteria=[selection_pb2.ScoringCriterion(name=name, weight=weight)
                  for name, weight in (_pair(text, "--criterion") for text in criteria)])
    call = _calls(address, token).OpenCall(selection_api.OpenCallRequest(call=draft)).call
    _print_call(call, as_json)


@calls.command("list")
@click.option("--status", type=click.Choice(enum_words(selection_pb2.CallStatus)))
@click.option("--solution", "solution_id", default="")
@service
def list_calls(status: str | None, solution_id: str, address: str, token: str,
               as_json: bool) -> None:
    """List calls, oldest first."""
    request = selection_api.ListCallsRequest(
        status=enum_number(selection_pb2.CallStatus, status), solution_id=solution_id)
    for call in all_pages(_calls(address, token).ListCalls, request, "calls"):
        _print_call(call, as_json)


@calls.command("get")
@click.argument("call_id")
@service
def get_call(call_id: str, address: str, token: str, as_json: bool) -> None:
    """Show a call with its applications and proposals."""
    call = _calls(address, token).GetCall(selection_api.GetCallRequest(call_id=call_id)).call
    _print_call(call, as_json)


@calls.command("apply")
@click.argument("call_id")
@click.option("--arc", required=True,
              help="The applying ARC (an arc_member applies for their own).")
@click.option("--partner", "partners", multiple=True, required=True,
              help="Local partner as NAME:TYPE, e.g. 'Oldham Council:local authority' "
                   "(repeatable).")
@click.option("--site", "sites", multiple=True,
              help="Proposed site as SITE:ORGANISATION:TYPE (repeatable).")
@click.option("--rationale", required=True)
@service
def apply(call_id: str, arc: str, partners: tuple[str, ...], sites: tuple[str, ...],
          rationale: str, address: str, token: str, as_json: bool) -> None:
    """Submit (or change) an ARC's application to CALL_ID."""
    draft = selection_api.ApplicationDraft(
        arc=_arc(arc), local_partners=[_partner(text) for text in partners],
        proposed_sites=[_proposed_site(text) for text in sites], rationale=rationale)
    response = _calls(address, token).SubmitApplication(
        selection_api.SubmitApplicationRequest(call_id=call_id, application=draft))
    if as_json:
        click.echo(_as_json(response.application))
    else:
        click.echo(f"application {response.application.id} of "
                   f"{_arc_name(response.application.arc)} to call {call_id}")


@calls.command("close")
@click.argument("call_id")
@service
def close_call(call_id: str, address: str, token: str, as_json: bool) -> None:
    """Close CALL_ID to applications (national_admin)."""
    call = _calls(address, token).CloseCall(
        selection_api.CloseCallRequest(call_id=call_id)).call
    _print_call(call, as_json)


@calls.command("score")
@click.argument("call_id")
@click.argument("arc")
@click.option("--score", "scores", multiple=True, required=True,
              help="CRITERION=SCORE (0 to 100), one per criterion of the call (repeatable).")
@service
def score(call_id: str, arc: str, scores: tuple[str, ...], address: str, token: str,
          as_json: bool) -> None:
    """Score ARC's application to CALL_ID on every criterion (national_admin)."""
    wanted = _arc(arc, "ARC")
    stub = _calls(address, token)
    call = stub.GetCall(selection_api.GetCallRequest(call_id=call_id)).call
    application = next((a for a in call.applications if a.arc == wanted), None)
    if application is None:
        raise click.ClickException(f"{_arc_name(wanted)} has not applied to call {call_id}")
    scored = stub.ScoreApplication(selection_api.ScoreApplicationRequest(
        call_id=call_id, application_id=application.id,
        scores=[selection_pb2.CriterionScore(criterion=name, score=value)
                for name, value in (_pair(text, "--score") for text in scores)])).application
    if as_json:
        click.echo(_as_json(scored))
    else:
        click.echo(f"{_arc_name(scored.arc)}: total {scored.total_score:g}")


@calls.command("propose")
@click.argument("call_id")
@click.option("--arc", "arcs", multiple=True, required=True,
              help="An ARC put forward (repeatable; usually a pair).")
@click.option("--rationale", required=True)
@service
def propose(call_id: str, arcs: tuple[str, ...], rationale: str, address: str, token: str,
            as_json: bool) -> None:
    """Send a selection proposal for CALL_ID to the Executive (national_admin). The
    Executive's decision, recorded in governance, selects the ARCs."""
    request = selection_api.ProposeSelectionRequest(
        call_id=call_id, proposed_arcs=[_arc(arc) for arc in arcs], rationale=rationale)
    proposal = _calls(address, token).ProposeSelection(request).proposal
    if as_json:
        click.echo(_as_json(proposal))
    else:
        click.echo(f"proposal {proposal.id} sent to the Executive: "
                   + ", ".join(_arc_name(arc) for arc in proposal.proposed_arcs))


# ------------------------------------------------------------------ mhin projects


@click.group()
def projects() -> None:
    """Projects, their ARCs, sites, phases, milestones and status reports (project-tracking)."""


def _get_project(stub: projects_grpc.ProjectsServiceStub, project_id: str) -> project_pb2.Project:
    return stub.GetProject(projects_api.GetProjectRequest(project_id=project_id)).project


@projects.command("list")
@click.option("--arc")
@click.option("--phase", type=click.Choice(enum_words(project_pb2.Phase)))
@click.option("--solution", "solution_id", default="")
@click.option("--area")
@service
def list_projects(arc: str | None, phase: str | None, solution_id: str, area: str | None,
                  address: str, token: str, as_json: bool) -> None:
    """List projects, oldest first."""
    request = projects_api.ListProjectsRequest(
        arc=_arc(arc), phase=enum_number(project_pb2.Phase, phase), solution_id=solution_id,
        priority_area=reference_number(PriorityArea.parse, AREA, "--area", area))
    for project in all_pages(_projects(address, token).ListProjects, request, "projects"):
        _print_project(project, as_json)


@projects.command("get")
@click.argument("project_id")
@service
def get_project(project_id: str, address: str, token: str, as_json: bool) -> None:
    """Show a project with its sites and milestones."""
    project = _get_project(_projects(address, token), project_id)
    _print_project(project, as_json)
    if not as_json:
        click.echo("sites:")
        for site in project.sites:
            _print_site(site, False)
        click.echo("milestones:")
        for milestone in project.milestones:
            _print_milestone(milestone, False)


@projects.command("create")
@click.option("--name", required=True)
@click.option("--solution", "solution_id", required=True)
@click.option("--area", required=True)
@click.option("--arc", "arcs", multiple=True, help="An implementing ARC (repeatable).")
@service
def create_project(name: str, solution_id: str, area: str, arcs: tuple[str, ...], address: str,
                   token: str, as_json: bool) -> None:
    """Create a project directly (national_admin); usually a finalised selection does."""
    draft = projects_api.ProjectDraft(
        name=name, solution_id=solution_id, arcs=[_arc(arc) for arc in arcs],
        priority_area=reference_number(PriorityArea.parse, AREA, "--area", area))
    project = _projects(address, token).CreateProject(
        projects_api.CreateProjectRequest(project=draft)).project
    _print_project(project, as_json)


@projects.command("sites")
@click.argument("project_id")
@service
def sites(project_id: str, address: str, token: str, as_json: bool) -> None:
    """List PROJECT_ID's sites."""
    for site in _get_project(_projects(address, token), project_id).sites:
        _print_site(site, as_json)


def _site_options(required: bool):
    """What describes a site: all required to add one, any to change one."""
    def decorate(command):
        for option in reversed((
            click.option("--name", required=required),
            click.option("--organisation", required=required, help="Host organisation."),
            click.option("--organisation-type", required=required,
                         help="e.g. 'NHS trust', 'local authority', 'VCSE'."),
            click.option("--arc", required=required, help="The site's ARC."),
            click.option("--go-live", type=date_type, help="Go-live date, YYYY-MM-DD."),
        )):
            command = option(command)
        return command
    return decorate


def _site_draft(current: project_pb2.Site, given: dict[str, Any]) -> projects_api.SiteDraft:
    """``current`` with the options that were given replacing its fields."""
    draft = projects_api.SiteDraft(
        name=given["name"] or current.name,
        organisation_name=given["organisation"] or current.organisation_name,
        organisation_type=reference_number(OrganisationType.parse, ORG_TYPE,
                                           "--organisation-type", given["organisation_type"])
        or current.organisation_type,
        arc=_arc(given["arc"]) or current.arc)
    draft.go_live_date.CopyFrom(_date(given["go_live"]) if given["go_live"]
                                else current.go_live_date)
    return draft


@projects.command("add-site")
@click.argument("project_id")
@_site_options(required=True)
@service
def add_site(project_id: str, address: str, token: str, as_json: bool, **given: Any) -> None:
    """Add a site of one of PROJECT_ID's ARCs (an arc_member adds their own ARC's)."""
    request = projects_api.AddSiteRequest(project_id=project_id,
                                          site=_site_draft(project_pb2.Site(), given))
    _print_site(_projects(address, token).AddSite(request).site, as_json)


@projects.command("update-site")
@click.argument("project_id")
@click.argument("site_id")
@_site_options(required=False)
@service
def update_site(project_id: str, site_id: str, address: str, token: str, as_json: bool,
                **given: Any) -> None:
    """Change SITE_ID: the options given replace its fields, the rest stay."""
    stub = _projects(address, token)
    project = _get_project(stub, project_id)
    current = next((s for s in project.sites if s.id == site_id), None)
    if current is None:
        raise click.ClickException(f"project {project_id} has no site {site_id}")
    site = stub.UpdateSite(projects_api.UpdateSiteRequest(
        project_id=project_id, site_id=site_id, site=_site_draft(current, given))).site
    _print_site(site, as_json)


@projects.command("phase")
@click.argument("project_id")
@click.argument("phase", type=click.Choice(enum_words(project_pb2.Phase)))
@click.option("--reason", default="", help="Why; required to close early.")
@service
def change_phase(project_id: str, phase: str, reason: str, address: str, token: str,
                 as_json: bool) -> None:
    """Move PROJECT_ID to PHASE (national_admin): set_up -> implementation ->
    sustainment -> closed, or closed early from set_up or implementation."""
    request = projects_api.ChangePhaseRequest(project_id=project_id, reason=reason,
                                              phase=enum_number(project_pb2.Phase, phase))
    _print_project(_projects(address, token).ChangePhase(request).project, as_json)


@projects.command("milestones")
@click.argument("project_id")
@service
def milestones(project_id: str, address: str, token: str, as_json: bool) -> None:
    """List PROJECT_ID's milestones."""
    for milestone in _get_project(_projects(address, token), project_id).milestones:
        _print_milestone(milestone, as_json)


@projects.command("add-milestone")
@click.argument("project_id")
@click.option("--title", required=True)
@click.option("--planned", type=date_type, required=True, help="Planned date, YYYY-MM-DD.")
@click.option("--arc", help="The milestone's ARC; omit for a project-wide one (national_admin).")
@click.option("--description", default="")
@click.option("--rag", type=click.Choice(enum_words(project_pb2.Rag)), default="green",
              show_default=True)
@service
def add_milestone(project_id: str, title: str, planned: datetime, arc: str | None,
                  description: str, rag: str, address: str, token: str, as_json: bool) -> None:
    """Add a milestone to PROJECT_ID."""
    draft = projects_api.MilestoneDraft(title=title, description=description, arc=_arc(arc),
                                        planned_date=_date(planned),
                                        rag=enum_number(project_pb2.Rag, rag))
    milestone = _projects(address, token).AddMilestone(
        projects_api.AddMilestoneRequest(project_id=project_id, milestone=draft)).milestone
    _print_milestone(milestone, as_json)


@projects.command("update-milestone")
@click.argument("project_id")
@click.argument("milestone_id")
@click.option("--status", type=click.Choice(enum_words(project_pb2.MilestoneStatus)),
              required=True)
@click.option("--rag", type=click.Choice(enum_words(project_pb2.Rag)), required=True)
@click.option("--actual", type=date_type, help="Date reached (with --status completed).")
@click.option("--planned", type=date_type, help="A new planned date.")
@click.option("--note", default="")
@service
def update_milestone(project_id: str, milestone_id: str, status: str, rag: str,
                     actual: datetime | None, planned: datetime | None, note: str, address: str,
                     token: str, as_json: bool) -> None:
    """Record MILESTONE_ID's progress."""
    request = projects_api.UpdateMilestoneRequest(
        project_id=project_id, milestone_id=milestone_id, note=note,
        status=enum_number(project_pb2.MilestoneStatus, status),
        rag=enum_number(project_pb2.Rag, rag),
        actual_date=_date(actual), planned_date=_date(planned))
    _print_milestone(_projects(address, token).UpdateMilestone(request).milestone, as_json)


@projects.command("report")
@click.argument("project_id")
@click.option("--from", "period_start", type=date_type, required=True,
              help="First day of the period, YYYY-MM-DD.")
@click.option("--to", "period_end", type=date_type, required=True,
              help="Last day of the period, YYYY-MM-DD.")
@click.option("--rag", type=click.Choice(enum_words(project_pb2.Rag)), required=True)
@click.option("--summary", required=True, help="Progress in the period.")
@click.option("--risks", default="")
@click.option("--next-steps", default="")
@click.option("--arc", help="The reporting ARC; omit for the whole project (national_admin).")
@service
def report(project_id: str, period_start: datetime, period_end: datetime, rag: str, summary: str,
           risks: str, next_steps: str, arc: str | None, address: str, token: str,
           as_json: bool) -> None:
    """Submit a status report on PROJECT_ID."""
    draft = projects_api.StatusReportDraft(
        arc=_arc(arc), period_start=_date(period_start), period_end=_date(period_end),
        rag=enum_number(project_pb2.Rag, rag), summary=summary, risks=risks, next_steps=next_steps)
    filed = _projects(address, token).SubmitStatusReport(
        projects_api.SubmitStatusReportRequest(project_id=project_id, report=draft)).report
    _print_report(filed, as_json)


@projects.command("reports")
@click.argument("project_id")
@click.option("--arc")
@service
def reports(project_id: str, arc: str | None, address: str, token: str, as_json: bool) -> None:
    """List PROJECT_ID's status reports, oldest first."""
    request = projects_api.ListStatusReportsRequest(project_id=project_id, arc=_arc(arc))
    for filed in all_pages(_projects(address, token).ListStatusReports, request, "reports"):
        _print_report(filed, as_json)


@projects.command("solutions")
@service
def solutions(address: str, token: str, as_json: bool) -> None:
    """List the catalogue's solutions as project-tracking knows them (what calls and
    projects may be for)."""
    request = projects_api.ListSolutionsRequest()
    for known in all_pages(_projects(address, token).ListSolutions, request, "solutions"):
        if as_json:
            click.echo(_as_json(known))
        else:
            state = "retired" if known.retired else "active"
            click.echo(f"{known.id}  {state:<7} v{known.version}  {known.name}")
