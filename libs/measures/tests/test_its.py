"""Interrupted time series: the published worked example, coverage of the intervals
on simulated series with a known effect, and the refusals."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from mhin_measures import its
from mhin_measures.its import Change, ImpactNotEstimable, ImpactOptionError, Options, Point
from mhin_measures.periods import Granularity, Period
from mhin_measures.rates import MeasureType

DATA = Path(__file__).parent / "data"


def sicily() -> list[Point]:
    """Lopez Bernal, Cummins & Gasparrini (2017), Int J Epidemiol 46:348: acute
    coronary events in Sicily, 2002-01 to 2006-11, smoking ban from January 2005,
    the age-standardised population as denominator (the tutorial's public data)."""
    with (DATA / "sicily.csv").open() as handle:
        return [Point(f"{row['year']}-{int(row['month']):02d}", float(row["aces"]),
                      float(row["stdpop"])) for row in csv.DictReader(handle)]


# The tutorial's published R code (quasipoisson glm, Epi::ci.exp) on its data.
# Step 5a of the paper: step change, quasi-Poisson; 5c: with 2 harmonic pairs;
# the code's additional model: step and slope change with 2 harmonic pairs; and the
# same without seasonality.
WORKED = [
    (Options(change=Change.LEVEL), (0.894, 0.839, 0.953), None),
    (Options(change=Change.LEVEL, harmonics=2), (0.885, 0.839, 0.933), None),
    (Options(change=Change.LEVEL_SLOPE, harmonics=2), (0.876, 0.827, 0.929),
     (1.001, 0.998, 1.005)),
    (Options(change=Change.LEVEL_SLOPE), (0.892, 0.832, 0.957), (1.000, 0.996, 1.005)),
]


@pytest.mark.parametrize(("options", "level", "slope"), WORKED)
def test_the_tutorials_worked_example_to_three_decimals(options, level, slope) -> None:
    estimate = its.fit_series(sicily(), "2005-01", MeasureType.RATIO, options)
    got = estimate.level_change
    assert (round(got.estimate, 3), round(got.ci_low, 3), round(got.ci_high, 3)) == level
    assert got.scale is its.Scale.RATE_RATIO
    if slope is None:
        assert estimate.slope_change is None
    else:
        change = estimate.slope_change
        assert (round(change.estimate, 3), round(change.ci_low, 3),
                round(change.ci_high, 3)) == slope
    assert (estimate.points_before, estimate.points_after) == (36, 23)
    assert estimate.model is its.Model.QUASI_POISSON_OFFSET


def test_the_worked_examples_dispersion_fit_and_counterfactual() -> None:
    estimate = its.fit_series(sicily(), "2005-01", MeasureType.RATIO,
                              Options(change=Change.LEVEL, harmonics=2), multiplier=100_000)
    assert estimate.dispersion == pytest.approx(2.262186, abs=1e-5)
    first, last = estimate.series[0], estimate.series[-1]
    assert first.period == "2002-01" and last.period == "2006-11"
    assert first.observed == pytest.approx(728 / 379875.3 * 100_000)
    # Before go-live the counterfactual is the fit; after it, the fit is the
    # counterfactual times the level change.
    assert first.fitted == pytest.approx(first.counterfactual)
    assert last.fitted / last.counterfactual == pytest.approx(estimate.level_change.estimate)
    assert 0 < estimate.autocorrelation.ljung_box_p <= 1
    assert 0 < estimate.autocorrelation.durbin_watson < 4


def _simulated_site(rng, n_before=24, n_after=24, level=0.8, base=0.05, trend=0.002,
                    exposure=4000.0, shift=0, start=2020) -> tuple[list[Point], str]:
    periods = _months(start, n_before + n_after)
    t = np.arange(len(periods))
    post = t >= n_before + shift
    denominators = rng.integers(int(exposure * 0.8), int(exposure * 1.2), len(t))
    mean = denominators * base * np.exp(trend * t + np.log(level) * post)
    counts = rng.poisson(mean)
    points = [Point(p, float(c), float(d)) for p, c, d in zip(periods, counts, denominators,
                                                              strict=True)]
    return points, periods[n_before + shift]


def _months(start_year: int, count: int) -> list[str]:
    period = Period(__import__("datetime").date(start_year, 1, 1), Granularity.MONTH)
    out = []
    for _ in range(count):
        out.append(period.id)
        period = period.next()
    return out


def test_single_site_intervals_cover_the_true_rate_ratio_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(20261204)
    true, covered, runs = 0.8, 0, 500
    for _ in range(runs):
        points, go_live = _simulated_site(rng, level=true)
        effect = its.fit_series(points, go_live, MeasureType.PROPORTION).level_change
        covered += effect.ci_low <= true <= effect.ci_high
    assert 0.93 <= covered / runs <= 0.97


def test_pooled_intervals_cover_the_true_rate_ratio_95_percent_of_the_time() -> None:
    """Six sites with staggered go-live dates (a stepped wedge), one true effect."""
    rng = np.random.default_rng(7)
    true, runs = 0.85, 500
    covered = {"random": 0, "fixed": 0}
    for _ in range(runs):
        sites = []
        for number in range(6):
            points, go_live = _simulated_site(rng, n_before=12 + 2 * number,
                                              n_after=30 - 2 * number, level=true,
                                              base=0.04 + 0.005 * number, exposure=2000.0)
            sites.append((f"site-{number}", points, go_live))
        options = Options(change=Change.LEVEL)
        estimates = [its.fit_series(p, g, MeasureType.PROPORTION, options) for _, p, g in sites]
        pooled = its.random_effects(estimates).level_change
        fixed = its.site_fixed_effects(sites, MeasureType.PROPORTION, options).level_change
        covered["random"] += pooled.ci_low <= true <= pooled.ci_high
        covered["fixed"] += fixed.ci_low <= true <= fixed.ci_high
    assert 0.93 <= covered["random"] / runs <= 0.97
    assert 0.93 <= covered["fixed"] / runs <= 0.97


def test_a_count_is_modelled_without_offset_and_a_mean_by_ols_with_hac_errors() -> None:
    rng = np.random.default_rng(3)
    periods = _months(2021, 30)
    counts = [Point(p, float(rng.poisson(40 if i < 15 else 28))) for i, p in enumerate(periods)]
    count = its.fit_series(counts, periods[15], MeasureType.COUNT, Options(change="level"))
    assert count.model is its.Model.QUASI_POISSON
    assert count.level_change.ci_low < 0.7 < count.level_change.ci_high
    means = [Point(p, float(rng.normal(5 if i < 15 else 7, 0.5)) * 10, 10.0)
             for i, p in enumerate(periods)]
    mean = its.fit_series(means, periods[15], MeasureType.MEAN, Options(change="level"))
    assert mean.model is its.Model.OLS_HAC
    assert mean.level_change.scale is its.Scale.DIFFERENCE
    assert mean.level_change.ci_low < 2 < mean.level_change.ci_high


def test_phase_in_periods_are_left_out_of_the_fit_but_shown() -> None:
    estimate = its.fit_series(sicily(), "2005-01", MeasureType.RATIO,
                              Options(change="level", exclude_after=3))
    assert estimate.points_after == 20
    excluded = [p.period for p in estimate.series if p.excluded]
    assert excluded == ["2005-01", "2005-02", "2005-03"]


def test_controlled_its_against_a_comparator_that_did_not_change() -> None:
    rng = np.random.default_rng(11)
    site, go_live = _simulated_site(rng, level=0.7, exposure=20000)
    control, _ = _simulated_site(rng, level=1.0, exposure=60000)
    result = its.fit_controlled(site, control, go_live, MeasureType.PROPORTION,
                                Options(change="level"), comparators=["b", "c"])
    assert result.level_ratio.ci_low < 0.7 < result.level_ratio.ci_high
    assert result.comparators == ("b", "c") and result.slope_ratio is None


def test_random_effects_report_heterogeneity_and_strata_contrast() -> None:
    rng = np.random.default_rng(5)
    estimates = [its.fit_series(*_simulated_site(rng, level=level, exposure=20000),
                                MeasureType.PROPORTION, Options(change="level"))
                 for level in (0.6, 0.9, 1.1)]
    pooled = its.random_effects(estimates)
    assert pooled.tau2 > 0 and 0 < pooled.i2 < 1 and pooled.sites == 3
    ratio = its.ratio_of_effects(estimates[0].level_change, estimates[2].level_change)
    assert ratio.estimate == pytest.approx(estimates[0].level_change.estimate
                                           / estimates[2].level_change.estimate)
    assert ratio.std_error == pytest.approx(math.hypot(estimates[0].level_change.std_error,
                                                       estimates[2].level_change.std_error))


@pytest.mark.parametrize(("options", "option"), [
    (Options(change="slope"), "change"),
    (Options(harmonics=-1), "harmonics"),
    (Options(harmonics=6), "harmonics"),
    (Options(exclude_after=99), "exclude_after"),
])
def test_bad_options_name_the_option(options, option) -> None:
    with pytest.raises(ImpactOptionError) as raised:
        its.fit_series(sicily(), "2005-01", MeasureType.RATIO, options)
    assert raised.value.option == option


def test_too_few_points_name_the_counts() -> None:
    with pytest.raises(ImpactNotEstimable, match="36 period.*before.*and 2 after"):
        its.fit_series(sicily()[:38], "2005-01", MeasureType.RATIO, label="site x")


def test_degenerate_series_are_refused_clearly() -> None:
    periods = _months(2022, 12)
    zeros = [Point(p, 0.0, 100.0) for p in periods]
    with pytest.raises(ImpactNotEstimable, match="zero in every period"):
        its.fit_series(zeros, periods[6], MeasureType.PROPORTION)
    no_denominator = [Point(p, 0.0, 0.0) for p in periods]
    with pytest.raises(ImpactNotEstimable, match="0 period"):
        its.fit_series(no_denominator, periods[6], MeasureType.PROPORTION)
    constant = [Point(p, 50.0, 10.0) for p in periods]
    with pytest.raises(ImpactNotEstimable, match="same value"):
        its.fit_series(constant, periods[6], MeasureType.MEAN)
