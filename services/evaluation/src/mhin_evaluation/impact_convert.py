"""Translation between impact estimates (``mhin_measures.its``, ``mhin_evaluation.impact``)
and their messages in mhin.evaluation.v1, both ways."""

from __future__ import annotations

from datetime import datetime

from mhin.evaluation.v1 import evaluation_pb2, impact_events_pb2, impact_pb2
from mhin_evaluation import convert
from mhin_evaluation.impact_domain import (
    PROJECT_SCOPE,
    SITE_SCOPE,
    Comparators,
    PooledImpact,
    PooledSite,
    SiteImpact,
)
from mhin_measures import its
from mhin_platform.errors import InvalidArgument
from mhin_platform.protoconv import date_to_proto, enum_to_proto, timestamp

_CHANGE = {
    impact_pb2.IMPACT_CHANGE_UNSPECIFIED: its.Change.LEVEL_SLOPE,
    impact_pb2.IMPACT_CHANGE_LEVEL: its.Change.LEVEL,
    impact_pb2.IMPACT_CHANGE_LEVEL_SLOPE: its.Change.LEVEL_SLOPE,
}
_CHANGE_TO = {its.Change.LEVEL: impact_pb2.IMPACT_CHANGE_LEVEL,
              its.Change.LEVEL_SLOPE: impact_pb2.IMPACT_CHANGE_LEVEL_SLOPE}
_MODEL = {
    its.Model.QUASI_POISSON_OFFSET: impact_pb2.IMPACT_MODEL_QUASI_POISSON_OFFSET,
    its.Model.QUASI_POISSON: impact_pb2.IMPACT_MODEL_QUASI_POISSON,
    its.Model.OLS_HAC: impact_pb2.IMPACT_MODEL_OLS_HAC,
}
_SCALE = {its.Scale.RATE_RATIO: impact_pb2.EFFECT_SCALE_RATE_RATIO,
          its.Scale.DIFFERENCE: impact_pb2.EFFECT_SCALE_DIFFERENCE}
_SCOPE = {SITE_SCOPE: impact_events_pb2.IMPACT_SCOPE_SITE,
          PROJECT_SCOPE: impact_events_pb2.IMPACT_SCOPE_PROJECT}


def options_from_proto(message: impact_pb2.ImpactOptions, prefix: str = "options") -> its.Options:
    if message.change not in _CHANGE:
        raise InvalidArgument(f"{prefix}.change", f"unknown value {message.change}")
    return its.Options(change=_CHANGE[message.change], harmonics=message.harmonics,
                       exclude_after=message.exclude_after)


def options_to_proto(options: its.Options) -> impact_pb2.ImpactOptions:
    return impact_pb2.ImpactOptions(change=_CHANGE_TO[its.Change(options.change)],
                                    harmonics=options.harmonics,
                                    exclude_after=options.exclude_after)


def comparators_from_proto(message: evaluation_pb2.ImpactComparators) -> Comparators:
    ids = tuple(site_id.strip() for site_id in message.site_ids)
    if message.auto and ids:
        raise InvalidArgument("comparators", "choose comparators automatically or name them, "
                              "not both")
    for index, site_id in enumerate(ids):
        if not site_id:
            raise InvalidArgument(f"comparators.site_ids.{index}", "is empty")
    return Comparators(auto=message.auto, site_ids=ids)


def effect_to_proto(effect: its.Effect) -> impact_pb2.ImpactEffect:
    return impact_pb2.ImpactEffect(estimate=effect.estimate, ci_low=effect.ci_low,
                                   ci_high=effect.ci_high, p_value=effect.p_value,
                                   scale=_SCALE[effect.scale])


def estimate_to_proto(estimate: its.Estimate, site: SiteImpact | PooledSite
                      ) -> impact_pb2.ImpactEstimate:
    message = impact_pb2.ImpactEstimate(
        model=_MODEL[estimate.model],
        go_live_date=date_to_proto(site.site.go_live),
        go_live_period=estimate.go_live_period,
        points_before=estimate.points_before,
        points_after=estimate.points_after,
        dispersion=estimate.dispersion,
        level_change=effect_to_proto(estimate.level_change),
        autocorrelation=impact_pb2.ImpactAutocorrelation(
            durbin_watson=estimate.autocorrelation.durbin_watson,
            ljung_box_p=estimate.autocorrelation.ljung_box_p,
            ljung_box_lags=estimate.autocorrelation.ljung_box_lags),
        series=[_period(period) for period in estimate.series],
        options=options_to_proto(estimate.options),
    )
    if estimate.slope_change is not None:
        message.slope_change.CopyFrom(effect_to_proto(estimate.slope_change))
    return message


def _period(period: its.FittedPeriod) -> impact_pb2.ImpactPeriod:
    message = impact_pb2.ImpactPeriod(period=period.period, after_go_live=period.after,
                                      excluded=period.excluded)
    for name in ("observed", "fitted", "counterfactual"):
        if (value := getattr(period, name)) is not None:
            setattr(message, name, value)
    return message


def site_impact_to_proto(result: SiteImpact) -> evaluation_pb2.GetImpactResponse:
    key = result.key
    response = evaluation_pb2.GetImpactResponse(series=evaluation_pb2.SeriesKey(
        measure_id=key.measure_id, level=enum_to_proto(key.level, convert.LEVEL),
        unit=key.unit, stratum=key.stratum))
    if result.withheld:
        response.withheld, response.withheld_reason = True, result.withheld
        return response
    assert result.estimate is not None
    response.estimate.CopyFrom(estimate_to_proto(result.estimate, result))
    if result.controlled is not None:
        controlled = result.controlled
        response.controlled.CopyFrom(impact_pb2.ControlledImpact(
            level_ratio=effect_to_proto(controlled.level_ratio),
            comparator_site_ids=controlled.comparators, points=controlled.points))
        if controlled.slope_ratio is not None:
            response.controlled.slope_ratio.CopyFrom(effect_to_proto(controlled.slope_ratio))
    return response


def _pooled_sites(result: PooledImpact) -> list[impact_pb2.SiteImpact]:
    sites = []
    for entry in result.sites:
        message = impact_pb2.SiteImpact(site_id=entry.site.id, name=entry.site.name,
                                        not_estimable_reason=entry.not_estimable)
        if entry.estimate is not None:
            message.estimate.CopyFrom(estimate_to_proto(entry.estimate, entry))
        sites.append(message)
    return sites


def _pooled(result: PooledImpact) -> impact_pb2.PooledImpact:
    random, fixed = result.random_effects, result.site_fixed_effects
    assert random is not None and fixed is not None
    message = impact_pb2.PooledImpact(
        random_effects=impact_pb2.RandomEffectsImpact(
            level_change=effect_to_proto(random.level_change), tau2=random.tau2,
            i2=random.i2, sites=random.sites),
        site_fixed_effects=impact_pb2.SiteFixedEffectsImpact(
            level_change=effect_to_proto(fixed.level_change), dispersion=fixed.dispersion,
            points=fixed.points))
    if random.slope_change is not None:
        message.random_effects.slope_change.CopyFrom(effect_to_proto(random.slope_change))
    if fixed.slope_change is not None:
        message.site_fixed_effects.slope_change.CopyFrom(effect_to_proto(fixed.slope_change))
    return message


def pooled_to_proto(result: PooledImpact) -> evaluation_pb2.GetPooledImpactResponse:
    response = evaluation_pb2.GetPooledImpactResponse(
        project_id=result.project_id, measure_id=result.measure.id, stratum=result.stratum)
    if result.withheld:
        response.withheld, response.withheld_reason = True, result.withheld
        return response
    response.sites.extend(_pooled_sites(result))
    response.pooled.CopyFrom(_pooled(result))
    if result.ratio_to_reference is not None:
        response.reference_stratum = result.reference_stratum
        response.ratio_to_reference.CopyFrom(effect_to_proto(result.ratio_to_reference))
    return response


def impact_key(measure_id: str, scope: str, unit: str, stratum: str) -> str:
    return "|".join((measure_id, scope, unit, stratum))


def site_event(result: SiteImpact, now: datetime) -> impact_events_pb2.ImpactEstimated:
    message = impact_events_pb2.ImpactEstimated(
        measure_id=result.key.measure_id, scope=_SCOPE[SITE_SCOPE], unit=result.key.unit,
        stratum=result.key.stratum, estimated_at=timestamp(now))
    if result.withheld:
        message.withheld, message.withheld_reason = True, result.withheld
    else:
        assert result.estimate is not None
        message.estimate.CopyFrom(estimate_to_proto(result.estimate, result))
    return message


def pooled_event(result: PooledImpact, now: datetime) -> impact_events_pb2.ImpactEstimated:
    message = impact_events_pb2.ImpactEstimated(
        measure_id=result.measure.id, scope=_SCOPE[PROJECT_SCOPE], unit=result.project_id,
        stratum=result.stratum, estimated_at=timestamp(now))
    if result.withheld:
        message.withheld, message.withheld_reason = True, result.withheld
    else:
        message.sites.extend(_pooled_sites(result))
        message.pooled.CopyFrom(_pooled(result))
    return message
