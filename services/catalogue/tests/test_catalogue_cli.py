"""`mhin prioritise` and `mhin solutions` against the real service on a real port:
the table checked cell by cell before anything is sent, the round stored and shown,
the catalogue kept from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner

from mhin.catalogue.v1 import prioritisation_pb2, prioritisation_pb2_grpc
from mhin.common.v1 import priority_area_pb2
from mhin_catalogue.reference import REFERENCE_SOLUTIONS
from mhin_cli.catalogue import TableError, prioritise, read_round_table, solutions
from mhin_devkit.harness import TEST_ISSUER, TopicReader, caller
from mhin_platform.tokens import issue_token

EXAMPLE = Path(__file__).parents[1] / "examples" / "illustrative-round.csv"
# Illustrative scores with the MHIN weights: PCREF (70, 90, 95, 65, 70) totals
# (21.5·70 + 16.7·90 + 19·95 + 23.8·65 + 19·70) / 100 = 76.9; CBT 74.655; AAOT 66.075.
# The options are named as the catalogue's reference solutions are.
EXPECTED = [("Patient and Carer Race Equality Framework (PCREF)", 76.9, 1),
            ("Parent-led CBT for child anxiety", 74.655, 2),
            ("Alcohol Assertive Outreach Treatment (AAOT)", 66.075, 3)]

TABLE = """criterion,A,B,weight
Effective,80,40,50
Implementable,40,70,50
"""


@pytest.fixture
def cli(start_catalogue):
    """``cli(command, *args, role=...)``: run a command against the running catalogue."""
    runtime = start_catalogue()
    runner = CliRunner()

    def run(command, *args, role="national_admin", arc=None):
        token = issue_token(TEST_ISSUER, "cli-tester", role, arc)
        return runner.invoke(command, [*args, "--address", f"127.0.0.1:{runtime.port}",
                                       "--token", token])
    run.port = runtime.port
    return run


@pytest.fixture
def rounds(cli):
    with grpc.insecure_channel(f"127.0.0.1:{cli.port}") as channel:
        yield caller(channel, prioritisation_pb2_grpc.PrioritisationServiceStub, "viewer")


def written(tmp_path: Path, text: str, name: str = "table.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------------ the table, cell by cell


def test_a_published_table_becomes_a_round_draft():
    table = read_round_table(EXAMPLE.read_text())
    assert table.options == [name for name, _, _ in EXPECTED]
    assert [(name, str(weight)) for name, weight in table.criteria] == [
        ("Clinically effective", "21.5"), ("Patients involved", "16.7"),
        ("Reduces inequalities", "19.0"), ("Implementable", "23.8"), ("Sustainable", "19.0")]
    draft = table.draft("MHIN 2022", "illustrative")
    assert len(draft.scores) == 15 and draft.scores[0].option == EXPECTED[0][0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("option,A,B,weight\nE,1,2,100\n", "row 1, column 'option': the first column must be "
                                           "'criterion'"),
        ("criterion,A,B,share\nE,1,2,100\n", "row 1, column 'share': the last column must be"),
        ("criterion,A,weight\nE,1,100\n", "row 1: name at least two options"),
        ("criterion,A,a,weight\nE,1,2,100\n", "row 1, column 'a': this option has two columns"),
        ("criterion,A,,weight\nE,1,2,100\n", "row 1, column 'column 3': an option column needs"),
        ("criterion,A,B,weight\nEffective,80,forty,50\nI,1,2,50\n",
         "row 2, column 'B': 'forty' is not a number"),
        ("criterion,A,B,weight\nEffective,80,101,50\nI,1,2,50\n",
         "row 2, column 'B': 101 is not between 0 and 100"),
        ("criterion,A,B,weight\nEffective,80,40,50\nI,-1,2,50\n",
         "row 3, column 'A': -1 is not between 0 and 100"),
        ("criterion,A,B,weight\nEffective,80,NaN,50\nI,1,2,50\n",
         "row 2, column 'B': NaN is not between 0 and 100"),
        ("criterion,A,B,weight\nEffective,80,40\nI,1,2,50\n", "row 2: has 3 cells, the header"),
        ("criterion,A,B,weight\n,80,40,50\nI,1,2,50\n", "row 2, column 'criterion': name the"),
        ("criterion,A,B,weight\nE,80,40,50\ne,1,2,50\n", "row 3, column 'criterion': 'e' appears"),
        ("criterion,A,B,weight\nE,80,40,50\nI,1,2,heavy\n",
         "row 3, column 'weight': 'heavy' is not a number"),
        ("criterion,A,B,weight\nE,80,40,100\nI,1,2,0\n", "row 3, column 'weight': a criterion"),
        ("criterion,A,B,weight\nE,80,40,100\n", "column 'criterion': the table needs at least"),
        ("criterion,A,B,weight\nE,80,40,60\nI,1,2,39.9\n",
         "column 'weight': weights sum to 99.9, not 100"),
    ],
)
def test_a_malformed_table_names_the_row_and_column(text, message):
    with pytest.raises(TableError) as raised:
        read_round_table(text)
    assert str(raised.value).startswith(message)


def test_blank_lines_and_spacing_do_not_matter():
    table = read_round_table("\n Criterion , A , B , Weight \n\nEffective, 80 ,40,50\nI,1,2,50\n")
    assert (table.options, table.scores["A", "Effective"]) == (["A", "B"], 80)


# ------------------------------------------------------------------ mhin prioritise


@pytest.mark.integration
def test_prioritise_stores_the_round_and_prints_its_ranking_as_json(cli, rounds, kafka_bootstrap):
    topic = TopicReader(kafka_bootstrap, "mhin.catalogue.prioritisation-round")
    result = cli(prioritise, str(EXAMPLE), "--title", "MHIN 2022", "--json")
    assert result.exit_code == 0, result.output
    ranking = json.loads(result.output)
    assert [(r["option"], r["total"], r["rank"]) for r in ranking] == EXPECTED
    # Each option is tied by its name to the reference solution the catalogue seeded.
    assert [r["solution_id"] for r in ranking] == list(REFERENCE_SOLUTIONS)
    assert set(ranking[0]["weight_ranges"]) == {
        "Clinically effective", "Patients involved", "Reduces inequalities", "Implementable",
        "Sustainable"}
    assert ranking[1]["weight_ranges"] == {}
    effective = ranking[0]["weight_ranges"]["Clinically effective"]
    assert effective["weight"] == 21.5 and effective["lower"] <= 21.5 <= effective["upper"]

    round_id = ranking[0]["round_id"]
    stored = rounds.GetRound(prioritisation_pb2.GetRoundRequest(round_id=round_id)).round
    assert [(r.option, r.total, r.rank) for r in stored.results.ranking] == EXPECTED
    assert stored.source == "illustrative-round.csv"
    again = json.loads(cli(prioritise, str(EXAMPLE), "--title", "MHIN 2022", "--json").output)
    assert again == ranking  # the same file again: the round already recorded
    assert [r.id for r in rounds.ListRounds(prioritisation_pb2.ListRoundsRequest()).rounds] == [
        round_id]
    assert [(e.type, e.key) for e in topic.wait_for_count(1)] == [
        ("mhin.catalogue.v1.PrioritisationRoundRecorded", round_id)]
    topic.close()


@pytest.mark.integration
def test_prioritise_prints_a_readable_table(cli, tmp_path):
    result = cli(prioritise, written(tmp_path, TABLE, "workshop.csv"))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("workshop (round ")
    # A = 60, B = 55; with x on Effective, A = 40 + 0.4x and B = 70 - 0.3x: A leads from 300/7.
    assert lines[1:4] == ["rank   total  option", "   1   60.00  A", "   2   55.00  B"]
    assert "  Effective       50.0  from 42.9 to 100.0" in lines
    assert "  Implementable   50.0  from 0.0 to 57.1" in lines


@pytest.mark.integration
def test_a_malformed_table_or_a_refused_round_stores_nothing(cli, rounds, tmp_path):
    bad = written(tmp_path, "criterion,A,B,weight\nEffective,80,abc,50\nI,1,2,50\n")
    result = cli(prioritise, bad, "--json")
    assert result.exit_code == 1
    assert "row 2, column 'B': 'abc' is not a number; nothing was stored" in result.output
    # The service checks again: here the title is what it refuses.
    result = cli(prioritise, written(tmp_path, TABLE), "--title", "x" * 201)
    assert result.exit_code == 1
    assert "INVALID_ARGUMENT: round.title" in result.output
    result = cli(prioritise, written(tmp_path, TABLE), role="viewer")
    assert result.exit_code == 1
    assert "PERMISSION_DENIED" in result.output
    assert list(rounds.ListRounds(prioritisation_pb2.ListRoundsRequest()).rounds) == []


# ------------------------------------------------------------------ mhin solutions


@pytest.mark.integration
def test_solutions_are_kept_from_the_command_line(cli, submit_need, eventually):
    added = cli(solutions, "add", "--name", "Parent-led CBT", "--description",
                "Guided parent-delivered CBT", "--area", "children and young people",
                "--evidence-level", "randomised_trial", "--nice", "CG159", "--study",
                "Creswell et al. 2017: 2017", "--readiness", "ready", "--json")
    assert added.exit_code == 0, added.output
    solution = json.loads(added.output)
    assert solution["evidence"]["studies"] == [{"citation": "Creswell et al. 2017",
                                                "year": 2017}]

    revised = json.loads(cli(solutions, "revise", solution["id"], "--readiness",
                             "needs_adaptation", "--json").output)
    assert (revised["readiness"], revised["version"]) == ("READINESS_NEEDS_ADAPTATION", "2")
    assert revised["evidence"] == solution["evidence"]  # what was not given stays

    listed = cli(solutions, "list", "--text", "delivered cbt").output
    assert listed == (f"{solution['id']}  active  needs_adaptation Parent-led CBT  "
                      "[Children and young people]\n")
    assert cli(solutions, "list", "--status", "retired").output == ""
    assert json.loads(cli(solutions, "show", solution["id"]).output)["name"] == "Parent-led CBT"

    need = submit_need("Long waits for child anxiety treatment",
                       priority_area_pb2.PRIORITY_AREA_CHILDREN_AND_YOUNG_PEOPLE)
    eventually(lambda: need.id in cli(solutions, "unmet-needs").output, "the need to be known")
    linked = cli(solutions, "link", solution["id"], need.id)
    assert linked.exit_code == 0, linked.output
    shown = cli(solutions, "candidates", need.id).output.splitlines()
    assert shown[0].endswith("Long waits for child anxiety treatment")
    seeded = cli(solutions, "list", "--text", "for child anxiety").output
    assert seeded.split()[0] == "solution-parent-led-cbt"
    assert shown[1:] == ["linked: 1", listed.rstrip("\n"), "candidates: 1", seeded.rstrip("\n")]
    unmet = cli(solutions, "unmet-needs", "--area", "children-and-young-people").output
    assert need.id not in unmet
    cli(solutions, "unlink", solution["id"], need.id)
    retired = cli(solutions, "retire", solution["id"], "--reason", "superseded")
    assert " retired " in retired.output

    refused = cli(solutions, "add", "--name", "X", "--description", "y", "--area", "comorbidities",
                  "--evidence-level", "observational", "--readiness", "ready", role="viewer")
    assert refused.exit_code == 1
    assert refused.output.startswith("Error: PERMISSION_DENIED: viewer")
    unknown_area = cli(solutions, "list", "--area", "astrology")
    assert unknown_area.exit_code == 2 and "'astrology' is not one of" in unknown_area.output
