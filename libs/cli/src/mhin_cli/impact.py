"""``mhin evaluation impact`` and ``impact-pooled``: the impact of go-live on a site's
series (interrupted time series, optionally against comparator sites) and across a
project's sites, as readable lines or one JSON object."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

import click

from mhin.evaluation.v1 import evaluation_pb2, evaluation_pb2_grpc, impact_pb2
from mhin_cli.client import ServiceCommand, connect
from mhin_cli.evaluation import series_key

service = ServiceCommand("evaluation")

_CHANGES = {"level": impact_pb2.IMPACT_CHANGE_LEVEL,
            "level+slope": impact_pb2.IMPACT_CHANGE_LEVEL_SLOPE}
_SCALES = {impact_pb2.EFFECT_SCALE_RATE_RATIO: "rate_ratio",
           impact_pb2.EFFECT_SCALE_DIFFERENCE: "difference"}
_MODELS = {impact_pb2.IMPACT_MODEL_QUASI_POISSON_OFFSET:
           "quasi-Poisson GLM, log(denominator) offset",
           impact_pb2.IMPACT_MODEL_QUASI_POISSON: "quasi-Poisson GLM",
           impact_pb2.IMPACT_MODEL_OLS_HAC: "OLS, Newey-West (HAC) standard errors"}


def _stub(address: str, token: str) -> evaluation_pb2_grpc.EvaluationServiceStub:
    return evaluation_pb2_grpc.EvaluationServiceStub(connect(address, token))


def model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed((
        click.option("--change", type=click.Choice(list(_CHANGES)), default="level+slope",
                     show_default=True, help="Change terms at go-live."),
        click.option("--harmonics", type=int, default=0, show_default=True,
                     help="K pairs of Fourier terms of the month (or quarter): seasonality."),
        click.option("--exclude-after", type=int, default=0, show_default=True,
                     help="Periods from go-live on to leave out (phase-in)."),
    )):
        command = option(command)
    return command


def _options(change: str, harmonics: int, exclude_after: int) -> impact_pb2.ImpactOptions:
    return impact_pb2.ImpactOptions(change=_CHANGES[change], harmonics=harmonics,
                                    exclude_after=exclude_after)


def effect(message: impact_pb2.ImpactEffect, present: bool = True) -> dict[str, Any] | None:
    if not present:
        return None
    return {"estimate": message.estimate, "ci_low": message.ci_low, "ci_high": message.ci_high,
            "p_value": message.p_value, "scale": _SCALES.get(message.scale, "unspecified")}


def _figure(period: impact_pb2.ImpactPeriod,
            name: Literal["observed", "fitted", "counterfactual"]) -> float | None:
    return getattr(period, name) if period.HasField(name) else None


def estimate_dict(estimate: impact_pb2.ImpactEstimate) -> dict[str, Any]:
    date = estimate.go_live_date
    return {
        "model": _MODELS.get(estimate.model, "unspecified"),
        "go_live_date": f"{date.year:04d}-{date.month:02d}-{date.day:02d}" if date.year else None,
        "go_live_period": estimate.go_live_period,
        "points_before": estimate.points_before,
        "points_after": estimate.points_after,
        "dispersion": estimate.dispersion,
        "level_change": effect(estimate.level_change),
        "slope_change": effect(estimate.slope_change, estimate.HasField("slope_change")),
        "autocorrelation": {
            "durbin_watson": estimate.autocorrelation.durbin_watson,
            "ljung_box_p": estimate.autocorrelation.ljung_box_p,
            "ljung_box_lags": estimate.autocorrelation.ljung_box_lags,
        },
        "series": [{"period": p.period, "observed": _figure(p, "observed"),
                    "fitted": _figure(p, "fitted"),
                    "counterfactual": _figure(p, "counterfactual"),
                    "after_go_live": p.after_go_live, "excluded": p.excluded}
                   for p in estimate.series],
    }


def _effect_line(name: str, found: dict[str, Any] | None) -> str:
    if found is None:
        return f"  {name}: not fitted"
    what = "rate ratio" if found["scale"] == "rate_ratio" else "difference"
    return (f"  {name}: {what} {found['estimate']:.3f} (95% CI {found['ci_low']:.3f} to "
            f"{found['ci_high']:.3f}), p = {found['p_value']:.3g}")


def _estimate_lines(found: dict[str, Any]) -> list[str]:
    autocorrelation = found["autocorrelation"]
    return [
        f"  model: {found['model']}; go-live {found['go_live_date']} (period "
        f"{found['go_live_period']}); {found['points_before']} periods before, "
        f"{found['points_after']} after; dispersion {found['dispersion']:.3f}",
        _effect_line("level change", found["level_change"]),
        _effect_line("slope change", found["slope_change"]),
        f"  residual autocorrelation: Durbin-Watson {autocorrelation['durbin_watson']:.2f}, "
        f"Ljung-Box p = {autocorrelation['ljung_box_p']:.3g} "
        f"({autocorrelation['ljung_box_lags']} lags)",
    ]


def _comparators(text: str) -> evaluation_pb2.ImpactComparators | None:
    if not text:
        return None
    if text == "auto":
        return evaluation_pb2.ImpactComparators(auto=True)
    ids = [part.strip() for part in text.split(",")]
    if not all(ids):
        raise click.BadParameter("give 'auto' or site ids separated by commas",
                                 param_hint="--comparators")
    return evaluation_pb2.ImpactComparators(site_ids=ids)


@click.command("impact")
@click.argument("measure_id")
@click.option("--level", type=click.Choice(["site"]), default="site", show_default=True,
              help="An estimate is of a site's series (impact-pooled pools a project's).")
@click.option("--unit", required=True, help="Site id (see `mhin evaluation sites`).")
@click.option("--stratum", default="", help="Default: all strata combined.")
@model_options
@click.option("--comparators", default="", help="'auto' (sites not live within the series) "
              "or site ids separated by commas: a controlled estimate as well.")
@service
def impact(measure_id: str, level: str, unit: str, stratum: str, change: str, harmonics: int,
           exclude_after: int, comparators: str, address: str, token: str,
           as_json: bool) -> None:
    """The impact of go-live on a site's series of MEASURE_ID (interrupted time series)."""
    request = evaluation_pb2.GetImpactRequest(
        series=series_key(measure_id, level, unit, stratum),
        options=_options(change, harmonics, exclude_after))
    if (chosen := _comparators(comparators)) is not None:
        request.comparators.CopyFrom(chosen)
    response = _stub(address, token).GetImpact(request)
    if response.withheld:
        found: dict[str, Any] = {"withheld": True, "withheld_reason": response.withheld_reason}
    else:
        found = {"withheld": False, **estimate_dict(response.estimate)}
        if response.HasField("controlled"):
            controlled = response.controlled
            found["controlled"] = {
                "comparators": list(controlled.comparator_site_ids),
                "level_ratio": effect(controlled.level_ratio),
                "slope_ratio": effect(controlled.slope_ratio, controlled.HasField("slope_ratio")),
                "points": controlled.points,
            }
    if as_json:
        click.echo(json.dumps({"measure_id": response.series.measure_id,
                               "site_id": response.series.unit,
                               "stratum": response.series.stratum, **found}))
        return
    click.echo(f"{measure_id} at site {unit}{' for ' + stratum if stratum else ''}:")
    if found["withheld"]:
        click.echo(f"  withheld: {found['withheld_reason']}")
        return
    for line in _estimate_lines(found):
        click.echo(line)
    if "controlled" in found:
        controlled = found["controlled"]
        click.echo(f"  against {', '.join(controlled['comparators'])}:")
        click.echo(_effect_line("  ratio of level changes", controlled["level_ratio"]))
        if controlled["slope_ratio"] is not None:
            click.echo(_effect_line("  ratio of slope changes", controlled["slope_ratio"]))


@click.command("impact-pooled")
@click.argument("project_id")
@click.argument("measure_id")
@click.option("--stratum", default="", help="e.g. 'ethnicity=Black'; default: all strata.")
@click.option("--reference-stratum", default="",
              help="Compare with this stratum, e.g. 'ethnicity=White': the ratio of the "
                   "pooled level changes (does the gap narrow?).")
@model_options
@service
def impact_pooled(project_id: str, measure_id: str, stratum: str, reference_stratum: str,
                  change: str, harmonics: int, exclude_after: int, address: str, token: str,
                  as_json: bool) -> None:
    """The impact of go-live on MEASURE_ID across PROJECT_ID's sites: each site, a
    random-effects meta-analysis and a model with site fixed effects."""
    request = evaluation_pb2.GetPooledImpactRequest(
        project_id=project_id, measure_id=measure_id, stratum=stratum,
        options=_options(change, harmonics, exclude_after), reference_stratum=reference_stratum)
    response = _stub(address, token).GetPooledImpact(request)
    found = pooled_dict(response)
    if as_json:
        click.echo(json.dumps(found))
        return
    click.echo(f"{measure_id} across {project_id}{' for ' + stratum if stratum else ''}:")
    if found["withheld"]:
        click.echo(f"  withheld: {found['withheld_reason']}")
        return
    for site in found["sites"]:
        click.echo(f"site {site['site_id']} ({site['name']}):")
        if site["estimate"] is None:
            click.echo(f"  no estimate: {site['not_estimable_reason']}")
        else:
            click.echo(_effect_line("level change", site["estimate"]["level_change"]))
    random, fixed = found["pooled"]["random_effects"], found["pooled"]["site_fixed_effects"]
    click.echo(f"random effects ({random['sites']} sites, tau2 {random['tau2']:.4f}, "
               f"I2 {random['i2']:.0%}):")
    click.echo(_effect_line("level change", random["level_change"]))
    click.echo("site fixed effects:")
    click.echo(_effect_line("level change", fixed["level_change"]))
    if found["ratio_to_reference"] is not None:
        click.echo(f"against {found['reference_stratum']}:")
        click.echo(_effect_line("ratio of level changes", found["ratio_to_reference"]))


def pooled_dict(response: evaluation_pb2.GetPooledImpactResponse) -> dict[str, Any]:
    base = {"project_id": response.project_id, "measure_id": response.measure_id,
            "stratum": response.stratum, "withheld": response.withheld}
    if response.withheld:
        return {**base, "withheld_reason": response.withheld_reason}
    random, fixed = response.pooled.random_effects, response.pooled.site_fixed_effects
    return {
        **base,
        "sites": [{"site_id": site.site_id, "name": site.name,
                   "estimate": estimate_dict(site.estimate) if site.HasField("estimate")
                   else None,
                   "not_estimable_reason": site.not_estimable_reason}
                  for site in response.sites],
        "pooled": {
            "random_effects": {
                "level_change": effect(random.level_change),
                "slope_change": effect(random.slope_change, random.HasField("slope_change")),
                "tau2": random.tau2, "i2": random.i2, "sites": random.sites},
            "site_fixed_effects": {
                "level_change": effect(fixed.level_change),
                "slope_change": effect(fixed.slope_change, fixed.HasField("slope_change")),
                "dispersion": fixed.dispersion, "points": fixed.points},
        },
        "reference_stratum": response.reference_stratum or None,
        "ratio_to_reference": effect(response.ratio_to_reference,
                                     response.HasField("ratio_to_reference")),
    }
