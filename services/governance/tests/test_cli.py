"""`mhin governance` against a real governance service on a real port."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from mhin_cli.governance import governance
from mhin_devkit.harness import TEST_ISSUER
from mhin_platform.tokens import issue_token

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).date().isoformat()


@pytest.fixture
def mhin(start_governance):
    """``mhin("meetings", "list", ...)``: the CLI group run as a national admin."""
    with start_governance(saga=False) as running:
        env = {"MHIN_TOKEN": issue_token(TEST_ISSUER, "cli-test", "national_admin"),
               "MHIN_GOVERNANCE_ADDRESS": running.address}
        runner = CliRunner()
        yield lambda *args: runner.invoke(governance, list(args), env=env)


def ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def test_from_members_to_a_decision(mhin):
    bodies = [json.loads(line) for line in ok(mhin("bodies", "list", "--json")).splitlines()]
    assert [b["id"] for b in bodies] == ["advisory-board", "executive"]
    assert "Executive Committee" in ok(mhin("bodies", "list"))
    chair = json.loads(ok(mhin("members", "add", "executive", "--name", "Programme lead",
                               "--role", "chair", "--from", "2024-01-01", "--json")))
    member = json.loads(ok(mhin("members", "add", "executive", "--name", "ARC director",
                                "--role", "member", "--from", "2024-01-01", "--to",
                                "2030-12-31", "--json")))
    listed = ok(mhin("members", "list", "executive"))
    assert "chair" in listed and "2030-12-31" in listed and "open" in listed

    meeting = json.loads(ok(mhin("meetings", "schedule", "executive", "--date", TODAY,
                                 "--json")))
    item = json.loads(ok(mhin("agenda", "add", meeting["id"], "--title", "Selection proposal",
                              "--about", "proposal:p-42", "--json")))
    assert item["subject"] == {"aggregate_type": "mhin.projects.v1.SelectionProposal",
                               "aggregate_id": "p-42"}
    refused = mhin("decisions", "record", meeting["id"], item["id"], "--motion", "Approve",
                   "--outcome", "approved")
    assert refused.exit_code == 1 and "FAILED_PRECONDITION" in refused.output
    assert "has not been held" in refused.output

    held = ok(mhin("meetings", "attendance", meeting["id"], chair["id"], member["id"]))
    assert "2 of 2 voting members (2 needed)" in held and "quorate" in held
    decision = json.loads(ok(mhin("decisions", "record", meeting["id"], item["id"], "--motion",
                                  "That the ARCs be selected.", "--outcome", "approved",
                                  "--json")))
    assert decision["outcome"] == "DECISION_OUTCOME_APPROVED"
    found = ok(mhin("decisions", "list", "--about", "proposal:p-42", "--json")).splitlines()
    assert [json.loads(line)["id"] for line in found] == [decision["id"]]
    assert "approved" in ok(mhin("agenda", "list", meeting["id"]))
    shown = ok(mhin("meetings", "show", meeting["id"]))
    assert "held" in shown and "approved" in shown and "proposal" in shown.lower()
    bad = mhin("agenda", "add", meeting["id"], "--title", "x", "--about", "nothing")
    assert bad.exit_code == 2 and "proposal:ID" in bad.output


def test_the_bi_monthly_schedule_and_listing_meetings(mhin):
    generated = json.loads(ok(mhin("meetings", "generate", "--from", "2025-01-01", "--to",
                                   "2025-12-31", "--json")))
    assert generated["created"] == 6
    again = mhin("meetings", "generate", "--from", "2025-01-01", "--to", "2025-12-31")
    assert ok(again).count("Executive Committee") == 6
    assert "0 created, 6 already scheduled" in again.stderr
    between = ok(mhin("meetings", "list", "--body", "executive", "--from", "2025-03-01",
                      "--to", "2025-07-31")).splitlines()
    assert [line.split()[1] for line in between] == ["2025-03-11", "2025-05-13", "2025-07-08"]
    assert ok(mhin("meetings", "list", "--status", "held")) == ""
    refused = mhin("meetings", "generate", "advisory-board", "--from", "2025-01-01", "--to",
                   "2025-12-31")
    assert refused.exit_code == 1 and "no schedule rule" in refused.output


def test_logging_involvement_and_reading_the_report(mhin):
    for args in (("--kind", "co-design-workshop", "--people", "6", "--experts", "4",
                  "--hours", "15", "--arc", "Greater Manchester"),
                 ("--kind", "document-review", "--people", "2", "--experts", "2",
                  "--hours", "3.5")):
        ok(mhin("involvement", "log", "--project", "mhin-project-1", "--title", "Activity",
                "--date", "2025-05-01", "--idempotency-key", args[1], *args))
    ok(mhin("involvement", "log", "--project", "mhin-project-1", "--title", "Activity",
            "--date", "2025-05-01", "--idempotency-key", "co-design-workshop", "--kind",
            "co-design-workshop", "--people", "6", "--hours", "15"))  # a retry: logged once
    assert len(ok(mhin("involvement", "list", "--project", "mhin-project-1")).splitlines()) == 2

    report = json.loads(ok(mhin("involvement", "report", "--project", "mhin-project-1",
                                "--from", "2025-04-01", "--to", "2026-03-31", "--json")))
    assert report["totals"] == {"activities": 2, "people": 8, "experts_by_experience": 6,
                                "hours": 18.5}
    table = ok(mhin("involvement", "report", "--project", "mhin-project-1", "--from",
                    "2025-04-01", "--to", "2026-03-31")).splitlines()
    assert table[0] == "Involvement of mhin-project-1, 2025-04-01 to 2026-03-31"
    assert table[-1].split() == ["total", "2", "8", "6", "18.5"]
    assert [line.split()[0] for line in table[2:-1]] == ["co-design-workshop", "document-review"]

    bad = mhin("involvement", "log", "--project", "mhin-project-1", "--title", "T", "--date",
               "2025-05-01", "--kind", "recruitment", "--people", "2", "--experts", "3",
               "--hours", "1")
    assert bad.exit_code == 1
    assert "INVALID_ARGUMENT: activity.experts_by_experience" in bad.output
    unknown = mhin("involvement", "log", "--project", "p", "--title", "T", "--date",
                   "2025-05-01", "--kind", "telepathy", "--people", "2", "--hours", "1")
    assert unknown.exit_code == 2
