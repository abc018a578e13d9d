"""`mhin needs` against a real needs-intake service on a real port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mhin_cli.main import cli
from mhin_devkit.harness import TEST_ISSUER, running_service
from mhin_needs.main import DEFINITION
from mhin_platform.tokens import issue_token

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "scoping-exercise.csv"


@pytest.fixture
def mhin(tmp_path, kafka_bootstrap, declared_topics_created):
    with running_service(DEFINITION, database_url=f"sqlite:///{tmp_path}/needs.db",
                         kafka_bootstrap=kafka_bootstrap) as runtime:
        env = {"MHIN_TOKEN": issue_token(TEST_ISSUER, "cli-test", "national_admin"),
               "MHIN_NEEDS_INTAKE_ADDRESS": f"127.0.0.1:{runtime.port}"}
        runner = CliRunner()
        yield lambda *args: runner.invoke(cli, list(args), env=env)


def test_importing_the_same_file_twice_imports_each_row_once(mhin):
    first = mhin("needs", "import", str(EXAMPLE), "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"imported": 4, "already_imported": 0, "invalid": 0,
                                        "errors": []}
    again = json.loads(mhin("needs", "import", str(EXAMPLE), "--json").stdout)
    assert (again["imported"], again["already_imported"]) == (0, 4)
    listed = mhin("needs", "list", "--json").output.splitlines()
    assert len(listed) == 4
    assert {json.loads(line)["arc"] for line in listed} == {
        "ARC_GREATER_MANCHESTER", "ARC_YORKSHIRE_AND_HUMBER", "ARC_EAST_OF_ENGLAND"}


def test_bad_rows_are_reported_by_row_and_field_and_good_rows_imported(mhin, tmp_path):
    bad = tmp_path / "bad.csv"
    lines = EXAMPLE.read_text().splitlines()
    lines[2] = lines[2].replace("Yorkshire and Humber", "Atlantis")          # row 3: bad ARC
    lines[3] = lines[3].replace("Support for parents of anxious children", "")  # row 4: no title
    bad.write_text("\n".join(lines) + "\n")
    result = mhin("needs", "import", str(bad), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["imported"] == 2 and report["invalid"] == 2
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "arc"), (4, "need.title")]


def test_a_file_without_the_required_columns_is_refused_whole(mhin, tmp_path):
    headless = tmp_path / "no-title.csv"
    headless.write_text("organisation,organisation_type,arc,description\nX,VCSE,West,d\n")
    result = mhin("needs", "import", str(headless))
    assert result.exit_code != 0 and "missing column(s): title" in result.output
    assert mhin("needs", "list", "--json").output == ""


def test_submit_categorise_and_withdraw(mhin):
    submitted = mhin("needs", "submit", "--organisation", "Leeds Mind", "--organisation-type",
                     "VCSE", "--arc", "Yorkshire and Humber", "--title", "Peer support",
                     "--description", "No peer support after discharge.", "--source",
                     "study:Smith et al. 2020:2020", "--json")
    assert submitted.exit_code == 0, submitted.output
    need_id = json.loads(submitted.output)["id"]
    categorised = json.loads(mhin("needs", "categorise", need_id, "severe mental illness",
                                  "--json").output)
    assert categorised["priority_area"] == "PRIORITY_AREA_SEVERE_MENTAL_ILLNESS"
    refused = mhin("needs", "categorise", need_id, "nowhere")
    assert refused.exit_code == 2 and "not one of" in refused.output
    withdrawn = json.loads(mhin("needs", "withdraw", need_id, "--reason", "merged",
                                "--json").output)
    assert withdrawn["status"] == "NEED_STATUS_WITHDRAWN"
    again = mhin("needs", "withdraw", need_id, "--reason", "again")
    assert again.exit_code == 1 and "FAILED_PRECONDITION" in again.output
