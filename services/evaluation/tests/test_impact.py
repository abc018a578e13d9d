"""Impact estimation through the real service (real gRPC port, broker and database):
go-live dates kept from project events, GetImpact and GetPooledImpact giving the
statistics' own numbers, comparators, withholding, the refusals, and the live
ImpactEstimated events on their topic."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import grpc
import numpy as np
import pytest
from click.testing import CliRunner, Result

from mhin.common.v1 import arc_pb2, period_pb2
from mhin.evaluation.v1 import (
    aggregate_events_pb2,
    evaluation_pb2,
    impact_events_pb2,
    impact_pb2,
)
from mhin.projects.v1 import project_events_pb2, project_pb2
from mhin_cli.main import cli
from mhin_devkit.harness import TEST_ISSUER, TopicReader
from mhin_evaluation.events import IMPACT_TOPIC
from mhin_measures import its
from mhin_measures.rates import MeasureType
from mhin_platform.tokens import issue_token

pytestmark = pytest.mark.integration

SITE = aggregate_events_pb2.LEVEL_SITE
GM = arc_pb2.ARC_GREATER_MANCHESTER
YH = arc_pb2.ARC_YORKSHIRE_AND_HUMBER
MONTHS = [f"{year}-{month:02d}" for year in (2023, 2024) for month in range(1, 13)]
GO_LIVES = {"Oldham": (2023, 10, 15), "Leeds": (2024, 1, 1), "Bolton": (2024, 4, 30)}


@pytest.fixture(scope="module")
def impact_topic(kafka_bootstrap, declared_topics_created):
    reader = TopicReader(kafka_bootstrap, IMPACT_TOPIC)
    yield reader
    reader.close()


@pytest.fixture(scope="module")
def service(module_evaluation):
    return module_evaluation


def _site(name: str, arc: int, go_live: tuple[int, int, int] | None) -> project_pb2.Site:
    site = project_pb2.Site(id=f"{name.lower()}-{uuid.uuid4().hex[:8]}", name=name,
                            organisation_name=name, arc=arc)
    if go_live:
        site.go_live_date.CopyFrom(period_pb2.Date(year=go_live[0], month=go_live[1],
                                                   day=go_live[2]))
    return site


@pytest.fixture(scope="module")
def staggered(service, impact_topic):
    """A project of three sites going live in turn, a proportion measure and two
    years of each site's monthly aggregates (the true rate ratio at go-live is 1.3),
    plus a site with no go-live date and small counts."""
    sites = [_site("Oldham", GM, GO_LIVES["Oldham"]), _site("Leeds", YH, GO_LIVES["Leeds"]),
             _site("Bolton", GM, GO_LIVES["Bolton"]), _site("Wigan", GM, None)]
    project = project_pb2.Project(id=f"impact-project-{uuid.uuid4().hex[:8]}",
                                  name="Impact test", arcs=[GM, YH],
                                  version=service.above_every_earlier_version(), sites=sites)
    service.publish_project(project)
    service.wait_for_project(project.id, project.version)
    measure = service.define_measure(project.id).id
    rng = np.random.default_rng(2026)
    series: dict[str, list[its.Point]] = {}
    for site in sites[:3]:
        go_live = f"{site.go_live_date.year}-{site.go_live_date.month:02d}"
        points = []
        for index, period in enumerate(MONTHS):
            denominator = float(rng.integers(350, 450))
            rate = 0.2 * np.exp(0.004 * index) * (1.3 if period >= go_live else 1.0)
            numerator = float(rng.binomial(int(denominator), rate))
            points.append(its.Point(period, numerator, denominator))
            owner = arc_pb2.Arc.Name(site.arc).removeprefix("ARC_")
            service.publish_aggregate(measure, SITE, site.id, period, numerator, denominator,
                                      owner_arc=owner)
        series[site.id] = points
    wigan = sites[3]
    for period in MONTHS:  # counts of 1 to 4: suppressed outside Greater Manchester
        service.publish_aggregate(measure, SITE, wigan.id, period, 2, 40,
                                  owner_arc="GREATER_MANCHESTER")
    last = sites[0].id
    service.wait_for_aggregate(evaluation_pb2.SeriesKey(measure_id=measure, level=SITE,
                                                        unit=wigan.id), MONTHS[-1], 2)
    service.wait_for_aggregate(evaluation_pb2.SeriesKey(measure_id=measure, level=SITE,
                                                        unit=last), MONTHS[-1],
                               series[last][-1].numerator)
    return project, measure, series


def impact_request(measure: str, site: str, **options: Any) -> evaluation_pb2.GetImpactRequest:
    comparators = options.pop("comparators", None)
    request = evaluation_pb2.GetImpactRequest(
        series=evaluation_pb2.SeriesKey(measure_id=measure, level=SITE, unit=site),
        options=impact_pb2.ImpactOptions(**options))
    if comparators is not None:
        request.comparators.CopyFrom(comparators)
    return request


def refused(call: Callable[[], object]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def test_go_live_dates_are_kept_from_project_events(service, staggered):
    project, _, _ = staggered
    known = {site.name: site.go_live_date for site in service.sites_of(project.id).sites}
    assert (known["Oldham"].year, known["Oldham"].month, known["Oldham"].day) == (2023, 10, 15)
    assert not known["Wigan"].year


def test_get_impact_gives_the_statistics_numbers_with_the_series(service, staggered):
    project, measure, series = staggered
    oldham = next(s for s in project.sites if s.name == "Oldham")
    response = service.api().GetImpact(impact_request(
        measure, oldham.id, change=impact_pb2.IMPACT_CHANGE_LEVEL, harmonics=1))
    expected = its.fit_series(series[oldham.id], "2023-10", MeasureType.PROPORTION,
                              its.Options(change=its.Change.LEVEL, harmonics=1),
                              multiplier=100)
    estimate = response.estimate
    assert not response.withheld
    assert estimate.model == impact_pb2.IMPACT_MODEL_QUASI_POISSON_OFFSET
    assert (estimate.points_before, estimate.points_after) == (9, 15)
    assert estimate.go_live_period == "2023-10"
    assert estimate.level_change.estimate == pytest.approx(expected.level_change.estimate)
    assert estimate.level_change.ci_low == pytest.approx(expected.level_change.ci_low)
    assert estimate.level_change.scale == impact_pb2.EFFECT_SCALE_RATE_RATIO
    assert not estimate.HasField("slope_change")
    assert estimate.dispersion == pytest.approx(expected.dispersion)
    assert [p.period for p in estimate.series] == MONTHS
    first = estimate.series[0]
    assert first.observed == pytest.approx(series[oldham.id][0].numerator
                                           / series[oldham.id][0].denominator * 100)
    assert estimate.series[-1].fitted / estimate.series[-1].counterfactual == pytest.approx(
        estimate.level_change.estimate)


def test_a_controlled_estimate_uses_the_sites_not_yet_live(service, staggered):
    project, measure, series = staggered
    oldham, leeds, wigan = (next(s for s in project.sites if s.name == name)
                            for name in ("Oldham", "Leeds", "Wigan"))
    # Every site but Wigan goes live within the two years: Wigan is the comparator.
    request = impact_request(measure, oldham.id, change=impact_pb2.IMPACT_CHANGE_LEVEL,
                             comparators=evaluation_pb2.ImpactComparators(auto=True))
    controlled = service.api().GetImpact(request).controlled
    assert list(controlled.comparator_site_ids) == [wigan.id]
    wigan_points = [its.Point(period, 2, 40) for period in MONTHS]
    expected = its.fit_controlled(series[oldham.id], wigan_points, "2023-10",
                                  MeasureType.PROPORTION, its.Options(change=its.Change.LEVEL))
    assert controlled.level_ratio.estimate == pytest.approx(expected.level_ratio.estimate)
    assert controlled.points == 48
    # A viewer may not see Wigan's small counts: no controlled estimate for them.
    error = refused(lambda: service.api("viewer").GetImpact(request))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "withheld" in error.details()
    # Naming a comparator that went live within the series is refused, naming it.
    error = refused(lambda: service.api().GetImpact(impact_request(
        measure, oldham.id, comparators=evaluation_pb2.ImpactComparators(
            site_ids=[leeds.id]))))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "comparators.site_ids.0" in error.details()


def test_pooled_impact_combines_the_sites(service, staggered):
    project, measure, series = staggered
    response = service.api().GetPooledImpact(evaluation_pb2.GetPooledImpactRequest(
        project_id=project.id, measure_id=measure,
        options=impact_pb2.ImpactOptions(change=impact_pb2.IMPACT_CHANGE_LEVEL)))
    by_name = {site.name: site for site in response.sites}
    assert by_name["Wigan"].not_estimable_reason.endswith("has no go-live date")
    options = its.Options(change=its.Change.LEVEL)
    go_lives = {site.id: f"{site.go_live_date.year}-{site.go_live_date.month:02d}"
                for site in project.sites if site.go_live_date.year}
    estimates = [its.fit_series(series[s], go_lives[s], MeasureType.PROPORTION, options)
                 for s in series]
    random = its.random_effects(estimates)
    fixed = its.site_fixed_effects([(s, series[s], go_lives[s]) for s in series],
                                   MeasureType.PROPORTION, options)
    pooled = response.pooled
    assert pooled.random_effects.level_change.estimate == pytest.approx(
        random.level_change.estimate)
    assert pooled.random_effects.sites == 3
    assert pooled.random_effects.tau2 == pytest.approx(random.tau2)
    assert pooled.site_fixed_effects.level_change.estimate == pytest.approx(
        fixed.level_change.estimate)
    low, high = (pooled.site_fixed_effects.level_change.ci_low,
                 pooled.site_fixed_effects.level_change.ci_high)
    assert low < 1.3 < high


def test_an_estimate_on_suppressed_values_is_withheld_from_those_who_may_not_see_them(
        service, staggered):
    project, measure, _ = staggered
    wigan = next(s for s in project.sites if s.name == "Wigan")
    key = evaluation_pb2.SeriesKey(measure_id=measure, level=SITE, unit=wigan.id)
    request = evaluation_pb2.GetImpactRequest(series=key)
    # Wigan has no go-live date: refused, naming the site, for whoever asks.
    error = refused(lambda: service.api().GetImpact(request))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert wigan.id in error.details() and "go-live" in error.details()
    pooled = service.api("viewer").GetPooledImpact(evaluation_pb2.GetPooledImpactRequest(
        project_id=project.id, measure_id=measure))
    assert pooled.withheld and "suppressed" in pooled.withheld_reason
    assert not pooled.sites and not pooled.HasField("pooled")


def test_bad_requests_name_what_is_wrong(service, staggered):
    project, measure, _ = staggered
    oldham = next(s for s in project.sites if s.name == "Oldham").id
    api = service.api()
    cases = [
        (impact_request("no-such-measure", oldham), grpc.StatusCode.NOT_FOUND, "no-such-measure"),
        (impact_request(measure, "no-such-site"), grpc.StatusCode.NOT_FOUND, "no-such-site"),
        (impact_request(measure, oldham, harmonics=7), grpc.StatusCode.INVALID_ARGUMENT,
         "options.harmonics"),
        (impact_request(measure, oldham, exclude_after=-1), grpc.StatusCode.INVALID_ARGUMENT,
         "options.exclude_after"),
        (impact_request(measure, oldham, exclude_after=14), grpc.StatusCode.FAILED_PRECONDITION,
         "9 period(s) with a value before go-live (2023-10) and 1 after"),
    ]
    for request, code, text in cases:
        error = refused(lambda r=request: api.GetImpact(r))
        assert (error.code(), text in error.details()) == (code, True), error.details()
    project_level = evaluation_pb2.GetImpactRequest(series=evaluation_pb2.SeriesKey(
        measure_id=measure, level=aggregate_events_pb2.LEVEL_PROJECT, unit=project.id))
    error = refused(lambda: api.GetImpact(project_level))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "series.level" in error.details()
    error = refused(lambda: api.GetPooledImpact(evaluation_pb2.GetPooledImpactRequest(
        project_id="no-such-project", measure_id=measure)))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def _latest(events, key: str) -> impact_events_pb2.ImpactEstimated | None:
    matching = [e for e in events if e.key == key]
    return impact_events_pb2.ImpactEstimated.FromString(matching[-1].data) if matching else None


def test_estimates_are_published_live_and_follow_a_changed_go_live_date(
        service, staggered, impact_topic):
    project, measure, series = staggered
    leeds = next(s for s in project.sites if s.name == "Leeds")
    site_key = f"{measure}|site|{leeds.id}|"
    expected = service.api().GetImpact(impact_request(measure, leeds.id)).estimate

    def current(key: str, check: Callable[[impact_events_pb2.ImpactEstimated], bool]) -> bool:
        latest = _latest(impact_topic.events, key)
        return latest is not None and check(latest)

    impact_topic.wait_for(lambda _: current(site_key, lambda m: m.estimate.level_change.estimate
                                            == expected.level_change.estimate),
                          timeout=30, what="Leeds' estimate as GetImpact gives it")
    published = _latest(impact_topic.events, site_key)
    assert published.scope == impact_events_pb2.IMPACT_SCOPE_SITE
    assert published.estimate.series == expected.series
    # The pooled estimate is published for a shared audience: Wigan's small counts
    # are suppressed there, so it is withheld, and marked so.
    pooled_key = f"{measure}|project|{project.id}|"
    impact_topic.wait_for(lambda _: current(pooled_key, lambda m: m.withheld), timeout=30,
                          what="the pooled estimate, withheld")
    assert not _latest(impact_topic.events, pooled_key).HasField("pooled")

    # Leeds' go-live date moves to April 2024: its estimate is recomputed.
    moved = project_pb2.Project()
    moved.CopyFrom(project)
    moved.version = service.above_every_earlier_version()
    for site in moved.sites:
        if site.id == leeds.id:
            site.go_live_date.CopyFrom(period_pb2.Date(year=2024, month=4, day=1))
    service.publish_project(moved, project_events_pb2.ProjectSiteUpdated)
    impact_topic.wait_for(lambda _: current(site_key, lambda m: m.estimate.go_live_period
                                            == "2024-04"), timeout=30,
                          what="Leeds' estimate at its new go-live date")
    again = service.api().GetImpact(impact_request(measure, leeds.id)).estimate
    assert _latest(impact_topic.events, site_key).estimate.level_change == again.level_change


def _cli(service: Any, *args: str, role: str = "national_admin") -> Result:
    env = {"MHIN_TOKEN": issue_token(TEST_ISSUER, "cli-test", role, None),
           "MHIN_EVALUATION_ADDRESS": f"127.0.0.1:{service.runtime.port}"}
    return CliRunner().invoke(cli, ["evaluation", *args], env=env)


def test_the_cli_prints_the_same_numbers_as_json_and_readably(service, staggered):
    project, measure, _ = staggered
    oldham = next(s for s in project.sites if s.name == "Oldham").id
    result = _cli(service, "impact", measure, "--level", "site", "--unit", oldham,
                  "--change", "level", "--harmonics", "1", "--json")
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    response = service.api().GetImpact(impact_request(
        measure, oldham, change=impact_pb2.IMPACT_CHANGE_LEVEL, harmonics=1))
    assert printed["level_change"] == {
        "estimate": response.estimate.level_change.estimate,
        "ci_low": response.estimate.level_change.ci_low,
        "ci_high": response.estimate.level_change.ci_high,
        "p_value": response.estimate.level_change.p_value, "scale": "rate_ratio"}
    assert printed["slope_change"] is None
    assert (printed["points_before"], printed["points_after"]) == (9, 15)
    assert {"model", "dispersion", "autocorrelation"} <= set(printed)
    assert [p["period"] for p in printed["series"]] == MONTHS
    assert set(printed["series"][0]) >= {"observed", "fitted", "counterfactual"}

    readable = _cli(service, "impact", measure, "--unit", oldham, "--change", "level",
                    "--harmonics", "1")
    assert f"rate ratio {response.estimate.level_change.estimate:.3f}" in readable.output
    assert "slope change: not fitted" in readable.output

    pooled = _cli(service, "impact-pooled", project.id, measure, "--change", "level", "--json")
    assert pooled.exit_code == 0, pooled.output
    found = json.loads(pooled.output)
    assert {site["name"] for site in found["sites"]} == {"Oldham", "Leeds", "Bolton", "Wigan"}
    assert set(found["pooled"]["random_effects"]) >= {"level_change", "tau2", "i2"}
    assert found["pooled"]["site_fixed_effects"]["level_change"]["scale"] == "rate_ratio"

    bad = _cli(service, "impact", measure, "--unit", oldham, "--harmonics", "9")
    assert bad.exit_code != 0 and "options.harmonics" in bad.output


def test_pooled_by_ethnic_group_and_the_ratio_between_groups(service, staggered):
    """Black and White groups' series at each site: the Black group's rate rises 1.5
    times at go-live, the White group's 1.1 times: the gap narrows by about 1.36."""
    project, measure, _ = staggered
    rng = np.random.default_rng(99)
    live = [s for s in project.sites if s.go_live_date.year]
    # As evaluation knows them now (an earlier test moved Leeds' go-live date).
    go_lives = {s.site_id: s.go_live_date for s in service.sites_of(project.id).sites}
    expected: dict[str, list[its.Estimate]] = {}
    for group, change in (("Black", 1.5), ("White", 1.1)):
        stratum = f"ethnicity={group}"
        for site in live:
            date = go_lives[site.id]
            go_live = f"{date.year}-{date.month:02d}"
            points = []
            for index, period in enumerate(MONTHS):
                denominator = float(rng.integers(250, 300))
                rate = 0.15 * np.exp(0.003 * index) * (change if period >= go_live else 1.0)
                numerator = float(rng.binomial(int(denominator), rate))
                points.append(its.Point(period, numerator, denominator))
                service.publish_aggregate(measure, SITE, site.id, period, numerator,
                                          denominator, stratum=stratum,
                                          owner_arc=arc_pb2.Arc.Name(site.arc)[4:])
            expected.setdefault(group, []).append(its.fit_series(
                points, go_live, MeasureType.PROPORTION, its.Options()))
        service.wait_for_aggregate(evaluation_pb2.SeriesKey(
            measure_id=measure, level=SITE, unit=live[-1].id, stratum=stratum),
            MONTHS[-1], points[-1].numerator)
    request = evaluation_pb2.GetPooledImpactRequest(
        project_id=project.id, measure_id=measure, stratum="ethnicity=black",
        reference_stratum="ethnicity=White")
    response = service.api().GetPooledImpact(request)
    ratio = its.ratio_of_effects(its.random_effects(expected["Black"]).level_change,
                                 its.random_effects(expected["White"]).level_change)
    assert (response.stratum, response.reference_stratum) == ("ethnicity=Black",
                                                              "ethnicity=White")
    assert response.ratio_to_reference.estimate == pytest.approx(ratio.estimate)
    assert response.ratio_to_reference.ci_low == pytest.approx(ratio.ci_low)
    request.reference_stratum = "ethnicity=Martian"
    error = refused(lambda: service.api().GetPooledImpact(request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "reference_stratum" in error.details()


def test_a_sites_spc_chart_is_rebased_at_its_go_live_date(service, staggered):
    project, measure, series = staggered
    oldham = next(s for s in project.sites if s.name == "Oldham").id
    key = evaluation_pb2.SeriesKey(measure_id=measure, level=SITE, unit=oldham)
    chart = service.api().GetSpc(evaluation_pb2.GetSpcRequest(series=key))
    assert [(s.start_period, s.points) for s in chart.segments] == [("2023-01", 9),
                                                                   ("2023-10", 15)]
    after = [p.numerator / p.denominator * 100 for p in series[oldham][9:]]
    assert chart.mean == pytest.approx(sum(after) / len(after))  # the latest segment's
    assert {p.segment for p in chart.points[9:]} == {1} and not chart.screened
    whole = service.api().GetSpc(evaluation_pb2.GetSpcRequest(series=key, no_rebase=True))
    assert len(whole.segments) == 1 and whole.segments[0].points == 24
    fixed = service.api().GetSpc(evaluation_pb2.GetSpcRequest(
        series=key, rebase_periods=["2023-07"], fix_after_n_points=3, screen_outliers=True))
    assert [(s.start_period, s.baseline_points) for s in fixed.segments] == [
        ("2023-01", 3), ("2023-07", 3)]
    assert fixed.screened and fixed.fix_after_n_points == 3
    error = refused(lambda: service.api().GetSpc(evaluation_pb2.GetSpcRequest(
        series=key, rebase_periods=["2023-Q3"])))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "rebase_periods.0" in error.details()
    error = refused(lambda: service.api().GetSpc(evaluation_pb2.GetSpcRequest(
        series=key, fix_after_n_points=1)))
    assert "fix_after_n_points" in error.details()
    readable = _cli(service, "spc", measure, "--level", "site", "--unit", oldham)
    assert "from 2023-10: mean" in readable.output and "unscreened" in readable.output
