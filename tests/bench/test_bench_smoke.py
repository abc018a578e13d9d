"""`python -m mhin_bench --quick` (what `make bench` runs, with tiny sizes):
every benchmark runs to the end on its own private broker, or is skipped with the
reason printed when the service it measures is not installed; the JSON and the docs
table are written. It proves the harness works and asserts nothing about speed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mhin_bench.report import BEGIN, END
from mhin_bench.suite import BENCHMARKS, missing

# The whole suite with tiny sizes starts a broker, JVMs and service processes: about
# a minute and a half on 2 idle cores, several times that when the machine is busy.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

QUICK_RUNS = 2


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    docs = folder / "performance.md"
    docs.write_text(f"# Performance\n\nProse before.\n\n{BEGIN}\nan old table\n{END}\n\n"
                    "Prose after.\n")
    completed = subprocess.run(
        [sys.executable, "-m", "mhin_bench", "--quick",
         "--results-dir", str(folder / "results"), "--docs", str(docs)],
        capture_output=True, text=True, timeout=840,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    [results] = (folder / "results").glob("*.json")
    return completed.stdout, json.loads(results.read_text()), docs.read_text()


def test_each_benchmark_measures_or_says_why_not(quick_run):
    stdout, results, _ = quick_run
    outcomes = {outcome["name"]: outcome for outcome in results["benchmarks"]}
    assert list(outcomes) == [benchmark.name for benchmark in BENCHMARKS]
    for benchmark in BENCHMARKS:
        outcome, reason = outcomes[benchmark.name], missing(benchmark)
        if reason:
            assert outcome["status"] == "skipped" and not outcome["figures"]
            assert f"{benchmark.name}: not available yet: {reason}" in stdout
            continue
        assert outcome["status"] == "ran", outcome
        assert outcome["figures"], benchmark.name
        for figure in outcome["figures"]:
            assert len(figure["runs"]) == QUICK_RUNS, figure
            assert all(value > 0 for value in figure["runs"]), figure
            assert figure["min"] <= figure["median"] <= figure["max"]
            assert figure["verdict"] in (None, "met", "missed")


def test_results_name_the_machine_and_settings(quick_run):
    _, results, _ = quick_run
    machine = results["machine"]
    assert machine["cores"] >= 1 and machine["cpu"]
    assert machine["python"].startswith("3.") and "version" in machine["java"]
    assert machine["kafka"][0].isdigit()
    assert machine["packages"]["aiokafka"]
    assert results["quick"] is True and results["settings"]["sizes"]["runs"] == QUICK_RUNS
    assert len(results["load_average_start"]) == 3


def test_the_table_replaces_the_old_one_and_keeps_the_prose(quick_run):
    _, results, docs = quick_run
    assert docs.startswith("# Performance\n\nProse before.\n\n")
    assert docs.endswith("\n\nProse after.\n")
    assert "an old table" not in docs
    between = docs.split(BEGIN)[1].split(END)[0]
    assert "| benchmark | figure | min | median | max |" in between
    assert results["machine"]["cpu"] in between
