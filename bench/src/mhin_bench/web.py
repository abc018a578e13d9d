"""The web dashboard: project-tracking, evaluation, the aggregator and `mhin-web`, each
its own process as deployed, a project with sites added through project-tracking's
API and a year of observations by ethnicity through evaluation's.

- Page load: the evaluation page opened in Debian's Chromium (Playwright), from
  navigation start to the page's own `mhin:charts-drawn` mark (the browser's timing:
  every chart drawn), as p95 over the loads of a run.
- Live updates: 100 pages follow one series over server-sent events (the pages' own
  stream, as many connections as 100 open tabs); an observation is submitted through
  evaluation's API and each page's time until its update event arrives is taken
  (submission to update: the stream processors' and evaluation's share included), as
  p99 over pages and updates. The web process's resident memory with the 100
  connections open is reported.
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.request
import uuid
from datetime import date
from pathlib import Path

import grpc

from mhin.common.v1 import arc_pb2, organisation_pb2
from mhin.evaluation.v1 import (
    aggregate_events_pb2,
    evaluation_pb2,
    evaluation_pb2_grpc,
    measure_definition_pb2,
    measure_pb2,
)
from mhin.projects.v1 import projects_service_pb2, projects_service_pb2_grpc
from mhin_bench.context import BenchContext, BenchError, Sizes
from mhin_bench.figures import Figure, at_most, percentile
from mhin_bench.process import ServiceProcess
from mhin_bench.worker import AggregatorWorker
from mhin_devkit.harness import TEST_ISSUER, caller, trust_file_for_tests
from mhin_devkit.kafka_broker import free_port
from mhin_platform.protoconv import date_to_proto
from mhin_platform.tokens import issue_token

CHROMIUM = Path(os.environ.get("MHIN_CHROMIUM", "/usr/bin/chromium"))
PROJECT = "mhin-project-1"
GROUPS = ("Asian", "Black", "Mixed", "White", "Other")
MONTHS = tuple(f"2025-{month:02d}" for month in range(1, 13))
PAGES = 100
LOAD_P95_MS = 1000.0
UPDATE_P99_MS = 1000.0
WAIT_SECONDS = 120.0


def _wait_for(check, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while not (result := check()):
        if time.monotonic() > deadline:
            raise BenchError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return result


def _found(call):
    try:
        return call()
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise


class Series:
    """A measure of the reference PCREF project, its sites added through
    project-tracking, observed month by month through evaluation."""

    def __init__(self, projects: grpc.Channel, evaluation: grpc.Channel) -> None:
        self.projects = caller(projects, projects_service_pb2_grpc.ProjectsServiceStub,
                               "national_admin")
        self.api = caller(evaluation, evaluation_pb2_grpc.EvaluationServiceStub,
                          "national_admin")
        sites = [self.projects.AddSite(projects_service_pb2.AddSiteRequest(
            project_id=PROJECT, site=projects_service_pb2.SiteDraft(
                name=f"Bench site {n} {uuid.uuid4().hex[:4]}", organisation_name=f"Trust {n}",
                organisation_type=organisation_pb2.ORGANISATION_TYPE_NHS_TRUST, arc=arc,
                go_live_date=date_to_proto(date(2025, 1, 1))))).site
            for n, arc in enumerate((arc_pb2.ARC_GREATER_MANCHESTER,
                                     arc_pb2.ARC_YORKSHIRE_AND_HUMBER))]
        self.site_ids = [site.id for site in sites]
        request = evaluation_pb2.GetProjectSitesRequest(project_id=PROJECT)
        _wait_for(lambda: (found := _found(lambda: self.api.GetProjectSites(request)))
                  and set(self.site_ids) <= {s.site_id for s in found.sites},
                  "evaluation knows the sites")
        self.measure_id = self.api.DefineMeasure(evaluation_pb2.DefineMeasureRequest(
            measure=measure_definition_pb2.MeasureDefinition(
                id=f"bench-web-{uuid.uuid4().hex[:8]}", project_id=PROJECT,
                title="Referrals seen within four weeks",
                tag=measure_definition_pb2.MeasureTag(
                    re_aim=measure_definition_pb2.RE_AIM_DIMENSION_REACH),
                type=measure_pb2.MEASURE_TYPE_PROPORTION, numerator="Seen", denominator="All",
                multiplier=100, direction=measure_pb2.DIRECTION_UP,
                frequency=measure_definition_pb2.FREQUENCY_MONTHLY,
                stratifiers=[measure_definition_pb2.STRATIFIER_ETHNICITY]))).measure.id
        self.updates = 0

    def submit_year(self) -> None:
        self.api.SubmitObservations(evaluation_pb2.SubmitObservationsRequest(observations=[
            evaluation_pb2.Observation(measure_id=self.measure_id, site_id=site, period=month,
                                       stratum=f"ethnicity={group}", numerator=20 + n % 7,
                                       denominator=50)
            for n, month in enumerate(MONTHS) for site in self.site_ids for group in GROUPS]))
        key = evaluation_pb2.SeriesKey(measure_id=self.measure_id,
                                       level=aggregate_events_pb2.LEVEL_NATIONAL)
        _wait_for(lambda: len(self.api.GetSeries(evaluation_pb2.GetSeriesRequest(
            series=key)).points) == len(MONTHS), "the year's national series")

    def correct(self) -> None:
        """A corrected observation of the latest month: a new national aggregate."""
        self.updates += 1
        self.api.SubmitObservation(evaluation_pb2.SubmitObservationRequest(
            observation=evaluation_pb2.Observation(
                measure_id=self.measure_id, site_id=self.site_ids[0], period=MONTHS[-1],
                stratum="ethnicity=White", numerator=float(self.updates % 40), denominator=50)))

    def path(self) -> str:
        return (f"/evaluation?project={PROJECT}&measure={self.measure_id}&level=national"
                "&by=ethnicity")


def page_loads_ms(url: str, cookie: str, loads: int) -> list[float]:
    """Navigation start to charts drawn, in Chromium, ``loads`` times."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        raise BenchError(f"Chromium is not at {CHROMIUM}: `apt-get install chromium`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"] if os.geteuid() == 0 else [])
        try:
            context = browser.new_context()
            context.add_cookies([{"name": "mhin_session", "value": cookie, "url": url}])
            page = context.new_page()
            timings = []
            for _ in range(loads + 1):  # the first load fills the browser's cache
                page.goto(url)
                page.wait_for_selector("body[data-charts-drawn='true']", timeout=30_000)
                timings.append(page.evaluate(
                    "performance.getEntriesByName('mhin:charts-drawn')[0].startTime"))
            return timings[1:]
        finally:
            browser.close()


async def _follow(port: int, path: str, cookie: str, ready: asyncio.Event,
                  arrivals: list[float], opened: list[int]) -> None:
    """One page's event stream: each `live` event after the first is an update."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                 f"Cookie: mhin_session={cookie}\r\n\r\n".encode())
    await writer.drain()
    first = True
    try:
        while line := await reader.readline():
            if line.startswith(b"event: live"):
                if first:
                    first = False
                    opened.append(1)
                    if len(opened) == PAGES:
                        ready.set()
                else:
                    arrivals.append(time.perf_counter())
    finally:
        writer.close()


async def update_latencies_ms(port: int, path: str, cookie: str, series: Series, updates: int,
                              web: ServiceProcess) -> tuple[list[float], float]:
    ready, arrivals, opened = asyncio.Event(), [], []
    stream = path.replace("/evaluation?", "/evaluation/stream?")
    followers = [asyncio.create_task(_follow(port, stream, cookie, ready, arrivals, opened))
                 for _ in range(PAGES)]
    try:
        await asyncio.wait_for(ready.wait(), WAIT_SECONDS)
        memory_mb = resident_mb(web)
        latencies = []
        for _ in range(updates):
            arrivals.clear()
            submitted = time.perf_counter()
            await asyncio.to_thread(series.correct)
            deadline = time.monotonic() + WAIT_SECONDS
            while len(arrivals) < PAGES:
                if time.monotonic() > deadline:
                    raise BenchError(f"only {len(arrivals)} of {PAGES} pages were updated "
                                     f"(log {web.log})")
                await asyncio.sleep(0.01)
            latencies += [(arrival - submitted) * 1000 for arrival in arrivals[:PAGES]]
            await asyncio.sleep(0.3)  # let the last fetches finish before the next change
        return latencies, memory_mb
    finally:
        for follower in followers:
            follower.cancel()
        await asyncio.gather(*followers, return_exceptions=True)


def resident_mb(process: ServiceProcess) -> float:
    assert process.process is not None
    for line in Path(f"/proc/{process.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError("no VmRSS for the web process")


def http_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


def run(context: BenchContext, sizes: Sizes) -> list[Figure]:
    folder = context.folder("web")
    projects_port, evaluation_port, web_port = free_port(), free_port(), free_port()
    common = {"kafka_bootstrap_servers": context.bootstrap, "log_level": "WARNING",
              "metrics_port": "0"}
    projects = ServiceProcess("mhin-projects", {
        **common, "grpc_port": str(projects_port),
        "auth_trust": str(trust_file_for_tests()),
        "database_url": f"sqlite:///{folder / 'projects.db'}"}, folder / "projects.log")
    evaluation = ServiceProcess("mhin-evaluation", {
        **common, "grpc_port": str(evaluation_port),
        "auth_trust": str(trust_file_for_tests()),
        "database_url": f"sqlite:///{folder / 'evaluation.db'}"}, folder / "evaluation.log")
    web = ServiceProcess("mhin-web", {
        **common, "http_port": str(web_port),
        "project_tracking_address": f"127.0.0.1:{projects_port}",
        "evaluation_address": f"127.0.0.1:{evaluation_port}"}, folder / "web.log")
    loads = 5 if sizes.runs < 3 else 20
    updates = 2 if sizes.runs < 3 else 5
    load_p95, update_p99, update_p50, memory = [], [], [], []
    context.fresh_platform_topics()  # nothing left by the benchmarks before
    with (projects, evaluation, web, AggregatorWorker(context, "web", own_topics=False) as worker,
          grpc.insecure_channel(f"127.0.0.1:{projects_port}") as projects_channel,
          grpc.insecure_channel(f"127.0.0.1:{evaluation_port}") as evaluation_channel):
        projects.start()
        evaluation.start()
        worker.start()
        web.start()
        projects.wait_until_serving(f"127.0.0.1:{projects_port}")
        evaluation.wait_until_serving(f"127.0.0.1:{evaluation_port}")
        _wait_for(lambda: web.check_alive() or http_ready(web_port), "mhin-web's /healthz")
        series = Series(projects_channel, evaluation_channel)
        series.submit_year()
        cookie = issue_token(TEST_ISSUER, "bench", "national_admin")
        url = f"http://127.0.0.1:{web_port}{series.path()}"
        for _ in range(sizes.runs):
            load_p95.append(percentile(page_loads_ms(url, cookie, loads), 0.95))
            latencies, resident = asyncio.run(update_latencies_ms(
                web_port, series.path(), cookie, series, updates, web))
            update_p99.append(percentile(latencies, 0.99))
            update_p50.append(percentile(latencies, 0.50))
            memory.append(resident)
    page = f"evaluation page, national series of 12 months x 5 strata; {loads} loads per run"
    live = (f"{PAGES} pages following one series; {updates} corrections per run, submission "
            "through evaluation's API to each page's update event")
    return [
        Figure("page load to charts drawn p95", "ms", load_p95, target=at_most(LOAD_P95_MS),
               note=page + " (Chromium's own timing)"),
        Figure(f"update latency p50, {PAGES} pages", "ms", update_p50, note=live),
        Figure(f"update latency p99, {PAGES} pages", "ms", update_p99,
               target=at_most(UPDATE_P99_MS), note=live),
        Figure(f"web memory with {PAGES} connections", "MB", memory,
               note="resident set of the mhin-web process"),
    ]
