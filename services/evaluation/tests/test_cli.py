"""`mhin evaluation` against a real evaluation service on a real port: the reference
measures, observations one at a time and from CSV, and the aggregate queries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mhin.common.v1 import arc_pb2
from mhin.evaluation.v1 import aggregate_events_pb2, evaluation_pb2
from mhin_cli.evaluation import evaluation as evaluation_group
from mhin_devkit.harness import TEST_ISSUER
from mhin_platform.tokens import issue_token

pytestmark = pytest.mark.integration

MEASURE = "pcref-minority-referrals"
HEADER = "measure_id,site_id,period,stratum,numerator,denominator\n"


@pytest.fixture
def pcref(evaluation):
    """The reference PCREF project with a site in each of its ARCs."""
    project = evaluation.project("mhin-project-1",
                                 version=evaluation.above_every_earlier_version())
    return {site.arc: site.id for site in project.sites}


@pytest.fixture
def mhin(evaluation):
    runner = CliRunner()

    def run(*args: str, role: str = "national_admin", arc: str | None = None):
        env = {"MHIN_TOKEN": issue_token(TEST_ISSUER, "cli-test", role, arc),
               "MHIN_EVALUATION_ADDRESS": f"127.0.0.1:{evaluation.runtime.port}"}
        return runner.invoke(evaluation_group, list(args), env=env)

    return run


def csv_file(tmp_path: Path, name: str, rows: list[str]) -> str:
    path = tmp_path / name
    path.write_text(HEADER + "".join(row + "\n" for row in rows))
    return str(path)


def test_measures_list_and_show(mhin):
    listed = mhin("measures", "list", "--project", "mhin-project-3")
    assert listed.exit_code == 0, listed.output
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [
        "aaot-ae-attendances", "aaot-engagement", "aaot-fidelity", "aaot-unplanned-bed-days"]
    shown = mhin("measures", "show", "cbt-children-starting")
    assert "stratum age_band: 0-4, 5-11" in shown.stdout and "RE-AIM Reach" in shown.stdout
    as_json = json.loads(mhin("measures", "show", MEASURE, "--json").stdout)
    assert as_json["measure"]["multiplier"] == 100
    assert as_json["stratifier_groups"][0]["name"] == "ethnicity"
    missing = mhin("measures", "show", "no-such-measure")
    assert missing.exit_code == 1 and "NOT_FOUND" in missing.output


def test_import_is_all_or_nothing_and_harmless_to_repeat(mhin, pcref, tmp_path):
    oldham, leeds = pcref[arc_pb2.ARC_GREATER_MANCHESTER], pcref[arc_pb2.ARC_YORKSHIRE_AND_HUMBER]
    rows = [f"{MEASURE},{site},2025-01,ethnicity={group},{n},{d}"
            for site in (oldham, leeds)
            for group, n, d in (("Asian", 12, 40), ("Black", 3, 40), ("White", 0, 40))]
    bad = rows[:2] + [
        f"{MEASURE},{oldham},2025-Q1,ethnicity=Mixed,1,2",       # row 4: a quarter
        f"{MEASURE},{oldham},2025-01,ethnicity=Other,many,2",    # row 5: not a number
        f"{MEASURE},{oldham},2025-01,ethnicity=Not stated,9,2",  # row 6: denominator < numerator
    ]
    refused = mhin("observations", "import", csv_file(tmp_path, "bad.csv", bad), "--json")
    assert refused.exit_code == 1
    report = json.loads(refused.stdout)
    assert report["recorded"] == 0 and report["invalid"] == 3
    assert [(e["row"], e["field"]) for e in report["errors"]] == [
        (4, "period"), (5, "numerator"), (6, "denominator")]

    good = csv_file(tmp_path, "good.csv", rows)
    first = mhin("observations", "import", good, "--json", "--batch-size", "4")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"recorded": 6, "corrected": 0, "unchanged": 0,
                                        "invalid": 0, "errors": []}, "nothing was kept from bad.csv"
    again = json.loads(mhin("observations", "import", good, "--json").stdout)
    assert (again["recorded"], again["unchanged"]) == (0, 6)
    rows[1] = rows[1].replace(",3,40", ",4,40")
    corrected = mhin("observations", "import", csv_file(tmp_path, "fixed.csv", rows))
    assert corrected.stdout.strip() == "0 recorded, 1 corrected, 5 unchanged"

    gm_member = mhin("observations", "import", good, "--json", role="arc_member",
                     arc="greater-manchester")
    assert gm_member.exit_code == 1
    denied = json.loads(gm_member.stdout)["errors"]
    assert [(e["row"], e["field"]) for e in denied] == [(5, "site_id"), (6, "site_id"),
                                                        (7, "site_id")]


def test_submit_one_observation(mhin, pcref):
    args = ["observations", "submit", "--measure", MEASURE, "--site",
            pcref[arc_pb2.ARC_GREATER_MANCHESTER], "--period", "2025-02", "--stratum",
            "ethnicity=Black", "--numerator", "7"]
    missing = mhin(*args)
    assert missing.exit_code == 1
    assert "INVALID_ARGUMENT: observation.denominator: is required" in missing.output
    recorded = mhin(*args, "--denominator", "30")
    assert recorded.stdout.strip() == "recorded (version 1)"
    again = json.loads(mhin(*args, "--denominator", "31", "--json").stdout)
    assert (again["outcome"], again["version"]) == ("OBSERVATION_OUTCOME_CORRECTED", "2")
    sites = mhin("sites", "mhin-project-1").stdout
    assert "GREATER_MANCHESTER" in sites and "YORKSHIRE_AND_HUMBER" in sites


def test_aggregates_series_breakdown_and_spc(mhin, evaluation):
    arc_level = aggregate_events_pb2.LEVEL_ARC
    referrals = [38, 48] * 7 + [38, 120]  # of 200
    periods = [f"{2023 + i // 12}-{i % 12 + 1:02d}" for i in range(len(referrals))]
    for period, numerator in zip(periods, referrals, strict=True):
        evaluation.publish_aggregate(MEASURE, arc_level, "GREATER_MANCHESTER", period,
                                     numerator, 200, owner_arc="GREATER_MANCHESTER")
    # the groups add up to the ARC's 120 of 200, as the stream's aggregates do
    for group, numerator, denominator in (("Asian", 37, 50), ("Black", 3, 50),
                                          ("White", 80, 100)):
        evaluation.publish_aggregate(MEASURE, arc_level, "GREATER_MANCHESTER", periods[-1],
                                     numerator, denominator, stratum=f"ethnicity={group}",
                                     owner_arc="GREATER_MANCHESTER")
    evaluation.wait_for_aggregate(evaluation_pb2.SeriesKey(
        measure_id=MEASURE, level=arc_level, unit="GREATER_MANCHESTER",
        stratum="ethnicity=White"), periods[-1], 80)
    where = (MEASURE, "--level", "arc", "--unit", "Greater Manchester")

    own = mhin("aggregates", "get", *where, "--period", periods[-1], "--stratum",
               "ethnicity=Black", role="arc_member", arc="greater-manchester")
    assert own.exit_code == 0, own.output
    assert "3 / 50" in own.stdout and "in full" in own.stdout
    other = json.loads(mhin("aggregates", "get", *where, "--period", periods[-1], "--stratum",
                            "ethnicity=Black", "--json", role="arc_member",
                            arc="yorkshire-and-humber").stdout)
    assert other["numerator_suppressed"] and "numerator" not in other and "value" not in other

    breakdown = mhin("breakdown", *where, "--period", periods[-1], "--by", "ethnicity",
                     role="viewer").stdout.splitlines()
    assert [line.split()[1] for line in breakdown] == [
        "ethnicity=Asian", "ethnicity=Black", "ethnicity=White", "all"]
    # 3 is small; Asian, the next-smallest group, is withheld too ('**'), or 120 - 80
    # would give it away; a proportion's denominator goes with its numerator
    assert "** / **" in breakdown[0] and " * / **" in breakdown[1]
    assert "80 / 100" in breakdown[2] and "120 / 200" in breakdown[3]

    series = mhin("series", *where, "--json").stdout.splitlines()
    assert [json.loads(line)["period"] for line in series] == periods

    chart = mhin("spc", *where).stdout
    assert "point_beyond_limit" in chart.splitlines()[len(periods) - 1]
    assert chart.splitlines()[-1] == "verdict: improvement"
    assert json.loads(mhin("spc", *where, "--json").stdout)["verdict"] == \
        "SPC_VARIATION_IMPROVEMENT"
    bad_unit = mhin("series", MEASURE, "--level", "arc", "--unit", "Atlantis")
    assert bad_unit.exit_code == 2 and "not one of" in bad_unit.output



def test_a_measure_is_defined_from_the_json_that_show_prints(mhin, pcref, tmp_path):
    shown = json.loads(mhin("measures", "show", MEASURE, "--json").stdout)
    shown["measure"].update(id="pcref-own-measure", title="Our own referrals measure")
    path = tmp_path / "measure.json"
    path.write_text(json.dumps(shown))
    defined = mhin("measures", "define", str(path), "--json")
    assert defined.exit_code == 0, defined.output
    measure = json.loads(defined.stdout)
    assert (measure["id"], measure["version"], measure["stratifiers"]) == (
        "pcref-own-measure", "1", ["STRATIFIER_ETHNICITY"])  # int64 is a JSON string
    again = mhin("measures", "show", "pcref-own-measure")
    assert "Our own referrals measure" in again.stdout
    as_member = mhin("measures", "define", str(path), role="arc_member", arc="greater-manchester")
    assert as_member.exit_code == 1 and "PERMISSION_DENIED" in as_member.output
    path.write_text(json.dumps({"id": "x", "colour": "blue"}))
    wrong = mhin("measures", "define", str(path))
    assert wrong.exit_code == 1 and "not a MeasureDefinition" in wrong.output
    path.write_text(json.dumps({**shown["measure"], "id": "pcref-bad-type",
                                "type": "MEASURE_TYPE_UNSPECIFIED"}))
    refused = mhin("measures", "define", str(path))
    assert refused.exit_code == 1 and "measure.type" in refused.output
