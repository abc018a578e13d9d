"""The web dashboard in a real browser (Debian's Chromium driven by Playwright)
against a real platform: the five services and the stream processors on a real
broker, the web as its own process (`mhin-web`, as `make run` starts it), seeded
through the services' APIs and the `mhin` command line.

Each page is checked with axe-core inside the page (no serious or critical
violation), must log no Content-Security-Policy violation, and is screenshotted
under .cache/web-screenshots/ for people to look at. Waits poll the page with a
deadline; none is an assertion about speed (that is `make bench`)."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from mhin.catalogue.v1 import prioritisation_pb2
from mhin.common.v1 import arc_pb2, organisation_pb2, priority_area_pb2
from mhin.evaluation.v1 import (
    aggregate_events_pb2,
    evaluation_pb2,
    measure_definition_pb2,
    measure_pb2,
)
from mhin.governance.v1 import decision_events_pb2, governance_pb2
from mhin.needs.v1 import needs_pb2
from mhin.projects.v1 import project_pb2, projects_service_pb2
from mhin_devkit.harness import TEST_ISSUER
from mhin_devkit.kafka_broker import free_port
from mhin_platform.processes import PLATFORM
from mhin_platform.protoconv import date_to_proto
from mhin_platform.tokens import SigningKey, issue_token

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("MHIN_CHROMIUM", "/usr/bin/chromium"))
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / ".cache" / "web-screenshots"
SERVICES = ("needs-intake", "solution-catalogue", "project-tracking", "governance", "evaluation")
GM, YH = arc_pb2.ARC_GREATER_MANCHESTER, arc_pb2.ARC_YORKSHIRE_AND_HUMBER
PROJECT = "mhin-project-1"  # PCREF, seeded by project-tracking
PERIODS = [f"{2024 + month // 12}-{month % 12 + 1:02d}" for month in range(18)]
NEXT_PERIOD = "2025-07"
GO_LIVE = date(2024, 12, 1)  # PERIODS[11]: 11 periods before, 7 after
# Referrals a month at each site by ethnic group: Mixed and Other are small counts.
REFERRALS = {"White": 60, "Asian": 24, "Black": 16, "Mixed": 4, "Other": 3}
ROUND_SCORES = {"Patient and Carer Race Equality Framework (PCREF)": (85, 80, 95, 75, 80),
                "Parent-led CBT for child anxiety": (80, 70, 60, 80, 75),
                "Alcohol Assertive Outreach Treatment (AAOT)": (70, 65, 70, 60, 70)}
WAIT_SECONDS = 120.0  # the stream processors' process starts and joins its group
PAGE_WAIT_MS = 60_000


def share_seen(month: int) -> float:
    """Steady around 40-45% for 11 months, then a shift up: 7 months at 70%+."""
    return 0.40 + 0.05 * (month % 2) if month < 11 else 0.70 + 0.01 * (month - 11)


# ----------------------------------------------------------------- the platform


class WebProcess:
    """`mhin-web` as its own process, given the services' addresses as `make run`
    gives them (MHIN_<SERVICE>_ADDRESS)."""

    def __init__(self, platform, folder: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "web.log"
        addresses = {spec.address_variable: platform.address(spec.name)
                     for spec in PLATFORM if spec.grpc_port}
        self.environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MHIN_")},
            "MHIN_SERVICE_NAME": "web", "MHIN_HTTP_PORT": str(self.port),
            "MHIN_METRICS_PORT": "0", "MHIN_KAFKA_BOOTSTRAP_SERVERS": platform.bootstrap,
            **addresses,
        }
        self.start()

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mhin_web.main"], env=self.environment,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"mhin-web exited ({self.process.returncode}):\n"
                                 + self.log.read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=1) as answer:
                return answer.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


def token(role: str = "national_admin", arc: str | None = None,
          ttl: timedelta = timedelta(hours=1)) -> str:
    return issue_token(TEST_ISSUER, f"web-{role}", role, arc, ttl=ttl)


class Seeded:
    """What the module's platform holds: sites, a measure with a known shift."""

    def __init__(self, platform, eventually) -> None:
        self.platform = platform
        self.measure_id = f"pcref-seen-four-weeks-{uuid.uuid4().hex[:6]}"
        projects = platform.api("projects")
        today = datetime.now(UTC).date()
        self.sites = {}
        # Oldham goes live within the series, at its shift (an impact estimate); Leeds
        # after it ends (too few periods after go-live: no estimate).
        for arc, name, go_live in ((GM, "Oldham", GO_LIVE),
                                   (YH, "Leeds", today - timedelta(days=200))):
            added = projects.AddSite(_add_site(arc, name, go_live)).site
            self.sites[arc] = added
        projects.AddMilestone(_milestone("Ethnicity recording audit", GM, today,
                                         project_pb2.RAG_AMBER))
        sites = eventually(lambda: self._sites_known(), "evaluation knows the project's sites")
        assert {s.site_id for s in sites} >= {s.id for s in self.sites.values()}
        self._define_measure()
        self._submit_history()
        self._governance(today)
        self._needs()
        self._round()

    def _sites_known(self):
        try:
            sites = self.platform.api("evaluation", "viewer").GetProjectSites(
                evaluation_pb2.GetProjectSitesRequest(project_id=PROJECT)).sites
        except Exception:
            return None
        ids = {s.site_id for s in sites}
        return sites if {s.id for s in self.sites.values()} <= ids else None

    def _define_measure(self) -> None:
        self.platform.api("evaluation").DefineMeasure(evaluation_pb2.DefineMeasureRequest(
            measure=measure_definition_pb2.MeasureDefinition(
                id=self.measure_id, project_id=PROJECT,
                title="Referrals seen within four weeks",
                tag=measure_definition_pb2.MeasureTag(
                    re_aim=measure_definition_pb2.RE_AIM_DIMENSION_REACH),
                type=measure_pb2.MEASURE_TYPE_PROPORTION,
                numerator="Referrals seen within four weeks", denominator="Referrals",
                multiplier=100, direction=measure_pb2.DIRECTION_UP,
                frequency=measure_definition_pb2.FREQUENCY_MONTHLY,
                stratifiers=[measure_definition_pb2.STRATIFIER_ETHNICITY])))

    def _submit_history(self) -> None:
        for arc, site in self.sites.items():
            batch = [evaluation_pb2.Observation(
                measure_id=self.measure_id, site_id=site.id, period=period,
                stratum=f"ethnicity={group}", numerator=round(referred * share_seen(month)),
                denominator=referred)
                for month, period in enumerate(PERIODS)
                for group, referred in REFERRALS.items()]
            self.platform.api("evaluation", "arc_member", arc).SubmitObservations(
                evaluation_pb2.SubmitObservationsRequest(observations=batch))

    def _governance(self, today: date) -> None:
        api = self.platform.api("governance")
        bodies = api.ListBodies(governance_pb2.ListBodiesRequest()).bodies
        executive = next(b for b in bodies if b.kind == decision_events_pb2.BODY_KIND_EXECUTIVE)
        api.GenerateSchedule(governance_pb2.GenerateScheduleRequest(
            body_id=executive.id, from_date=date_to_proto(today),
            to_date=date_to_proto(today + timedelta(days=180))))
        for kind, people, hours in (
                (governance_pb2.INVOLVEMENT_KIND_ADVISORY_GROUP_MEETING, 8, 16.0),
                (governance_pb2.INVOLVEMENT_KIND_CO_DESIGN_WORKSHOP, 12, 30.0)):
            api.LogInvolvement(governance_pb2.LogInvolvementRequest(
                activity=governance_pb2.InvolvementDraft(
                    project_id=PROJECT, arc=GM, kind=kind, title=f"PPI activity {kind}",
                    activity_date=date_to_proto(today - timedelta(days=10)), people=people,
                    experts_by_experience=people // 2, hours=hours),
                idempotency_key=uuid.uuid4().hex))

    def _needs(self) -> None:
        self.platform.api("needs", "arc_member", GM).SubmitNeed(needs_pb2.SubmitNeedRequest(
            need=needs_pb2.NeedDraft(
                submitter=needs_pb2.Organisation(
                    name="Caribbean and African Health Network",
                    type=organisation_pb2.ORGANISATION_TYPE_VCSE), arc=GM,
                title="Late access to care for minority ethnic communities",
                description="People reach services late, often in crisis.",
                population="people from minority ethnic communities",
                age_group=needs_pb2.AGE_GROUP_ADULTS,
                priority_area=priority_area_pb2.PRIORITY_AREA_INEQUALITIES,
                sources=[needs_pb2.NeedSource(scoping_exercise=needs_pb2.ScopingExerciseResponse(
                    response_ref="SE-2021-001"))])))

    def _round(self) -> None:
        """An MCDA round on the network's criteria, scoring the catalogue's solutions."""
        api = self.platform.api("prioritisation")
        criteria = api.ListDefaultCriteria(
            prioritisation_pb2.ListDefaultCriteriaRequest()).criteria
        api.RecordRound(prioritisation_pb2.RecordRoundRequest(
            round=prioritisation_pb2.RoundDraft(
                title="MHIN decision conference", source="Stakeholder workshop",
                criteria=criteria,
                options=[prioritisation_pb2.RoundOption(name=name) for name in ROUND_SCORES],
                scores=[prioritisation_pb2.Score(option=option, criterion=c.name, value=value)
                        for option, values in ROUND_SCORES.items()
                        for c, value in zip(criteria, values, strict=True)])))

    def evaluation_url(self, level: str = "project", unit: str = "", stratum: str = "") -> str:
        query = f"project={PROJECT}&measure={self.measure_id}&level={level}"
        return f"/evaluation?{query}&unit={unit}&stratum={stratum}&by=ethnicity"


def _add_site(arc: int, name: str, go_live: date) -> projects_service_pb2.AddSiteRequest:
    site = projects_service_pb2.SiteDraft(
        name=name, organisation_name=f"{name} NHS FT",
        organisation_type=organisation_pb2.ORGANISATION_TYPE_NHS_TRUST, arc=arc,
        go_live_date=date_to_proto(go_live))
    return projects_service_pb2.AddSiteRequest(project_id=PROJECT, site=site)


def _milestone(title: str, arc: int, today: date,
               rag: int) -> projects_service_pb2.AddMilestoneRequest:
    return projects_service_pb2.AddMilestoneRequest(
        project_id=PROJECT, milestone=projects_service_pb2.MilestoneDraft(
            title=title, arc=arc, planned_date=date_to_proto(today + timedelta(days=30)),
            rag=rag))


@pytest.fixture(scope="module")
def seeded(module_platform, eventually) -> Seeded:
    module_platform.start(*SERVICES)
    stream_processors = module_platform.start_stream_processors()
    data = Seeded(module_platform, eventually)

    def computed() -> bool:  # the shifted series, as evaluation answers it
        stream_processors.require_running()
        points = module_platform.api("evaluation", "viewer").GetSpc(evaluation_pb2.GetSpcRequest(
            series=evaluation_pb2.SeriesKey(measure_id=data.measure_id, unit=PROJECT,
                                            level=aggregate_events_pb2.LEVEL_PROJECT))).points
        return len(points) == len(PERIODS) and all(p.HasField("value") for p in points)

    eventually(computed, "the stream processors' aggregates reach evaluation", WAIT_SECONDS)
    return data


@pytest.fixture(scope="module")
def web(module_platform, seeded, tmp_path_factory, eventually) -> Iterator[WebProcess]:
    process = WebProcess(module_platform, tmp_path_factory.mktemp("web"))
    try:
        eventually(process.ready, "mhin-web answers /healthz")
        yield process
    finally:
        process.stop()


# Module-scoped, not session-scoped: Playwright's sync API keeps an event loop running
# in this thread while it is open, which later asyncio tests could not start under.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is not at {CHROMIUM}: `apt-get install chromium` (Debian)",
                    pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox"] if os.geteuid() == 0 else [])
        try:
            yield launched
        finally:
            launched.close()


class Tab:
    """A browser tab of one user, recording any Content-Security-Policy violation."""

    def __init__(self, browser: Browser, web: WebProcess) -> None:
        self.context = browser.new_context(base_url=web.url, accept_downloads=True)
        self.page: Page = self.context.new_page()
        self.csp_violations: list[str] = []
        self.page.on("console", self._console)

    def _console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.csp_violations.append(message.text)

    def sign_in(self, bearer: str) -> None:
        self.page.goto("/sign-in")
        self.page.get_by_label("Bearer token").fill(bearer)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/overview")

    def open(self, path: str) -> Page:
        self.page.goto(path)
        self.page.wait_for_selector("body[data-charts-drawn='true']", timeout=PAGE_WAIT_MS)
        return self.page

    def axe(self) -> list[dict]:
        """Serious and critical axe-core violations of the page as it is now."""
        self.page.evaluate(AXE.read_text())
        result = self.page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                 "nodes": [n["target"] for n in v["nodes"]][:5]}
                for v in result["violations"] if v["impact"] in ("serious", "critical")]

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser, web) -> Iterator[Tab]:
    opened = Tab(browser, web)
    try:
        yield opened
    finally:
        opened.close()


def table_rows(page: Page, table_id: str) -> list[list[str]]:
    return page.eval_on_selector_all(
        f"#{table_id} tbody tr",
        "rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))")


def wait_for_row(page: Page, table_id: str, heading: str) -> None:
    """Until the table has a row headed ``heading`` (a locator's wait: no eval, which
    the page's CSP forbids)."""
    page.locator(f"#{table_id} tbody th", has_text=re.compile(f"^{re.escape(heading)}$")) \
        .wait_for(state="attached", timeout=PAGE_WAIT_MS)


# ----------------------------------------------------------------- access


def test_without_a_token_every_page_sends_you_to_sign_in(tab, seeded):
    for path in ("/overview", "/governance", seeded.evaluation_url(), "/evaluation/spc.csv"):
        tab.page.goto(path)
        assert re.search(r"/sign-in$", tab.page.url), path
    assert tab.page.get_by_label("Bearer token").is_visible()


def test_a_token_the_services_refuse_is_not_a_session(tab):
    impostor = SigningKey.generate(TEST_ISSUER.issuer)  # the issuer's name, not its key
    forged = issue_token(impostor, "mallory", "national_admin")
    tab.page.goto("/sign-in")
    tab.page.get_by_label("Bearer token").fill(forged)
    tab.page.get_by_role("button", name="Sign in").click()
    assert "/sign-in" in tab.page.url
    assert "services refused that token" in tab.page.locator(".nhsuk-error-summary").inner_text()
    assert not [c for c in tab.context.cookies() if c["name"] == "mhin_session"]


def test_an_expired_token_sends_the_user_back_to_sign_in(tab, web):
    tab.context.add_cookies([{"name": "mhin_session", "url": web.url,
                              "value": token(ttl=timedelta(seconds=-5))}])
    tab.page.goto("/overview")
    assert tab.page.url.endswith("/sign-in?reason=expired")
    assert "expired" in tab.page.locator(".nhsuk-inset-text").inner_text()


def test_the_session_cookie_is_httponly_and_strict_and_sign_out_ends_it(tab):
    tab.sign_in(token())
    (cookie,) = [c for c in tab.context.cookies() if c["name"] == "mhin_session"]
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Strict")
    tab.page.get_by_role("button", name="Sign out").click()
    tab.page.wait_for_url("**/sign-in?reason=signed-out")
    assert not [c for c in tab.context.cookies() if c["name"] == "mhin_session"]
    tab.page.goto("/overview")
    assert tab.page.url.endswith("/sign-in")


def test_a_form_posted_without_its_csrf_token_is_refused(tab, web):
    tab.page.goto("/sign-in")
    answer = tab.page.request.post(web.url + "/sign-in", form={"token": token()})
    assert answer.status == 403
    assert "CSRF" in answer.text()
    assert "Traceback" not in answer.text()


def test_every_response_carries_a_strict_content_security_policy(tab, web):
    answer = tab.page.request.get(web.url + "/sign-in")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy and "default-src 'none'" in policy


def test_bad_input_in_the_address_is_a_4xx_page_naming_it(tab, seeded):
    tab.sign_in(token())
    for path, status, says in (
            (seeded.evaluation_url(level="county"), 400, "level: 'county' is not one of"),
            (seeded.evaluation_url(level="site"), 400, "unit: a site series needs its unit"),
            (f"/evaluation?project={PROJECT}&measure=no-such-measure", 400,
             "measure: 'no-such-measure' is not a measure of project"),
            ("/evaluation?project=%3Cscript%3E", 400, "project: '<script>' is not a valid id"),
            ("/overview/no-such.csv", 404, "the overview has no table 'no-such' to download"),
            ("/governance/no-such.csv", 404,
             "the governance page has no table 'no-such' to download"),
            ("/no-such-page", 404, "There is no page at /no-such-page")):
        answer = tab.page.goto(path)
        assert answer.status == status, path
        assert says in tab.page.locator(".nhsuk-error-summary").inner_text(), path
        assert "Traceback" not in tab.page.content()


# ----------------------------------------------------------------- the pages


def test_each_page_renders_the_seeded_data_accessibly(tab, seeded):
    tab.sign_in(token())
    checks = {
        "overview": ("/overview", ["Unmet needs", "The solution catalogue", "Oldham",
                                   "Ethnicity recording audit", "MHIN decision conference",
                                   "Weights within which Patient and Carer Race Equality"]),
        "evaluation": (seeded.evaluation_url(), ["Referrals seen within four weeks over time",
                                                 "Breakdown by ethnicity"]),
        "governance": ("/governance", ["Upcoming Executive and Advisory Board meetings",
                                       "Executive Committee", "Co design workshop",
                                       "Advisory group meeting"]),
    }
    for name, (path, texts) in checks.items():
        page = tab.open(path)
        body = page.locator("main").inner_text()
        for text in texts:
            assert text in body, f"{name}: {text!r} not on the page"
        assert tab.axe() == [], name
        tab.screenshot(name)
    assert tab.csp_violations == []


def test_the_mcda_ranking_is_a_ranked_bar_chart_with_its_table(tab, seeded):
    tab.sign_in(token("viewer"))
    page = tab.open("/overview")
    assert [row[:2] for row in table_rows(page, "ranking-table")] == [
        ["1", "Patient and Carer Race Equality Framework (PCREF)"],
        ["2", "Parent-led CBT for child anxiety"],
        ["3", "Alcohol Assertive Outreach Treatment (AAOT)"]]
    bars = page.eval_on_selector_all("#ranking-chart [aria-label]",
                                     "marks => marks.map(m => m.getAttribute('aria-label'))")
    assert any(label.startswith("1. Patient and Carer Race Equality") for label in bars)
    criteria = [row[0] for row in table_rows(page, "ranges-table")]
    assert criteria == ["Clinically effective", "Patients involved", "Reduces inequalities",
                        "Implementable", "Sustainable"]


def test_the_spc_chart_shows_the_shift_as_special_cause_of_improvement(tab, seeded):
    tab.sign_in(token())
    page = tab.open(seeded.evaluation_url())
    rows = table_rows(page, "spc-table")
    assert [row[0] for row in rows] == PERIODS
    shifted = [row[0] for row in rows if row[2] == "Improvement"]
    assert shifted and set(shifted) <= set(PERIODS[11:]), rows
    # the chart itself: each point is a mark whose label says its variation, and the
    # improvement points are drawn as squares (shape, not only colour)
    labels = page.eval_on_selector_all(
        "#spc-chart [aria-roledescription='point']",
        "marks => marks.map(m => m.getAttribute('aria-label'))")
    improved = [label for label in labels if "improvement" in label]
    assert len(improved) == len(shifted)
    assert "Special cause improvement: high values" in page.locator("#icon-text").inner_text()


def test_every_level_of_the_hierarchy_has_its_chart(tab, seeded):
    tab.sign_in(token("viewer"))
    for level, unit in (("national", ""), ("arc", "GREATER_MANCHESTER"),
                        ("site", seeded.sites[YH].id)):
        page = tab.open(seeded.evaluation_url(level, unit))
        assert [row[0] for row in table_rows(page, "spc-table")] == PERIODS, level


def test_the_csv_download_holds_exactly_the_table(tab, seeded):
    tab.sign_in(token())
    page = tab.open(seeded.evaluation_url())
    page.get_by_text("Data table of the SPC chart").click()  # the table is folded away
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the SPC chart's data (CSV)").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert rows[0] == ["Period", "Value", "Variation", "Special-cause rules"]
    assert rows[1:] == table_rows(page, "spc-table")


def test_a_viewer_sees_the_small_cells_of_a_breakdown_as_suppressed(tab, seeded):
    tab.sign_in(token("viewer"))
    page = tab.open(seeded.evaluation_url("site", seeded.sites[GM].id))
    rows = {row[0]: row for row in table_rows(page, "breakdown-table")}
    assert rows["Mixed"][2] == rows["Other"][2] == "suppressed"
    assert rows["White"][2] not in ("suppressed", "0")
    labels = page.eval_on_selector_all(
        "#breakdown-chart [aria-label]",
        "marks => marks.map(m => m.getAttribute('aria-label'))")
    assert any(label.startswith("Mixed: suppressed") for label in labels), labels
    assert tab.axe() == []
    tab.screenshot("evaluation-site-as-viewer")


def test_an_arc_member_sees_another_arcs_site_only_as_anyone_outside_it_would(tab, seeded):
    tab.sign_in(token("arc_member", "greater-manchester"))
    own = {row[0]: row for row in table_rows(
        tab.open(seeded.evaluation_url("site", seeded.sites[GM].id)), "breakdown-table")}
    other = {row[0]: row for row in table_rows(
        tab.open(seeded.evaluation_url("site", seeded.sites[YH].id)), "breakdown-table")}
    assert own["Mixed"][2] != "suppressed"
    assert other["Mixed"][2] == other["Other"][2] == "suppressed"


# ----------------------------------------------------------------- impact


def test_a_sites_impact_is_charted_with_its_estimate_and_its_table_is_the_csv(tab, seeded,
                                                                              module_platform):
    tab.sign_in(token())
    site = seeded.sites[GM].id
    page = tab.open(seeded.evaluation_url("site", site))
    answer = module_platform.api("evaluation").GetImpact(evaluation_pb2.GetImpactRequest(
        series=evaluation_pb2.SeriesKey(measure_id=seeded.measure_id, unit=site,
                                        level=aggregate_events_pb2.LEVEL_SITE)))
    level = answer.estimate.level_change
    assert level.estimate > 1  # the seeded shift up at go-live
    shown = page.locator("#impact-level").inner_text()
    assert shown == (f"rate ratio {level.estimate:.2f} (95% CI {level.ci_low:.2f} to "
                     f"{level.ci_high:.2f}), " + (f"p = {level.p_value:.3f}"
                                                  if level.p_value >= 0.001 else "p < 0.001"))
    assert page.locator("#impact-slope").inner_text().startswith("rate ratio ")
    page.get_by_text("Data table of the impact chart").click()
    rows = table_rows(page, "impact-table")
    assert [row[0] for row in rows] == [p.period for p in answer.estimate.series]
    assert [row[4] for row in rows].count("before go-live") == answer.estimate.points_before
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the impact chart's data (CSV)").click()
    downloaded = list(csv.reader(io.StringIO(Path(download.value.path()).read_text())))
    assert downloaded[0] == ["Period", "Observed", "Fitted", "Counterfactual", "Phase"]
    assert downloaded[1:] == rows
    # the chart: a labelled point per observed value, and the go-live rule
    labels = page.eval_on_selector_all(
        "#impact-chart [aria-label]", "marks => marks.map(m => m.getAttribute('aria-label'))")
    assert sum(": observed " in label for label in labels) == len(rows)
    assert f"Go-live {GO_LIVE.isoformat()}" in page.locator("#impact-chart").inner_text()
    assert tab.axe() == []
    assert tab.csp_violations == []
    tab.screenshot("evaluation-site-impact")


def test_without_an_estimate_the_impact_section_says_why_on_the_page(tab, seeded):
    tab.sign_in(token())
    page = tab.open(seeded.evaluation_url("site", seeded.sites[YH].id))
    reason = page.locator("#impact-reason").inner_text()
    assert reason.startswith("No impact estimate yet: ") and "Leeds" in reason, reason
    assert page.locator("#spc-table").count() == 1  # the rest of the page is there
    tab.sign_in(token("viewer"))  # a viewer may not see the small Mixed counts
    page = tab.open(seeded.evaluation_url("site", seeded.sites[GM].id, "ethnicity=Mixed"))
    reason = page.locator("#impact-reason").inner_text()
    assert reason.startswith("The impact estimate is withheld: "), reason
    assert tab.axe() == []


# ----------------------------------------------------------------- live


def test_an_observation_from_the_cli_appears_on_the_open_chart_without_a_reload(
        tab, seeded, module_platform):
    tab.sign_in(token())
    page = tab.open(seeded.evaluation_url(stratum="ethnicity=White"))
    page.evaluate("window.mhinNotReloaded = true")
    assert NEXT_PERIOD not in [row[0] for row in table_rows(page, "spc-table")]
    member = token("arc_member", "greater-manchester")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mhin"), "evaluation", "observations", "submit",
         "--measure", seeded.measure_id, "--site", seeded.sites[GM].id, "--period", NEXT_PERIOD,
         "--stratum", "ethnicity=White", "--numerator", "50", "--denominator", "60"],
        env={**os.environ, "MHIN_TOKEN": member,
             "MHIN_EVALUATION_ADDRESS": module_platform.address("evaluation")},
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    wait_for_row(page, "spc-table", NEXT_PERIOD)
    assert page.evaluate("window.mhinNotReloaded") is True
    assert tab.axe() == []


def test_a_dropped_connection_reconnects_and_catches_up(tab, seeded, module_platform, web,
                                                        eventually):
    tab.sign_in(token())
    page = tab.open(seeded.evaluation_url(stratum="ethnicity=Asian"))
    page.evaluate("window.mhinNotReloaded = true")
    web.stop()  # the connection drops; what happens meanwhile must still reach the page
    module_platform.api("evaluation", "arc_member", YH).SubmitObservation(
        evaluation_pb2.SubmitObservationRequest(observation=evaluation_pb2.Observation(
            measure_id=seeded.measure_id, site_id=seeded.sites[YH].id, period=NEXT_PERIOD,
            stratum="ethnicity=Asian", numerator=20, denominator=24)))
    eventually(lambda: module_platform.api("evaluation", "viewer").GetSeries(
        evaluation_pb2.GetSeriesRequest(series=evaluation_pb2.SeriesKey(
            measure_id=seeded.measure_id, level=aggregate_events_pb2.LEVEL_PROJECT,
            unit=PROJECT, stratum="ethnicity=Asian"))).points[-1].period == NEXT_PERIOD,
        "evaluation holds the new aggregate", WAIT_SECONDS)
    web.start()
    eventually(web.ready, "mhin-web answers /healthz again")
    wait_for_row(page, "spc-table", NEXT_PERIOD)
    assert page.evaluate("window.mhinNotReloaded") is True


def test_the_impact_section_follows_new_observations_too(tab, seeded, module_platform):
    tab.sign_in(token())
    page = tab.open(seeded.evaluation_url("site", seeded.sites[GM].id))
    page.evaluate("window.mhinNotReloaded = true")
    later = "2025-08"  # after every period the other tests submit
    assert later not in [row[0] for row in table_rows(page, "impact-table")]
    module_platform.api("evaluation", "arc_member", GM).SubmitObservation(
        evaluation_pb2.SubmitObservationRequest(observation=evaluation_pb2.Observation(
            measure_id=seeded.measure_id, site_id=seeded.sites[GM].id, period=later,
            stratum="ethnicity=White", numerator=50, denominator=60)))
    wait_for_row(page, "impact-table", later)
    assert page.evaluate("window.mhinNotReloaded") is True
