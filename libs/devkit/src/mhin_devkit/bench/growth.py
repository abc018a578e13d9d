"""Growth: query latency as the stored rows grow (10^4, 10^5, 10^6).

Until evaluation's aggregate query is wired here, the query is needs-intake's
ListNeeds (a first page of 50, unfiltered and filtered by ARC) through its gRPC API.
Rows are bulk-loaded straight into the service's tables (its store module's tables
and row mapping, one transaction per step): a million SubmitNeed calls would take
longer than the whole suite may.
"""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from mhin.common.v1 import arc_pb2
from mhin.needs.v1 import needs_pb2
from mhin_devkit.bench.context import BenchContext, Sizes
from mhin_devkit.bench.figures import Figure, at_most, percentile, ratios
from mhin_devkit.bench.load import Call, LoadGenerator
from mhin_devkit.harness import bearer, running_service
from mhin_needs import domain, store
from mhin_needs.main import DEFINITION
from mhin_platform.db import Database
from mhin_platform.reference import Arc, OrganisationType

PAGE_SIZE = 50
LOAD_BATCH = 20_000
FLAT_WITHIN = 2.0  # the largest step's median p50 over the smallest's
QUERIES = {
    "ListNeeds first page": needs_pb2.ListNeedsRequest(page={"page_size": PAGE_SIZE}),
    "ListNeeds by ARC": needs_pb2.ListNeedsRequest(page={"page_size": PAGE_SIZE},
                                                    arc=arc_pb2.ARC_GREATER_MANCHESTER),
}


def template_need() -> domain.Need:
    draft = domain.NeedDraft(
        submitter=domain.Organisation(name="Pennine Care NHS FT",
                                      type=OrganisationType.NHS_TRUST),
        arc=Arc.GREATER_MANCHESTER, title="Crisis support for young people out of hours",
        description="No out-of-hours crisis line for under-18s in the area.",
        sources=[domain.ScopingExerciseSource(response_ref="SE-2021-017")],
    )
    return domain.submit(draft, str(uuid.uuid4()), datetime(2021, 4, 1, tzinfo=UTC))


def load_needs(database: Database, first: int, count: int) -> None:
    """Store needs number ``first`` to ``first + count - 1``, spread over the ARCs."""
    template, arcs = template_need(), list(Arc)
    with database.transaction() as session:
        for start in range(first, first + count, LOAD_BATCH):
            needs = [template.model_copy(update={
                "id": str(uuid.uuid4()), "arc": arcs[n % len(arcs)],
                "submitted_at": template.submitted_at + timedelta(seconds=n)})
                for n in range(start, min(start + LOAD_BATCH, first + count))]
            session.execute(insert(store.needs),
                            [{"id": need.id, **store._columns(need)} for need in needs])
            session.execute(insert(store.need_source_kinds),
                            [{"need_id": need.id, "kind": kind.name}
                             for need in needs for kind in need.source_kinds])


def label(rows: int) -> str:
    power = math.log10(rows)
    return f"10^{power:.0f}" if power.is_integer() else f"{rows:,}"


def run(context: BenchContext, sizes: Sizes) -> list[Figure]:
    database_url = f"sqlite:///{context.folder('growth')}/needs.db"
    metadata = bearer("national_admin")
    p50: dict[tuple[str, int], list[float]] = {}
    figures: list[Figure] = []
    with (running_service(DEFINITION, database_url=database_url,
                          kafka_bootstrap=context.bootstrap) as service,
          LoadGenerator() as load):
        address, stored = f"127.0.0.1:{service.port}", 0
        for rows in sizes.growth_rows:
            began = time.perf_counter()
            load_needs(service.database, stored, rows - stored)
            loaded_in, stored = time.perf_counter() - began, rows
            for name, request in QUERIES.items():
                call = Call(address, "/mhin.needs.v1.NeedsService/ListNeeds",
                            (request.SerializeToString(),), metadata)
                runs = [load.latencies(call, 1, sizes.grpc_seconds) for _ in range(sizes.runs)]
                p50[name, rows] = [percentile(latencies, 0.50) for latencies in runs]
                note = f"{label(rows)} needs on SQLite (loaded in {loaded_in:.0f} s), 1 client"
                figures += [
                    Figure(f"{name} p50 @ {label(rows)} rows", "ms", p50[name, rows], note=note),
                    Figure(f"{name} p99 @ {label(rows)} rows", "ms",
                           [percentile(latencies, 0.99) for latencies in runs], note=note),
                ]
    smallest, largest = sizes.growth_rows[0], sizes.growth_rows[-1]
    for name in QUERIES:
        figures.append(Figure(
            f"{name} p50 {label(largest)} / {label(smallest)} rows", "×",
            ratios(p50[name, largest], p50[name, smallest]), target=at_most(FLAT_WITHIN),
            note="flat means within 2×"))
    return figures
