"""The benchmarks, in the order they run, and the loop that runs them.

Each benchmark is a module of this package with ``run(context, sizes) ->
list[Figure]``. A benchmark whose service is not installed is skipped with the
reason printed; nothing stands in for a figure that was not measured.
"""

from __future__ import annotations

import importlib
import importlib.util
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime

from mhin_bench import machine
from mhin_bench.context import BenchContext, Sizes, bench_context
from mhin_bench.report import Outcome, SuiteResult, number
from mhin_devkit.kafka_broker import repo_root


@dataclass(frozen=True)
class Benchmark:
    name: str
    module: str  # in mhin_bench
    needs: tuple[str, ...]  # the packages under test it imports
    what: str


BENCHMARKS = (
    Benchmark("limit", "kafka_limit", (), "Kafka's ProducerPerformance/ConsumerPerformance"),
    Benchmark("peer", "peer", (), "a bare aiokafka loop over the observation events"),
    Benchmark("aggregator", "aggregator", ("mhin_aggregator",),
              "the faust aggregator over the same events, against peer and limit"),
    Benchmark("end-to-end", "end_to_end", ("mhin_evaluation", "mhin_aggregator"),
              "evaluation's batch API to an aggregate visible through its query API"),
    Benchmark("grpc", "grpc_latency", ("mhin_needs",),
              "needs-intake unary latency against a no-op echo server"),
    Benchmark("growth", "growth", ("mhin_needs", "mhin_evaluation", "mhin_aggregator"),
              "query latency as stored rows grow"),
    Benchmark("recovery", "recovery", ("mhin_aggregator",),
              "aggregator recovery time after a restart against changelog size"),
    Benchmark("web", "web", ("mhin_web", "mhin_evaluation", "mhin_projects", "mhin_aggregator"),
              "the dashboard: page load in Chromium, live updates to 100 pages, memory"),
    Benchmark("impact", "impact", ("mhin_evaluation",),
              "impact estimates: a 60-period site series and 20 sites pooled, through gRPC"),
)
NAMES = tuple(b.name for b in BENCHMARKS)


def missing(benchmark: Benchmark) -> str | None:
    """Why ``benchmark`` cannot run here, or None when it can."""
    absent = [name for name in benchmark.needs if importlib.util.find_spec(name) is None]
    if absent:
        return f"{', '.join(absent)} not installed"
    if importlib.util.find_spec(f"mhin_bench.{benchmark.module}") is None:
        return f"no benchmark module wired to {', '.join(benchmark.needs)} yet"
    return None


def _run_one(benchmark: Benchmark, context: BenchContext, sizes: Sizes) -> Outcome:
    print(f"\n== {benchmark.name}: {benchmark.what}", flush=True)
    began = time.monotonic()
    module = importlib.import_module(f"mhin_bench.{benchmark.module}")
    try:
        figures = module.run(context, sizes)
    except Exception as exc:
        traceback.print_exc()
        return Outcome(benchmark.name, "failed", f"{type(exc).__name__}: {exc}",
                       time.monotonic() - began)
    for figure in figures:
        figure.benchmark = benchmark.name
        verdict = f"  [{figure.target} {figure.verdict}]" if figure.target else ""
        print(f"   {figure.name}: {number(figure.median)} {figure.unit} (min "
              f"{number(figure.min)}, max {number(figure.max)}){verdict}", flush=True)
    return Outcome(benchmark.name, "ran", seconds=time.monotonic() - began, figures=figures)


def run_suite(sizes: Sizes, *, quick: bool, only: tuple[str, ...] = ()) -> SuiteResult:
    selected = [b for b in BENCHMARKS if not only or b.name in only]
    began = time.monotonic()
    with bench_context(sizes) as context:
        result = SuiteResult(
            started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            quick=quick,
            machine=machine.describe(context.java, context.jars, repo_root()),
            settings={"sizes": sizes.as_dict()},
            load_average_start=machine.load_average(),
        )
        print(f"broker {context.bootstrap}; {result.machine['cpu']}, "
              f"{result.machine['cores']} cores; load {result.load_average_start}", flush=True)
        for benchmark in selected:
            reason = missing(benchmark)
            if reason:
                print(f"\n== {benchmark.name}: not available yet: {reason}", flush=True)
                result.outcomes.append(Outcome(benchmark.name, "skipped",
                                               f"not available yet: {reason}"))
                continue
            result.outcomes.append(_run_one(benchmark, context, sizes))
        result.settings.update(context.notes)
    result.load_average_end = machine.load_average()
    result.seconds = time.monotonic() - began
    return result
