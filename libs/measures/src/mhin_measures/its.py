"""Impact estimation: interrupted time series (segmented regression), controlled
interrupted time series, pooled and stratified estimates. Pure: numbers in, numbers
out, no I/O. The fitting is statsmodels'; this module builds the designs and reads
the results. docs/evaluation-methods.md explains the models and how to read them.

The model of one series around a go-live period ``g`` (Wagner et al. 2002; Lopez
Bernal, Cummins & Gasparrini 2017), with ``t`` the period's index:

    link(E[y_t]) = b0 + b1 t + b2 post_t [+ b3 (t - g + 1) post_t] [+ Fourier terms]

where ``post_t`` is 1 from the go-live period on (the period containing go-live is
the first one after it) and the Fourier terms are K pairs sin/cos(2 pi k s / L) of
the period's position ``s`` in its year (L = 12 months or 4 quarters).

- PROPORTION and RATIO: Poisson GLM of the summed numerator with log(denominator)
  as offset, dispersion estimated as Pearson chi^2 / df (quasi-Poisson); effects are
  rate ratios exp(b).
- COUNT: the same without offset.
- MEAN: ordinary least squares of the value with Newey-West (HAC) standard errors;
  effects are differences.

Confidence intervals are Wald intervals with the normal quantile (as R's
``Epi::ci.exp`` of a ``quasipoisson`` fit, which the tutorial uses).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np
from scipy.stats import norm
from scipy.stats import t as t_dist
from statsmodels.genmod.families import Poisson
from statsmodels.genmod.generalized_linear_model import GLM
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.stats.meta_analysis import combine_effects
from statsmodels.stats.stattools import durbin_watson
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from mhin_measures.periods import Granularity, Period, parse_period
from mhin_measures.rates import MeasureType

MIN_POINTS_EACH_SIDE = 3
"""Cochrane EPOC: at least 3 points before and 3 after the change."""

MAX_EXCLUDE_AFTER = 24
_Z95 = 1.959963984540054
_SEASON_LENGTH = {Granularity.MONTH: 12, Granularity.QUARTER: 4, Granularity.YEAR: 1}
_MONTHS = {Granularity.MONTH: 1, Granularity.QUARTER: 3, Granularity.YEAR: 12}


class Change(StrEnum):
    """Which change terms the model has."""

    LEVEL = "level"
    LEVEL_SLOPE = "level+slope"


class Model(StrEnum):
    QUASI_POISSON_OFFSET = "quasi-Poisson GLM, log(denominator) offset"
    QUASI_POISSON = "quasi-Poisson GLM"
    OLS_HAC = "OLS, Newey-West (HAC) standard errors"


class Scale(StrEnum):
    RATE_RATIO = "rate_ratio"
    DIFFERENCE = "difference"


class ImpactOptionError(ValueError):
    """A bad option; ``option`` names it."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message


class ImpactNotEstimable(ValueError):
    """The data cannot give an estimate (too few points, a degenerate series, a
    model that does not converge): the message says which and why."""


@dataclass(frozen=True)
class Options:
    change: Change = Change.LEVEL_SLOPE
    harmonics: int = 0
    """K pairs of Fourier terms of the period's position in its year."""
    exclude_after: int = 0
    """Periods from go-live on left out of the fit (phase-in)."""

    def checked(self, granularity: Granularity) -> Options:
        change = _option(Change, self.change, "change")
        if not isinstance(self.harmonics, int) or self.harmonics < 0:
            raise ImpactOptionError("harmonics", f"must be a whole number >= 0, not "
                                    f"{self.harmonics!r}")
        length = _SEASON_LENGTH[granularity]
        if self.harmonics and 2 * self.harmonics >= length:
            most = (length - 1) // 2
            raise ImpactOptionError("harmonics", f"a {granularity} series has at most {most} "
                                    f"harmonic pair(s) of its {length}-period year, not "
                                    f"{self.harmonics}")
        if not isinstance(self.exclude_after, int) or not 0 <= self.exclude_after <= \
                MAX_EXCLUDE_AFTER:
            raise ImpactOptionError("exclude_after", f"must be 0 to {MAX_EXCLUDE_AFTER} "
                                    f"periods, not {self.exclude_after!r}")
        return replace(self, change=change)


def _option(kind: type[Change], value: Change | str, name: str) -> Change:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise ImpactOptionError(name, f"{value!r} is not one of {choices}") from None


@dataclass(frozen=True)
class Point:
    """One period of a series: summed numerator and denominator (None for a COUNT)."""

    period: str
    numerator: float
    denominator: float | None = None


@dataclass(frozen=True)
class Effect:
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    scale: Scale
    log_estimate: float = field(repr=False, default=0.0)
    """The coefficient (log rate ratio, or the difference itself) and its standard
    error: what pooling and contrasts work on."""
    std_error: float = field(repr=False, default=0.0)


@dataclass(frozen=True)
class FittedPeriod:
    period: str
    observed: float | None
    """The measure's value (None when undefined: a zero denominator)."""
    fitted: float | None
    counterfactual: float | None
    """The model with the change terms set to zero: the series had nothing changed."""
    after: bool
    excluded: bool
    """Not in the fit: a phase-in period, or an undefined value."""


@dataclass(frozen=True)
class Autocorrelation:
    durbin_watson: float
    ljung_box_p: float
    ljung_box_lags: int


@dataclass(frozen=True)
class Estimate:
    model: Model
    go_live_period: str
    points_before: int
    points_after: int
    dispersion: float
    level_change: Effect
    slope_change: Effect | None
    autocorrelation: Autocorrelation
    series: tuple[FittedPeriod, ...]
    options: Options


# ----------------------------------------------------------------- one series


@dataclass(frozen=True)
class _Design:
    """The rows of a series that the model sees, and every row for prediction."""

    periods: list[str]
    times: np.ndarray
    seasons: np.ndarray
    y: np.ndarray
    exposure: np.ndarray | None
    defined: np.ndarray
    after: np.ndarray
    excluded: np.ndarray


def _prepare(points: Sequence[Point], go_live: str, measure_type: MeasureType,
             options: Options, label: str) -> tuple[_Design, int, Period]:
    if not points:
        raise ImpactNotEstimable(f"{label} has no data")
    ordered = sorted(points, key=lambda p: parse_period(p.period))
    first = parse_period(ordered[0].period)
    granularity = first.granularity
    start = parse_period(go_live)
    if start.granularity is not granularity:
        raise ImpactOptionError("go_live", f"{go_live} is not a {granularity}")
    g = _index(start)
    times = np.array([_index(parse_period(p.period)) for p in ordered], dtype=float)
    seasons = np.array([_season(parse_period(p.period)) for p in ordered], dtype=float)
    numerators = np.array([float(p.numerator) for p in ordered])
    if measure_type is MeasureType.COUNT:
        exposure = None
        defined = np.ones(len(ordered), dtype=bool)
        y = numerators
    else:
        denominators = np.array([float(p.denominator or 0.0) for p in ordered])
        defined = denominators > 0
        exposure = denominators
        y = numerators if measure_type is not MeasureType.MEAN else np.divide(
            numerators, denominators, out=np.zeros_like(numerators), where=defined)
    after = times >= g
    phase_in = after & (times < g + options.exclude_after)
    excluded = phase_in | ~defined
    design = _Design([p.period for p in ordered], times, seasons, y, exposure, defined,
                     after, excluded)
    used = ~excluded
    before_n = int((used & ~after).sum())
    after_n = int((used & after).sum())
    if before_n < MIN_POINTS_EACH_SIDE or after_n < MIN_POINTS_EACH_SIDE:
        raise ImpactNotEstimable(
            f"{label} has {before_n} period(s) with a value before go-live ({go_live}) and "
            f"{after_n} after it{' (phase-in left out)' if options.exclude_after else ''}: "
            f"an interrupted time series needs at least {MIN_POINTS_EACH_SIDE} on each side")
    if not np.any(y[used] != 0):
        raise ImpactNotEstimable(f"{label} is zero in every period: there is no change to "
                                 "estimate")
    return design, int(g), start


def _index(period: Period) -> int:
    months = period.start.year * 12 + period.start.month - 1
    return months // _MONTHS[period.granularity]


def _season(period: Period) -> int:
    return (period.start.month - 1) // _MONTHS[period.granularity] + 1


def _columns(times: np.ndarray, seasons: np.ndarray, after: np.ndarray, g: int,
             options: Options, length: int, *, changes: bool = True) -> list[np.ndarray]:
    """Columns after the intercept: time, level, [slope], Fourier pairs. With
    ``changes`` False the change columns are zero (the counterfactual)."""
    post = after.astype(float) if changes else np.zeros_like(times)
    columns = [times - g, post]
    if options.change is Change.LEVEL_SLOPE:
        # Periods since go-live counting the go-live period as 1 (Wagner et al. 2002 and
        # the tutorial's code), so the level change is read one period in.
        columns.append((times - g + 1) * post)
    for k in range(1, options.harmonics + 1):
        angle = 2 * math.pi * k * seasons / length
        columns += [np.sin(angle), np.cos(angle)]
    return columns


def fit_series(points: Sequence[Point], go_live: str, measure_type: MeasureType,
               options: Options = Options(), multiplier: float = 1.0,
               label: str = "the series") -> Estimate:
    """The interrupted time series estimate of one series. ``go_live`` is the period
    id of the first period after the change. ImpactOptionError for a bad option,
    ImpactNotEstimable when the data cannot give an estimate."""
    measure_type = MeasureType(measure_type)
    granularity = parse_period(go_live).granularity
    options = options.checked(granularity)
    design, g, _ = _prepare(points, go_live, measure_type, options, label)
    length = _SEASON_LENGTH[granularity]
    X_all = _matrix(_columns(design.times, design.seasons, design.after, g, options, length))
    X_cf = _matrix(_columns(design.times, design.seasons, design.after, g, options, length,
                            changes=False))
    used = ~design.excluded
    fit = _fit(design.y[used], X_all[used],
               None if design.exposure is None or measure_type is MeasureType.MEAN
               else design.exposure[used], measure_type, label)
    level = _effect(fit, 2, measure_type)
    slope = _effect(fit, 3, measure_type) if options.change is Change.LEVEL_SLOPE else None
    fitted = _predict(fit.params, X_all, design, measure_type, multiplier)
    counterfactual = _predict(fit.params, X_cf, design, measure_type, multiplier)
    observed = _observed(design, measure_type, multiplier)
    series = tuple(
        FittedPeriod(period, observed[i], fitted[i], counterfactual[i], bool(design.after[i]),
                     bool(design.excluded[i]))
        for i, period in enumerate(design.periods)
    )
    return Estimate(
        model=_model_of(measure_type), go_live_period=go_live,
        points_before=int((used & ~design.after).sum()),
        points_after=int((used & design.after).sum()),
        dispersion=float(fit.scale), level_change=level, slope_change=slope,
        autocorrelation=_autocorrelation(fit.residuals),
        series=series, options=options,
    )


def _matrix(columns: list[np.ndarray]) -> np.ndarray:
    return np.column_stack([np.ones_like(columns[0]), *columns])


@dataclass(frozen=True)
class _Fit:
    params: np.ndarray
    bse: np.ndarray
    pvalues: np.ndarray
    scale: float
    residuals: np.ndarray


def _model_of(measure_type: MeasureType) -> Model:
    if measure_type is MeasureType.MEAN:
        return Model.OLS_HAC
    if measure_type is MeasureType.COUNT:
        return Model.QUASI_POISSON
    return Model.QUASI_POISSON_OFFSET


def _fit(y: np.ndarray, X: np.ndarray, exposure: np.ndarray | None,
         measure_type: MeasureType, label: str) -> _Fit:
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ImpactNotEstimable(f"{label}: the model's terms cannot be told apart with these "
                                 "periods (too few, or seasonal terms without enough of the "
                                 "year): use fewer harmonics or more periods")
    if X.shape[0] <= X.shape[1]:
        raise ImpactNotEstimable(f"{label}: {X.shape[0]} periods cannot fit a model of "
                                 f"{X.shape[1]} terms and estimate its error")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            if measure_type is MeasureType.MEAN:
                if np.ptp(y) == 0:
                    raise ImpactNotEstimable(f"{label} has the same value in every period: "
                                             "there is no variation to estimate from")
                lags = max(1, int(4 * (len(y) / 100) ** (2 / 9)))
                result = OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
                residuals = np.asarray(result.resid)
                scale = float(result.scale)
            else:
                offset = None if exposure is None else np.log(exposure)
                result = GLM(y, X, family=Poisson(), offset=offset).fit(scale="X2")
                if not result.converged:
                    raise ImpactNotEstimable(f"{label}: the model did not converge")
                residuals = np.asarray(result.resid_pearson)
                scale = float(result.scale)
        except (ConvergenceWarning, PerfectSeparationWarning, np.linalg.LinAlgError) as exc:
            raise ImpactNotEstimable(f"{label}: the model did not converge ({exc})") from None
    params, bse, pvalues = (np.asarray(a, dtype=float) for a in
                            (result.params, result.bse, result.pvalues))
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(bse)) and np.isfinite(scale)):
        raise ImpactNotEstimable(f"{label}: the model gave no finite estimate (a degenerate "
                                 "series)")
    if scale == 0:
        raise ImpactNotEstimable(f"{label}: the model fits every period exactly, so its "
                                 "uncertainty cannot be estimated")
    return _Fit(params, bse, pvalues, scale, residuals)


def _effect(fit: _Fit, column: int, measure_type: MeasureType) -> Effect:
    return make_effect(float(fit.params[column]), float(fit.bse[column]),
                       Scale.DIFFERENCE if measure_type is MeasureType.MEAN
                       else Scale.RATE_RATIO, p_value=float(fit.pvalues[column]))


def make_effect(coefficient: float, std_error: float, scale: Scale,
                p_value: float | None = None, quantile: float = _Z95) -> Effect:
    """An effect from its coefficient and standard error (Wald, normal quantile
    unless told another)."""
    if p_value is None:
        p_value = float(2 * norm.sf(abs(coefficient / std_error))) if std_error > 0 else 1.0
    low, high = coefficient - quantile * std_error, coefficient + quantile * std_error
    if scale is Scale.RATE_RATIO:
        return Effect(math.exp(coefficient), math.exp(low), math.exp(high), p_value, scale,
                      coefficient, std_error)
    return Effect(coefficient, low, high, p_value, scale, coefficient, std_error)


def _predict(params: np.ndarray, X: np.ndarray, design: _Design, measure_type: MeasureType,
             multiplier: float) -> list[float | None]:
    linear = X @ params
    if measure_type is MeasureType.MEAN:
        return [float(v) * multiplier for v in linear]
    if measure_type is MeasureType.COUNT:
        return [float(v) for v in np.exp(linear)]
    # exp(linear) is the rate per unit of denominator: the model's value of the measure.
    return [float(v) * multiplier for v in np.exp(linear)]


def _observed(design: _Design, measure_type: MeasureType,
              multiplier: float) -> list[float | None]:
    if measure_type is MeasureType.COUNT:
        return [float(v) for v in design.y]
    if measure_type is MeasureType.MEAN:
        return [float(v) * multiplier if d else None for v, d in zip(design.y, design.defined,
                                                                     strict=True)]
    assert design.exposure is not None
    return [float(v / e) * multiplier if d else None
            for v, e, d in zip(design.y, design.exposure, design.defined, strict=True)]


def _autocorrelation(residuals: np.ndarray) -> Autocorrelation:
    lags = max(1, min(10, len(residuals) // 5))
    box = acorr_ljungbox(residuals, lags=[lags], return_df=True)
    return Autocorrelation(float(durbin_watson(residuals)), float(box["lb_pvalue"].iloc[0]),
                           lags)


# ----------------------------------------------------------------- controlled (CITS / DiD)


@dataclass(frozen=True)
class Controlled:
    """A site against comparators (summed into one control series): the ratio of the
    site's rate ratio to the control's (a difference of differences for a MEAN)."""

    level_ratio: Effect
    slope_ratio: Effect | None
    comparators: tuple[str, ...]
    points: int


def fit_controlled(site: Sequence[Point], control: Sequence[Point], go_live: str,
                   measure_type: MeasureType, options: Options = Options(),
                   comparators: Sequence[str] = (), label: str = "the site") -> Controlled:
    """Controlled interrupted time series: the site's and the control's series in one
    model with a group term and its interactions with every change and trend term;
    the site x level (and site x slope) coefficients are the controlled effects."""
    measure_type = MeasureType(measure_type)
    granularity = parse_period(go_live).granularity
    options = options.checked(granularity)
    shared = {p.period for p in site} & {p.period for p in control}
    site_design, g, _ = _prepare([p for p in site if p.period in shared], go_live,
                                 measure_type, options, label)
    control_design, _, _ = _prepare([p for p in control if p.period in shared], go_live,
                                    measure_type, options, "the comparators' summed series")
    length = _SEASON_LENGTH[granularity]
    blocks, ys, exposures = [], [], []
    for group, design in ((1.0, site_design), (0.0, control_design)):
        used = ~design.excluded
        base = _columns(design.times, design.seasons, design.after, g, options, length)
        trend_and_changes = 3 if options.change is Change.LEVEL_SLOPE else 2
        interactions = [group * column for column in base[:trend_and_changes]]
        columns = [np.full_like(design.times, group), *interactions, *base]
        blocks.append(_matrix(columns)[used])
        ys.append(design.y[used])
        if design.exposure is not None and measure_type is not MeasureType.MEAN:
            exposures.append(design.exposure[used])
    X = np.vstack(blocks)
    fit = _fit(np.concatenate(ys), X, np.concatenate(exposures) if exposures else None,
               measure_type, label)
    # Columns: const, group, group x time, group x level, [group x slope], time, ...
    level = _effect(fit, 3, measure_type)
    slope = _effect(fit, 4, measure_type) if options.change is Change.LEVEL_SLOPE else None
    return Controlled(level, slope, tuple(comparators), X.shape[0])


# ----------------------------------------------------------------- pooled across sites


@dataclass(frozen=True)
class RandomEffects:
    level_change: Effect
    slope_change: Effect | None
    tau2: float
    i2: float
    sites: int


@dataclass(frozen=True)
class SiteFixedEffects:
    level_change: Effect
    slope_change: Effect | None
    dispersion: float
    points: int


def random_effects(estimates: Sequence[Estimate]) -> RandomEffects:
    """Random-effects meta-analysis of the sites' level (and slope) changes on the log
    scale: tau^2 by DerSimonian-Laird (statsmodels' combine_effects), the interval by
    Hartung-Knapp-Sidik-Jonkman with a t quantile on k - 1 degrees of freedom, which
    keeps its coverage with the few sites a project has (the plain normal interval
    does not)."""
    if len(estimates) < 2:
        raise ImpactNotEstimable(f"pooling needs at least 2 sites with an estimate, not "
                                 f"{len(estimates)}")
    level, tau2, i2 = _combine([e.level_change for e in estimates])
    slopes = [e.slope_change for e in estimates if e.slope_change is not None]
    slope = _combine(slopes)[0] if len(slopes) == len(estimates) else None
    return RandomEffects(level, slope, tau2, i2, len(estimates))


def _combine(effects: Sequence[Effect]) -> tuple[Effect, float, float]:
    coefficients = np.array([e.log_estimate for e in effects])
    variances = np.array([e.std_error ** 2 for e in effects])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # its HKSJ of a negative tau^2
        result = combine_effects(coefficients, variances, method_re="dl")
    # The moment estimator can come out below zero; tau^2 is truncated at zero.
    tau2 = max(0.0, float(result.tau2))
    weights = 1 / (variances + tau2)
    mean = float((weights * coefficients).sum() / weights.sum())
    k = len(effects)
    spread = float((weights * (coefficients - mean) ** 2).sum() / (k - 1))
    std_error = math.sqrt(spread / weights.sum())
    q = float(result.q)
    i2 = max(0.0, (q - (k - 1)) / q) if q > 0 else 0.0
    return make_effect(mean, std_error, effects[0].scale, quantile=float(t_dist.ppf(0.975, k - 1)),
                       p_value=float(2 * t_dist.sf(abs(mean / std_error), k - 1))
                       if std_error > 0 else 1.0), tau2, i2


def site_fixed_effects(sites: Sequence[tuple[str, Sequence[Point], str]],
                       measure_type: MeasureType, options: Options = Options()
                       ) -> SiteFixedEffects:
    """One model of every site's series: an intercept per site, a common trend and
    seasonality, and the change terms at each site's own go-live. Sites not yet live
    in a period are its contrast (the stepped-wedge shape)."""
    measure_type = MeasureType(measure_type)
    if len(sites) < 2:
        raise ImpactNotEstimable(f"pooling needs at least 2 sites with data, not {len(sites)}")
    granularity = parse_period(sites[0][2]).granularity
    options = options.checked(granularity)
    length = _SEASON_LENGTH[granularity]
    rows, ys, exposures = [], [], []
    for number, (site_id, points, go_live) in enumerate(sites):
        design, g, _ = _prepare(points, go_live, measure_type, options, f"site {site_id}")
        used = ~design.excluded
        dummies = [np.full_like(design.times, 1.0 if j == number else 0.0)
                   for j in range(1, len(sites))]
        base = _columns(design.times, design.seasons, design.after, g, options, length)
        # Time counts from each site's go-live; with an intercept per site that is
        # one common secular trend.
        rows.append(_matrix([*base, *dummies])[used])
        ys.append(design.y[used])
        if design.exposure is not None and measure_type is not MeasureType.MEAN:
            exposures.append(design.exposure[used])
    X = np.vstack(rows)
    fit = _fit(np.concatenate(ys), X, np.concatenate(exposures) if exposures else None,
               measure_type, "the pooled model")
    level = _effect(fit, 2, measure_type)
    slope = _effect(fit, 3, measure_type) if options.change is Change.LEVEL_SLOPE else None
    return SiteFixedEffects(level, slope, fit.scale, X.shape[0])


# ----------------------------------------------------------------- strata


def ratio_of_effects(group: Effect, reference: Effect) -> Effect:
    """The ratio of two independent strata's rate ratios (a difference of differences
    for a MEAN): below 1 for a rate, the group's rate fell further than the
    reference's. Strata are disjoint groups of people, so their estimates are
    independent and the variances add."""
    return make_effect(group.log_estimate - reference.log_estimate,
                       math.hypot(group.std_error, reference.std_error), group.scale)
