"""`mhin calls` and `mhin projects` against a real project-tracking service on a
real port: the selection from call to project (the Executive's decision published
as a real governance event), then the project's sites, phase, milestones, reports."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from mhin.common.v1 import priority_area_pb2
from mhin_cli.projects import calls, projects
from mhin_devkit.harness import TEST_ISSUER
from mhin_platform.tokens import issue_token

pytestmark = pytest.mark.integration

CYP = priority_area_pb2.PRIORITY_AREA_CHILDREN_AND_YOUNG_PEOPLE


@pytest.fixture
def mhin(module_runtime):
    address = f"127.0.0.1:{module_runtime.port}"
    runner = CliRunner()

    def run(*args, role="national_admin", arc=None):
        env = {"MHIN_TOKEN": issue_token(TEST_ISSUER, "cli-test", role, arc),
               "MHIN_PROJECT_TRACKING_ADDRESS": address}
        group = {"calls": calls, "projects": projects}[args[0]]
        return runner.invoke(group, list(args[1:]), env=env)
    return run


def ok(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_a_selection_from_call_to_project_with_the_cli(mhin, make, catalogue, known_solution,
                                                       governance, module_service):
    snapshot = make.solution(name="Parent-led CBT for child anxiety",
                             priority_areas=[CYP])
    catalogue(snapshot)
    known_solution(make.projects_api(module_service), snapshot.id)
    assert any(s["id"] == snapshot.id for s in ok(mhin("projects", "solutions", "--json")))

    deadline = (make.today() + timedelta(days=14)).isoformat()
    [call] = ok(mhin("calls", "open", "--solution", snapshot.id,
                     "--area", "children and young people", "--title", "Parent-led CBT: EOI",
                     "--deadline", deadline, "--criterion", "Local partnerships=60",
                     "--criterion", "Readiness=40", "--json"))
    assert call["status"] == "CALL_STATUS_OPEN"
    for arc, slug in (("East of England", "east-of-england"),
                      ("North West Coast", "north-west-coast"), ("West", "west")):
        ok(mhin("calls", "apply", call["id"], "--arc", arc,
                "--partner", f"{arc} NHS FT:NHS trust",
                "--partner", f"{arc} Council:local authority",
                "--site", f"{arc} CAMHS:{arc} NHS FT:NHS trust",
                "--rationale", f"{arc} schools are ready.", "--json",
                role="arc_member", arc=slug))
    refused = mhin("calls", "apply", call["id"], "--arc", "West", "--partner", "X:VCSE",
                   "--rationale", "Not ours.", role="arc_member", arc="east-of-england")
    assert refused.exit_code == 1 and "PERMISSION_DENIED" in refused.output

    ok(mhin("calls", "close", call["id"], "--json"))
    [scored] = ok(mhin("calls", "score", call["id"], "east-of-england",
                       "--score", "Local partnerships=90", "--score", "Readiness=70", "--json"))
    assert scored["total_score"] == 82
    [proposal] = ok(mhin("calls", "propose", call["id"], "--arc", "East of England",
                         "--arc", "North West Coast", "--rationale", "Highest scores.",
                         "--json"))
    assert proposal["status"] == "PROPOSAL_STATUS_PENDING"

    governance(make.decision(proposal["id"]))  # the Executive approves, in governance

    def selected():
        [latest] = ok(mhin("calls", "get", call["id"], "--json"))
        return latest if latest["status"] == "CALL_STATUS_SELECTED" else None

    project_id = make.eventually(selected, "the call's ARCs are selected")["project_id"]
    [project] = ok(mhin("projects", "get", project_id, "--json"))
    assert project["arcs"] == ["ARC_EAST_OF_ENGLAND", "ARC_NORTH_WEST_COAST"]
    readable = mhin("projects", "get", project_id)
    assert "East of England CAMHS" in readable.output and "sites:" in readable.output
    listed = ok(mhin("projects", "list", "--arc", "north-west-coast", "--json"))
    assert project_id in [p["id"] for p in listed]

    [site] = ok(mhin("projects", "add-site", project_id, "--name", "Norwich schools",
                     "--organisation", "Norfolk County Council",
                     "--organisation-type", "local authority", "--arc", "East of England",
                     "--go-live", "2027-01-04", "--json", role="arc_member",
                     arc="east-of-england"))
    [moved] = ok(mhin("projects", "update-site", project_id, site["id"], "--go-live",
                      "2027-02-01", "--json"))
    assert moved["go_live_date"] == {"year": 2027, "month": 2, "day": 1}
    assert moved["name"] == "Norwich schools"
    assert len(ok(mhin("projects", "sites", project_id, "--json"))) == 3

    [step] = ok(mhin("projects", "add-milestone", project_id, "--title", "Therapists trained",
                     "--planned", "2027-03-01", "--arc", "east-of-england", "--json"))
    today = make.today().isoformat()
    [done] = ok(mhin("projects", "update-milestone", project_id, step["id"], "--status",
                     "completed", "--rag", "green", "--actual", today, "--json"))
    assert done["status"] == "MILESTONE_STATUS_COMPLETED"
    assert [m["id"] for m in ok(mhin("projects", "milestones", project_id, "--json"))] == [
        step["id"]]

    [filed] = ok(mhin("projects", "report", project_id, "--from", "2026-01-01", "--to", today,
                      "--rag", "amber", "--summary", "Recruitment under way.",
                      "--arc", "east-of-england", "--json"))
    assert [r["id"] for r in ok(mhin("projects", "reports", project_id, "--json"))] == [
        filed["id"]]

    [implementing] = ok(mhin("projects", "phase", project_id, "implementation", "--json"))
    assert implementing["phase"] == "PHASE_IMPLEMENTATION"
    back = mhin("projects", "phase", project_id, "set_up")
    assert back.exit_code == 1
    assert "FAILED_PRECONDITION" in back.output and "cannot move from IMPLEMENTATION" in back.output


def test_cli_input_errors_are_named(mhin):
    bad_arc = mhin("calls", "propose", "some-call", "--arc", "Atlantis", "--rationale", "x")
    assert bad_arc.exit_code == 2 and "--arc" in bad_arc.output
    bad_criterion = mhin("calls", "open", "--solution", "s", "--area", "Inequalities",
                         "--title", "t", "--deadline", "2030-01-01", "--criterion", "Readiness")
    assert bad_criterion.exit_code == 2 and "NAME=NUMBER" in bad_criterion.output
    weights = mhin("calls", "open", "--solution", "solution-pcref", "--area", "Inequalities",
                   "--title", "t", "--deadline", "2030-01-01", "--criterion", "Readiness=50")
    assert weights.exit_code == 1
    assert "INVALID_ARGUMENT: call.criteria: " in weights.output
    missing = mhin("projects", "get", "no-such-project")
    assert missing.exit_code == 1 and "NOT_FOUND" in missing.output
    readable = mhin("projects", "list", "--arc", "greater-manchester")
    assert "mhin-project-1" in readable.output and "mhin-project-3" in readable.output
