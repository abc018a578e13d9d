"""Growth: query latency as the stored rows grow (10^4, 10^5, 10^6).

For each service (``growth_data``: needs-intake's needs, evaluation's observations
with the aggregates they produce), the rows are bulk-loaded step by step into the
running service's database, and after each step every query is timed through its
gRPC API by one client; the figure the target judges is the ratio of the largest
step's p50 to the smallest's.
"""

from __future__ import annotations

import math
import time

from mhin_bench import growth_data
from mhin_bench.context import BenchContext, Sizes
from mhin_bench.figures import Figure, at_most, percentile, ratios
from mhin_bench.growth_data import Subject
from mhin_bench.load import Call, LoadGenerator
from mhin_devkit.harness import bearer, running_service

FLAT_WITHIN = 2.0  # the largest step's median p50 over the smallest's
SUBJECTS = (growth_data.NEEDS, growth_data.EVALUATION)


def label(rows: int) -> str:
    power = math.log10(rows)
    return f"10^{power:.0f}" if power.is_integer() else f"{rows:,}"


def run(context: BenchContext, sizes: Sizes) -> list[Figure]:
    figures: list[Figure] = []
    with LoadGenerator() as load:
        for subject in SUBJECTS:
            figures += _grow(context, sizes, load, subject)
    return figures


def _grow(context: BenchContext, sizes: Sizes, load: LoadGenerator,
          subject: Subject) -> list[Figure]:
    database_url = f"sqlite:///{context.folder('growth')}/{subject.rows}.db"
    metadata = bearer("national_admin")
    p50: dict[tuple[str, int], list[float]] = {}
    figures: list[Figure] = []
    unit = subject.counted
    with running_service(subject.service, database_url=database_url,
                         kafka_bootstrap=context.bootstrap) as runtime:
        address, stored = f"127.0.0.1:{runtime.port}", 0
        for rows in sizes.growth_rows:
            began = time.perf_counter()
            also = subject.load(runtime.database, stored, rows - stored)
            loaded_in, stored = time.perf_counter() - began, rows
            print(f"   {rows:,} {subject.rows}{also} loaded in {loaded_in:.0f} s",
                  flush=True)
            note = (f"{label(rows)} {subject.rows}{also} on SQLite (loaded in {loaded_in:.0f} s), "
                    "1 client")
            for query in subject.queries:
                call = Call(address, query.method,
                            tuple(r.SerializeToString() for r in query.requests(rows)), metadata)
                runs = [load.latencies(call, 1, sizes.grpc_seconds) for _ in range(sizes.runs)]
                p50[query.name, rows] = [percentile(latencies, 0.50) for latencies in runs]
                figures += [
                    Figure(f"{query.name} p50 @ {label(rows)} {unit}", "ms",
                           p50[query.name, rows], note=note),
                    Figure(f"{query.name} p99 @ {label(rows)} {unit}", "ms",
                           [percentile(latencies, 0.99) for latencies in runs], note=note),
                ]
    smallest, largest = sizes.growth_rows[0], sizes.growth_rows[-1]
    for query in subject.queries:
        figures.append(Figure(
            f"{query.name} p50 {label(largest)} / {label(smallest)} {unit}", "×",
            ratios(p50[query.name, largest], p50[query.name, smallest]),
            target=at_most(FLAT_WITHIN), note="flat means within 2×"))
    return figures
