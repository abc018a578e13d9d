"""End to end: observations through evaluation's batch API (SubmitObservations) to
the national aggregate visible through its query API (GetSeries), with evaluation
and the aggregator each in its own process, as deployed.

Each batch sets cells of one month (of 20 sites x 5 ethnicity groups) to the
batch's number, which only grows, so the month's national numerator tells which
batch it reflects. A watcher polls the national series and notes when each batch
became visible. First the sustained rate: whole months (100 observations) back to
back from one client for a while, the observations over the time until the last is
visible (and, to tell where the limit is, the rate the API accepted them). Then
freshness at half that rate, in batches of 10 for enough samples: each batch's time
from submission to visible, as p50/p95/p99.
"""

from __future__ import annotations

import threading
import time
import uuid

import grpc

from mhin.common.v1 import arc_pb2, organisation_pb2, period_pb2
from mhin.evaluation.v1 import (
    aggregate_events_pb2,
    evaluation_pb2,
    evaluation_pb2_grpc,
    measure_definition_pb2,
    measure_pb2,
)
from mhin.projects.v1 import project_events_pb2, project_pb2
from mhin_bench.context import BenchContext, BenchError, Sizes
from mhin_bench.figures import Figure, at_most, percentile
from mhin_bench.process import ServiceProcess
from mhin_bench.worker import AggregatorWorker
from mhin_devkit.harness import caller, trust_file_for_tests
from mhin_devkit.kafka_broker import free_port
from mhin_platform.events import topic_names
from mhin_platform.events.envelope import new_event
from mhin_platform.events.producer import create_producer, publish

SITES = 20
STRATA = tuple(f"ethnicity={group}" for group in ("Asian", "Black", "Mixed", "White", "Other"))
MONTHS = tuple(f"2025-{month:02d}" for month in range(1, 13))
CELLS = tuple((site, stratum) for site in range(SITES) for stratum in STRATA)
SUSTAINED_BATCH = len(CELLS)  # a whole month
FRESHNESS_BATCH = 10
DENOMINATOR = 1_000_000.0
POLL_SECONDS = 0.005
VISIBLE_TIMEOUT_SECONDS = 120.0
FRESHNESS_P99_MS = 100.0


class Pipeline:
    """One project and measure in a running evaluation service, submitted to batch by batch."""

    def __init__(self, channel: grpc.Channel, bootstrap: str) -> None:
        self.api = caller(channel, evaluation_pb2_grpc.EvaluationServiceStub, "national_admin")
        self.project = self._publish_project(bootstrap)
        self.measure_id = self._define_measure()
        self.series = evaluation_pb2.SeriesKey(measure_id=self.measure_id,
                                               level=aggregate_events_pb2.LEVEL_NATIONAL)
        self.batches = 0
        self.values: dict[tuple[str, int, str], float] = {}  # (month, site, stratum) -> numerator

    def _publish_project(self, bootstrap: str) -> project_pb2.Project:
        arcs = (arc_pb2.ARC_GREATER_MANCHESTER, arc_pb2.ARC_YORKSHIRE_AND_HUMBER)
        project = project_pb2.Project(
            id=f"bench-{uuid.uuid4().hex[:8]}", name="Benchmark project", arcs=arcs, version=1,
            sites=[project_pb2.Site(
                id=f"site-{n:02d}", name=f"Site {n}", organisation_name=f"Trust {n}",
                organisation_type=organisation_pb2.ORGANISATION_TYPE_NHS_TRUST,
                arc=arcs[n % len(arcs)],
                go_live_date=period_pb2.Date(year=2025, month=4 + n % 6, day=1))
                for n in range(SITES)],
        )  # fmt: skip
        producer = create_producer(bootstrap, client_id="mhin-bench")
        try:
            publish(producer, [new_event(
                topic=topic_names.PROJECTS_PROJECT, key=project.id, subject=project.id,
                source="/mhin/project-tracking",
                message=project_events_pb2.ProjectCreated(project=project))])
        finally:
            producer.close()
        request = evaluation_pb2.GetProjectSitesRequest(project_id=project.id)
        _wait_for(lambda: _found(lambda: self.api.GetProjectSites(request)), "the project's sites")
        return project

    def _define_measure(self) -> str:
        measure = measure_definition_pb2.MeasureDefinition(
            id=f"bench-{uuid.uuid4().hex[:8]}", project_id=self.project.id,
            title="Referrals from minority ethnic communities",
            tag=measure_definition_pb2.MeasureTag(re_aim=measure_definition_pb2.RE_AIM_DIMENSION_REACH),
            type=measure_pb2.MEASURE_TYPE_PROPORTION,
            numerator="Referrals of people from minority ethnic groups",
            denominator="All referrals", multiplier=100, direction=measure_pb2.DIRECTION_UP,
            frequency=measure_definition_pb2.FREQUENCY_MONTHLY,
            stratifiers=[measure_definition_pb2.STRATIFIER_ETHNICITY],
        )  # fmt: skip
        request = evaluation_pb2.DefineMeasureRequest(measure=measure)
        return self.api.DefineMeasure(request).measure.id

    def submit(self, size: int) -> tuple[str, float]:
        """Send the next batch of ``size`` cells; the month it sets and the national
        numerator of that month once it is counted."""
        self.batches += 1
        number, month = float(self.batches), MONTHS[self.batches % len(MONTHS)]
        cells = CELLS[:size]
        self.api.SubmitObservations(evaluation_pb2.SubmitObservationsRequest(observations=[
            evaluation_pb2.Observation(measure_id=self.measure_id,
                                       site_id=self.project.sites[site].id, period=month,
                                       stratum=stratum, numerator=number,
                                       denominator=DENOMINATOR)
            for site, stratum in cells]))
        self.values.update({(month, site, stratum): number for site, stratum in cells})
        return month, sum(v for (m, _, _), v in self.values.items() if m == month)

    def national(self) -> dict[str, float]:
        request = evaluation_pb2.GetSeriesRequest(series=self.series)
        response = _found(lambda: self.api.GetSeries(request))
        return {point.period: point.numerator for point in response.points} if response else {}


class Watch(threading.Thread):
    """Polls the national series; notes when each submitted batch became visible."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__(name="freshness-watch", daemon=True)
        self.pipeline = pipeline
        self.pending: list[tuple[str, float, float]] = []  # month, numerator, submitted at
        self.visible: list[tuple[float, float]] = []  # submitted at, visible at
        self._lock = threading.Lock()
        self._stop_event = threading.Event()

    def submit(self, size: int) -> None:
        began = time.perf_counter()
        month, numerator = self.pipeline.submit(size)
        with self._lock:
            self.pending.append((month, numerator, began))

    def run(self) -> None:
        while not self._stop_event.wait(POLL_SECONDS):
            national, now = self.pipeline.national(), time.perf_counter()
            with self._lock:
                seen = [p for p in self.pending if national.get(p[0], -1.0) >= p[1]]
                self.pending = [p for p in self.pending if p not in seen]
                self.visible += [(submitted, now) for _, _, submitted in seen]

    def drain(self) -> list[tuple[float, float]]:
        """Wait until every batch is visible; return and forget them all."""
        _wait_for(lambda: not self.pending, "every batch to be visible")
        with self._lock:
            visible, self.visible = self.visible, []
        return visible

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _found(call):
    try:
        return call()
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise


def _wait_for(check, what: str) -> None:
    deadline = time.monotonic() + VISIBLE_TIMEOUT_SECONDS
    while not check():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        time.sleep(POLL_SECONDS)


def sustained_rates(watch: Watch, seconds: float) -> tuple[float, float]:
    """Observations/s accepted by the API, and made visible, from one client sending
    batches back to back for ``seconds``."""
    began = time.perf_counter()
    observations = 0
    while time.perf_counter() - began < seconds:
        watch.submit(SUSTAINED_BATCH)
        observations += SUSTAINED_BATCH
    accepted = observations / (time.perf_counter() - began)
    last_visible = max(visible for _, visible in watch.drain())
    return accepted, observations / (last_visible - began)


def freshness_ms(watch: Watch, rate: float, seconds: float) -> list[float]:
    """Submission-to-visible times of batches sent at ``rate`` observations/s."""
    interval, began = FRESHNESS_BATCH / rate, time.perf_counter()
    for number in range(int(seconds / interval) + 1):
        time.sleep(max(0.0, began + number * interval - time.perf_counter()))
        watch.submit(FRESHNESS_BATCH)
    return [(visible - submitted) * 1000 for submitted, visible in watch.drain()]


def run(context: BenchContext, sizes: Sizes) -> list[Figure]:
    accepted, rates, p50, p95, p99 = _measure(context, sizes, impact_live=True)
    _, _, off_p50, _, off_p99 = _measure(context, sizes, impact_live=False)
    how = (f"batches of {SUSTAINED_BATCH} back to back from 1 client; national aggregate "
           f"polled every {POLL_SECONDS * 1000:.0f} ms")
    half = (f"batches of {FRESHNESS_BATCH} at half the sustained rate, submission to visible "
            "through GetSeries")
    off = half + "; evaluation's live impact recomputation off (MHIN_IMPACT_LIVE=false)"
    return [
        Figure("sustained observations, visible", "observations/s", rates, note=how),
        Figure("sustained observations, accepted", "observations/s", accepted,
               note="the rate SubmitObservations took them in the same runs"),
        Figure("freshness p50", "ms", p50, note=half),
        Figure("freshness p95", "ms", p95, note=half),
        Figure("freshness p99", "ms", p99, target=at_most(FRESHNESS_P99_MS), note=half),
        Figure("freshness p50, impact recomputation off", "ms", off_p50, note=off),
        Figure("freshness p99, impact recomputation off", "ms", off_p99, note=off),
    ]


def _measure(context: BenchContext, sizes: Sizes, *, impact_live: bool
             ) -> tuple[list[float], ...]:
    folder = context.folder(f"end-to-end-{'live' if impact_live else 'off'}")
    port = free_port()
    evaluation = ServiceProcess("mhin-evaluation", {
        "kafka_bootstrap_servers": context.bootstrap, "grpc_port": str(port),
        "database_url": f"sqlite:///{folder / 'evaluation.db'}",
        "auth_trust": str(trust_file_for_tests()), "log_level": "WARNING",
        "impact_live": str(impact_live).lower(),
    }, folder / "evaluation.log")  # fmt: skip
    accepted: list[float] = []
    rates: list[float] = []
    p50: list[float] = []
    p95: list[float] = []
    p99: list[float] = []
    context.fresh_platform_topics()  # nothing left by the benchmarks before
    with (evaluation, AggregatorWorker(context, folder.name, own_topics=False) as worker,
          grpc.insecure_channel(f"127.0.0.1:{port}") as channel):
        evaluation.start()
        worker.start()
        evaluation.wait_until_serving(f"127.0.0.1:{port}")
        watch = Watch(Pipeline(channel, context.bootstrap))
        watch.start()
        try:
            watch.submit(SUSTAINED_BATCH)  # both processes are up, every consumer has joined
            watch.drain()
            for _ in range(sizes.runs):
                taken, visible = sustained_rates(watch, sizes.end_to_end_seconds)
                accepted.append(taken)
                rates.append(visible)
                fresh = freshness_ms(watch, rates[-1] / 2, sizes.end_to_end_seconds)
                p50.append(percentile(fresh, 0.50))
                p95.append(percentile(fresh, 0.95))
                p99.append(percentile(fresh, 0.99))
        finally:
            watch.stop()
    return accepted, rates, p50, p95, p99
