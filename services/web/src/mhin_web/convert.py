"""gRPC answers → the pages' view models. Nothing is computed here that the service
did not answer: a suppressed figure stays suppressed, a missing one stays missing."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from mhin.catalogue.v1 import prioritisation_pb2
from mhin.common.v1 import arc_pb2, period_pb2, priority_area_pb2
from mhin.evaluation.v1 import aggregate_events_pb2, evaluation_pb2, impact_pb2, measure_pb2
from mhin.projects.v1 import project_pb2
from mhin_measures.hierarchy import Level
from mhin_platform.reference import Arc
from mhin_web.domain import (
    Bar,
    Breakdown,
    Impact,
    ImpactChart,
    ImpactEffect,
    ImpactPeriod,
    RankedOption,
    Ranking,
    SpcChart,
    SpcPoint,
    Table,
    Variation,
    WeightRange,
)

_VARIATIONS = {
    aggregate_events_pb2.SPC_VARIATION_COMMON_CAUSE: Variation.COMMON_CAUSE,
    aggregate_events_pb2.SPC_VARIATION_IMPROVEMENT: Variation.IMPROVEMENT,
    aggregate_events_pb2.SPC_VARIATION_CONCERN: Variation.CONCERN,
    aggregate_events_pb2.SPC_VARIATION_NEITHER: Variation.NEITHER,
}
_DIRECTIONS = {measure_pb2.DIRECTION_UP: "up", measure_pb2.DIRECTION_DOWN: "down"}
LEVELS = {
    Level.NATIONAL: aggregate_events_pb2.LEVEL_NATIONAL,
    Level.ARC: aggregate_events_pb2.LEVEL_ARC,
    Level.PROJECT: aggregate_events_pb2.LEVEL_PROJECT,
    Level.SITE: aggregate_events_pb2.LEVEL_SITE,
}
LEVEL_NAMES = {number: level.value for level, number in LEVELS.items()}


def enum_name(message: Message, field_name: str, prefix: str) -> str:
    """An enum field's value as words: STRATIFIER_AGE_BAND -> 'age band'."""
    descriptor = message.DESCRIPTOR.fields_by_name[field_name].enum_type
    if descriptor is None:
        raise TypeError(f"{field_name} is not an enum field")
    name = descriptor.values_by_number[getattr(message, field_name)].name
    return name.removeprefix(prefix).replace("_", " ").lower()


def optional(message: Message, field_name: str) -> float | None:
    return getattr(message, field_name) if message.HasField(field_name) else None


def series_key(measure_id: str, level: Level, unit: str,
               stratum: str) -> evaluation_pb2.SeriesKey:
    return evaluation_pb2.SeriesKey(measure_id=measure_id, level=LEVELS[level], unit=unit,
                                    stratum=stratum)


def spc_chart(title: str, answer: evaluation_pb2.GetSpcResponse) -> SpcChart:
    rule_names = aggregate_events_pb2.SpcRule.Name
    points = tuple(
        SpcPoint(period=point.period, value=optional(point, "value"),
                 suppressed=point.suppressed,
                 variation=_VARIATIONS.get(point.variation, Variation.COMMON_CAUSE),
                 rules=tuple(rule_names(rule).removeprefix("SPC_RULE_") for rule in point.rules))
        for point in answer.points)
    return SpcChart(
        title=title, direction=_DIRECTIONS.get(answer.direction, ""), points=points,
        mean=optional(answer, "mean"), upper_limit=optional(answer, "upper_limit"),
        lower_limit=optional(answer, "lower_limit"), limits_reliable=answer.limits_reliable,
        verdict=_VARIATIONS.get(answer.verdict, Variation.COMMON_CAUSE))


def breakdown(title: str, stratifier: str, period: str,
              answer: evaluation_pb2.GetBreakdownResponse) -> Breakdown:
    return Breakdown(title=title, period=period, stratifier=stratifier, bars=tuple(
        Bar(group=group.stratum.partition("=")[2] or group.stratum,
            value=optional(group, "value"), numerator=optional(group, "numerator"),
            denominator=optional(group, "denominator"), value_suppressed=group.value_suppressed,
            numerator_suppressed=group.numerator_suppressed,
            denominator_suppressed=group.denominator_suppressed)
        for group in answer.groups))


_SCALES = {impact_pb2.EFFECT_SCALE_RATE_RATIO: "rate ratio",
           impact_pb2.EFFECT_SCALE_DIFFERENCE: "difference"}
_MODELS = {
    impact_pb2.IMPACT_MODEL_QUASI_POISSON_OFFSET: "quasi-Poisson regression of the numerator "
                                                  "with the denominator as offset",
    impact_pb2.IMPACT_MODEL_QUASI_POISSON: "quasi-Poisson regression of the count",
    impact_pb2.IMPACT_MODEL_OLS_HAC: "least squares with Newey-West standard errors",
}


def impact_effect(effect: impact_pb2.ImpactEffect) -> ImpactEffect:
    return ImpactEffect(effect.estimate, effect.ci_low, effect.ci_high, effect.p_value,
                        _SCALES.get(effect.scale, "estimate"))


def impact(title: str, answer: evaluation_pb2.GetImpactResponse) -> Impact:
    """The estimate as the page shows it, or why it is withheld (the service's words)."""
    if answer.withheld:
        return Impact(reason=f"The impact estimate is withheld: {answer.withheld_reason}")
    estimate = answer.estimate
    return Impact(chart=ImpactChart(
        title=title, model=_MODELS.get(estimate.model, "segmented regression"),
        go_live_date=date_text(estimate.go_live_date), go_live_period=estimate.go_live_period,
        points_before=estimate.points_before, points_after=estimate.points_after,
        level_change=impact_effect(estimate.level_change),
        slope_change=impact_effect(estimate.slope_change)
        if estimate.HasField("slope_change") else None,
        periods=tuple(ImpactPeriod(
            period=p.period, observed=optional(p, "observed"), fitted=optional(p, "fitted"),
            counterfactual=optional(p, "counterfactual"), after_go_live=p.after_go_live,
            excluded=p.excluded) for p in estimate.series)))


def newest_computed_at(points: list[evaluation_pb2.Aggregate], stratum: str,
                       period: str) -> float:
    """When evaluation's answer for (stratum, period) was computed (0: not there)."""
    return max((p.computed_at.ToMicroseconds() / 1e6 for p in points
                if p.stratum == stratum and p.period == period), default=0.0)


def area_name(number: priority_area_pb2.PriorityArea.ValueType) -> str:
    return priority_area_pb2.PriorityArea.Name(number).removeprefix(
        "PRIORITY_AREA_").replace("_", " ").capitalize()


def date_text(date: period_pb2.Date) -> str:
    return f"{date.year:04d}-{date.month:02d}-{date.day:02d}" if date.year else "not set"


def ranking(round_: prioritisation_pb2.PrioritisationRound) -> Ranking:
    results = round_.results
    top = next((o.option for o in results.ranking if o.rank == 1), "")
    return Ranking(
        title=round_.title, status=enum_name(round_, "status", "ROUND_STATUS_"),
        options=tuple(RankedOption(o.option, o.total, o.rank)
                      for o in sorted(results.ranking, key=lambda o: o.rank)),
        ranges=tuple(WeightRange(r.criterion, r.weight, r.lower_weight, r.upper_weight)
                     for r in results.sensitivity if r.option == top),
        top_option=top)


@dataclass(frozen=True)
class ProjectCard:
    id: str
    name: str
    arcs: str
    phase: str
    sites: Table
    milestones: Table
    rags: tuple[str, ...]  # each milestone's RAG, for the badges


def project_card(project: project_pb2.Project) -> ProjectCard:
    sites = Table(("Site", "ARC", "Organisation", "Go-live"),
                  [(s.name, Arc[enum_name(s, "arc", "ARC_").upper().replace(" ", "_")].value,
                    s.organisation_name, date_text(s.go_live_date)) for s in project.sites],
                  caption=f"Sites of {project.name}")
    milestones = Table(("Milestone", "ARC", "Planned", "Status", "RAG"),
                       [(m.title, enum_name(m, "arc", "ARC_").title() if m.arc else "All",
                         date_text(m.planned_date),
                         enum_name(m, "status", "MILESTONE_STATUS_").capitalize(),
                         enum_name(m, "rag", "RAG_").capitalize())
                        for m in project.milestones],
                       caption=f"Milestones of {project.name}")
    return ProjectCard(
        id=project.id, name=project.name,
        arcs=" and ".join(Arc[enum_name_of(a)].value for a in project.arcs) or "not selected yet",
        phase=enum_name(project, "phase", "PHASE_").capitalize(), sites=sites,
        milestones=milestones, rags=tuple(row[4] for row in milestones.rows))


def enum_name_of(arc_number: arc_pb2.Arc.ValueType) -> str:
    return arc_pb2.Arc.Name(arc_number).removeprefix("ARC_")
