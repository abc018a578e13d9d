"""`mhin export`: records as CSV tables, from real services on real ports; the table
writing itself without I/O beyond a temporary folder."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mhin.catalogue.v1 import solution_pb2
from mhin.common.v1 import priority_area_pb2
from mhin.evaluation.v1 import aggregate_events_pb2, evaluation_pb2
from mhin.needs.v1 import needs_pb2
from mhin_catalogue.main import DEFINITION as CATALOGUE
from mhin_cli.export import record_row, write_table
from mhin_cli.main import cli
from mhin_devkit.harness import TEST_ISSUER, running_service
from mhin_needs.main import DEFINITION as NEEDS
from mhin_platform.reference import REFERENCE_SOLUTIONS
from mhin_platform.tokens import issue_token

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "scoping-exercise.csv"
TOKEN = {"MHIN_TOKEN": issue_token(TEST_ISSUER, "cli-test", "national_admin")}


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_record_becomes_dotted_columns_with_every_field_of_its_contract():
    need = needs_pb2.Need(
        id="need-1", title="Crisis line", submitter={"name": "Mind", "type": 2},
        sources=[needs_pb2.NeedSource(scoping_exercise={"response_ref": "SE-1"})])
    row = record_row(need)
    assert row["id"] == "need-1" and row["submitter.name"] == "Mind"
    assert row["submitter.type"] == "ORGANISATION_TYPE_VCSE"
    assert json.loads(row["sources"]) == [{"scoping_exercise": {"response_ref": "SE-1"}}]
    assert row["population"] == "" and row["status"] == "NEED_STATUS_UNSPECIFIED"
    assert row["alignments"] == ""  # an empty list of records: an empty cell


def test_a_list_of_values_is_one_cell():
    solution = solution_pb2.Solution(priority_areas=[
        priority_area_pb2.PRIORITY_AREA_INEQUALITIES,
        priority_area_pb2.PRIORITY_AREA_COMORBIDITIES])
    assert record_row(solution)["priority_areas"] == (
        "PRIORITY_AREA_INEQUALITIES; PRIORITY_AREA_COMORBIDITIES")


def test_a_withheld_figure_is_an_empty_cell_beside_its_suppressed_flag(capsys):
    point = evaluation_pb2.Aggregate(
        period="2025-01", level=aggregate_events_pb2.LEVEL_ARC, numerator_suppressed=True,
        denominator=40)
    rows = rows_of(_written([record_row(point)], capsys))
    assert rows[0]["numerator_suppressed"] == "true" and rows[0]["denominator"] == "40"
    assert rows[0].get("numerator", "") == ""


def test_the_header_holds_every_column_of_any_row_in_first_seen_order(capsys):
    text = _written([{"a": "1"}, {"a": "2", "b": "x"}], capsys)
    assert text.splitlines() == ["a,b", "1,", "2,x"]


def test_an_output_file_is_replaced_only_when_the_whole_table_is_written(tmp_path):
    target = tmp_path / "needs.csv"
    target.write_text("the previous export\n")
    with pytest.raises(OSError):
        write_table([{"a": "1"}, {"a": Unwritable()}], target)
    assert target.read_text() == "the previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["needs.csv"]  # no temporary left
    write_table([{"a": "1"}], target)
    assert target.read_text() == "a\n1\n"


class Unwritable:
    def __str__(self) -> str:
        raise OSError("disk full")


def _written(rows: list[dict], capsys) -> str:
    """What write_table prints to standard output."""
    write_table(rows, None)
    return capsys.readouterr().out


@pytest.mark.integration
def test_needs_export_holds_every_imported_need(tmp_path, kafka_bootstrap,
                                                declared_topics_created):
    runner = CliRunner()
    with running_service(NEEDS, database_url=f"sqlite:///{tmp_path}/needs.db",
                         kafka_bootstrap=kafka_bootstrap) as needs:
        env = {**TOKEN, "MHIN_NEEDS_INTAKE_ADDRESS": f"127.0.0.1:{needs.port}"}
        assert runner.invoke(cli, ["needs", "import", str(EXAMPLE)], env=env).exit_code == 0
        listed = [json.loads(line)["id"] for line in runner.invoke(
            cli, ["needs", "list", "--json"], env=env).output.splitlines()]
        target = tmp_path / "needs.csv"
        result = runner.invoke(cli, ["export", "needs", "--output", str(target)], env=env)
    assert result.exit_code == 0, result.output
    assert "4 needs written to" in result.stderr
    rows = rows_of(target.read_text())
    assert [row["id"] for row in rows] == listed and len(rows) == 4
    imported = rows_of(EXAMPLE.read_text())
    assert [row["submitter.name"] for row in rows] == [row["organisation"] for row in imported]
    assert [row["title"] for row in rows] == [row["title"] for row in imported]


@pytest.mark.integration
def test_solutions_export_to_standard_output(tmp_path, kafka_bootstrap, declared_topics_created):
    with running_service(CATALOGUE, database_url=f"sqlite:///{tmp_path}/catalogue.db",
                         kafka_bootstrap=kafka_bootstrap) as catalogue:
        env = {**TOKEN, "MHIN_SOLUTION_CATALOGUE_ADDRESS": f"127.0.0.1:{catalogue.port}"}
        result = CliRunner().invoke(cli, ["export", "solutions"], env=env)
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert sorted(row["id"] for row in rows) == sorted(s.id for s in REFERENCE_SOLUTIONS)
    assert {row["status"] for row in rows} == {"SOLUTION_STATUS_ACTIVE"}


def test_a_service_that_does_not_answer_leaves_the_previous_export_alone(tmp_path):
    target = tmp_path / "measures.csv"
    target.write_text("the previous export\n")
    result = CliRunner().invoke(
        cli, ["export", "measures", "--output", str(target), "--address", "127.0.0.1:1"],
        env=TOKEN)
    assert result.exit_code == 1
    assert "UNAVAILABLE" in result.output
    assert target.read_text() == "the previous export\n"
