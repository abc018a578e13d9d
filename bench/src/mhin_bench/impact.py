"""Impact estimation: latency of GetImpact (a 60-period site series) and of
GetPooledImpact (20 sites with staggered go-live dates) through evaluation's real
gRPC server on SQLite.

The series are written into the service's read models before it starts (what the
consumers would have stored from project and aggregate events), so the figures are
the query: loading the series, disclosure, the statsmodels fits and the response.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import grpc
import numpy as np
from google.protobuf.message import Message

from mhin.evaluation.v1 import aggregate_events_pb2, evaluation_pb2, evaluation_pb2_grpc
from mhin_bench.context import BenchContext, Sizes
from mhin_bench.figures import Figure, at_most, percentile
from mhin_devkit.harness import bearer, migrated_database, running_service
from mhin_evaluation import store
from mhin_evaluation.domain import AggregateRow, ProjectSites, Site
from mhin_evaluation.main import DEFINITION
from mhin_measures.hierarchy import Level
from mhin_platform.reference import Arc

MEASURE = "pcref-minority-referrals"  # a reference proportion, seeded at start
PROJECT = "mhin-project-1"
SITES, PERIODS = 20, 60
SITE_P50_MS, POOLED_P50_MS = 50.0, 500.0


def _months(count: int) -> list[str]:
    return [f"{2020 + m // 12}-{m % 12 + 1:02d}" for m in range(count)]


def _seed(database_url: str) -> None:
    rng = np.random.default_rng(1)
    months = _months(PERIODS)
    go_lives = [date(2022, 1 + n % 12, 1) for n in range(SITES)]
    sites = tuple(Site(id=f"bench-site-{n}", project_id=PROJECT, name=f"Site {n}",
                       arc=Arc.GREATER_MANCHESTER, go_live=go_lives[n])
                  for n in range(SITES))
    now = datetime.now(UTC)
    rows = []
    for site, go_live in zip(sites, go_lives, strict=True):
        for index, period in enumerate(months):
            denominator = float(rng.integers(300, 500))
            after = period >= f"{go_live.year}-{go_live.month:02d}"
            rate = 0.2 * np.exp(0.003 * index) * (1.2 if after else 1.0)
            rows.append(AggregateRow(
                measure_id=MEASURE, level=Level.SITE, unit=site.id, period=period, stratum="",
                owner_arc=site.arc, numerator=float(rng.binomial(int(denominator), rate)),
                denominator=denominator, observation_count=1, computed_at=now))
    with migrated_database(DEFINITION, database_url) as database:
        with database.transaction() as session:
            store.replace_project(session, ProjectSites(project_id=PROJECT, version=1,
                                                        sites=sites), None)
            store.put_aggregates(session, rows)


def _latencies(call: Callable[..., Any], request: Message, metadata: tuple,
               count: int) -> list[float]:
    out = []
    for _ in range(count):
        began = time.perf_counter()
        call(request, metadata=metadata)
        out.append((time.perf_counter() - began) * 1000)
    return out


def run(context: BenchContext, sizes: Sizes) -> list[Figure]:
    database_url = f"sqlite:///{context.folder('impact')}/evaluation.db"
    _seed(database_url)
    metadata = bearer("national_admin")
    calls = 5 if sizes.runs < 3 else 30
    site_runs, pooled_runs = [], []
    with running_service(DEFINITION, database_url=database_url,
                         kafka_bootstrap=context.bootstrap) as service:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
            stub = evaluation_pb2_grpc.EvaluationServiceStub(channel)
            site = evaluation_pb2.GetImpactRequest(series=evaluation_pb2.SeriesKey(
                measure_id=MEASURE, level=aggregate_events_pb2.LEVEL_SITE,
                unit="bench-site-0"))
            pooled = evaluation_pb2.GetPooledImpactRequest(project_id=PROJECT,
                                                           measure_id=MEASURE)
            stub.GetImpact(site, metadata=metadata)  # warm: imports, caches
            stub.GetPooledImpact(pooled, metadata=metadata)
            for _ in range(sizes.runs):
                site_runs.append(percentile(_latencies(stub.GetImpact, site, metadata,
                                                       calls), 0.5))
                pooled_runs.append(percentile(_latencies(stub.GetPooledImpact, pooled,
                                                         metadata, calls), 0.5))
    return [
        Figure(f"GetImpact p50, {PERIODS}-period site series", "ms", site_runs,
               at_most(SITE_P50_MS), note=f"{calls} calls per run"),
        Figure(f"GetPooledImpact p50, {SITES} sites x {PERIODS} periods", "ms", pooled_runs,
               at_most(POOLED_P50_MS), note=f"{calls} calls per run"),
    ]
