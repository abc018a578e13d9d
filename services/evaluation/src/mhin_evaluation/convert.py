"""Translation between mhin.evaluation.v1 (and project-tracking's project) messages and
the domain, both ways. Requests become domain values through
``mhin_platform.validation.build``, so a bad value is INVALID_ARGUMENT naming its field."""

from __future__ import annotations

from typing import Any

from mhin.common.v1 import arc_pb2
from mhin.evaluation.v1 import (
    aggregate_events_pb2,
    evaluation_pb2,
    measure_definition_pb2,
    measure_pb2,
)
from mhin.projects.v1 import project_pb2
from mhin_evaluation import domain
from mhin_evaluation.domain import (
    AggregateRow,
    AggregateView,
    Measure,
    MeasureDraft,
    Observation,
    ObservationDraft,
    Outcome,
    ProctorOutcome,
    ProjectSites,
    ReAimDimension,
    SpcChart,
    Stratifier,
)
from mhin_measures.hierarchy import Level
from mhin_measures.periods import Frequency
from mhin_measures.rates import MeasureType
from mhin_measures.spc import Direction
from mhin_platform.errors import InvalidArgument
from mhin_platform.protoconv import (
    date_from_proto,
    date_to_proto,
    enum_from_proto,
    enum_to_proto,
    from_timestamp,
    timestamp,
)
from mhin_platform.reference import Arc
from mhin_platform.validation import build

ARC = arc_pb2.Arc
LEVEL = aggregate_events_pb2.Level
MEASURE_TYPE = measure_pb2.MeasureType
DIRECTION = measure_pb2.Direction
RE_AIM = measure_definition_pb2.ReAimDimension
PROCTOR = measure_definition_pb2.ProctorOutcome
FREQUENCY = measure_definition_pb2.Frequency
STRATIFIER = measure_definition_pb2.Stratifier
OUTCOME = evaluation_pb2.ObservationOutcome
SPC_RULE = aggregate_events_pb2.SpcRule
VARIATION = aggregate_events_pb2.SpcVariation


# ----------------------------------------------------------------- measures


def measure_draft_from_proto(message: measure_definition_pb2.MeasureDefinition,
                             prefix: str = "measure") -> MeasureDraft:
    data: dict[str, Any] = {
        "id": message.id,
        "project_id": message.project_id,
        "title": message.title,
        "description": message.description,
        "tag": _tag_from_proto(message.tag, f"{prefix}.tag"),
        "type": enum_from_proto(MeasureType, MEASURE_TYPE, message.type, f"{prefix}.type"),
        "numerator": message.numerator,
        "denominator": message.denominator,
        "multiplier": message.multiplier or 1.0,
        "direction": enum_from_proto(Direction, DIRECTION, message.direction,
                                     f"{prefix}.direction", required=False),
        "frequency": enum_from_proto(Frequency, FREQUENCY, message.frequency,
                                     f"{prefix}.frequency"),
        "stratifiers": [enum_from_proto(Stratifier, STRATIFIER, number,
                                        f"{prefix}.stratifiers.{index}")
                        for index, number in enumerate(message.stratifiers)],
    }
    return build(MeasureDraft, data, prefix)


def measure_from_proto(message: measure_definition_pb2.MeasureDefinition) -> Measure:
    """A definition as the national instance published it (its time and version)."""
    draft = measure_draft_from_proto(message)
    return build(Measure, {**draft.model_dump(), "defined_at": from_timestamp(message.defined_at),
                           "version": message.version}, "measure")


def _tag_from_proto(tag: measure_definition_pb2.MeasureTag, field: str) -> dict[str, Any]:
    match tag.WhichOneof("kind"):
        case "re_aim":
            return {"re_aim": enum_from_proto(ReAimDimension, RE_AIM, tag.re_aim,
                                              f"{field}.re_aim")}
        case "proctor":
            return {"proctor": enum_from_proto(ProctorOutcome, PROCTOR, tag.proctor,
                                               f"{field}.proctor")}
        case "clinical_outcome":
            return {"clinical_outcome": tag.clinical_outcome}
    return {}


def measure_to_proto(measure: Measure) -> measure_definition_pb2.MeasureDefinition:
    return measure_definition_pb2.MeasureDefinition(
        id=measure.id,
        project_id=measure.project_id,
        title=measure.title,
        description=measure.description,
        tag=_tag_to_proto(measure.tag),
        type=enum_to_proto(measure.type, MEASURE_TYPE),
        numerator=measure.numerator,
        denominator=measure.denominator,
        multiplier=measure.multiplier,
        direction=enum_to_proto(measure.direction, DIRECTION),
        frequency=enum_to_proto(measure.frequency, FREQUENCY),
        stratifiers=[enum_to_proto(stratifier, STRATIFIER) for stratifier in measure.stratifiers],
        defined_at=timestamp(measure.defined_at),
        version=measure.version,
    )


def _tag_to_proto(tag: domain.MeasureTag) -> measure_definition_pb2.MeasureTag:
    if tag.re_aim is not None:
        return measure_definition_pb2.MeasureTag(re_aim=enum_to_proto(tag.re_aim, RE_AIM))
    if tag.proctor is not None:
        return measure_definition_pb2.MeasureTag(proctor=enum_to_proto(tag.proctor, PROCTOR))
    return measure_definition_pb2.MeasureTag(clinical_outcome=tag.clinical_outcome or "")


def stratifier_groups_to_proto(measure: Measure) -> list[evaluation_pb2.StratifierGroups]:
    return [
        evaluation_pb2.StratifierGroups(stratifier=enum_to_proto(stratifier, STRATIFIER),
                                        name=stratifier.value, groups=stratifier.groups)
        for stratifier in measure.stratifiers
    ]


# ----------------------------------------------------------------- project sites


def project_sites_from_proto(project: project_pb2.Project) -> ProjectSites:
    """A project snapshot from project-tracking; InvalidArgument (the consumer
    dead-letters the event) when it cannot be used."""
    sites = [
        {"id": site.id, "project_id": project.id, "name": site.name,
         "arc": enum_from_proto(Arc, ARC, site.arc, f"project.sites.{index}.arc"),
         "go_live": date_from_proto(site.go_live_date, f"project.sites.{index}.go_live_date",
                                    required=False)}
        for index, site in enumerate(project.sites)
    ]
    return build(ProjectSites, {"project_id": project.id, "version": project.version,
                                "sites": sites}, "project")


def project_sites_to_proto(snapshot: ProjectSites) -> evaluation_pb2.GetProjectSitesResponse:
    return evaluation_pb2.GetProjectSitesResponse(
        project_id=snapshot.project_id,
        project_version=snapshot.version,
        sites=[evaluation_pb2.ProjectSite(site_id=site.id, name=site.name,
                                          arc=enum_to_proto(site.arc, ARC),
                                          go_live_date=date_to_proto(site.go_live))
               for site in snapshot.sites],
    )


# ----------------------------------------------------------------- observations


def observation_draft_from_proto(message: evaluation_pb2.Observation,
                                 prefix: str) -> ObservationDraft:
    data = {
        "measure_id": message.measure_id,
        "site_id": message.site_id,
        "period": message.period,
        "stratum": message.stratum,
        "numerator": message.numerator,
        "denominator": message.denominator if message.HasField("denominator") else None,
    }
    return build(ObservationDraft, data, prefix)


def observation_to_proto(observation: ObservationDraft) -> evaluation_pb2.Observation:
    message = evaluation_pb2.Observation(
        measure_id=observation.measure_id, site_id=observation.site_id,
        period=observation.period, stratum=observation.stratum,
        numerator=observation.numerator)
    if observation.denominator is not None:
        message.denominator = observation.denominator
    return message


def result_to_proto(observation: Observation,
                    outcome: Outcome) -> evaluation_pb2.ObservationResult:
    return evaluation_pb2.ObservationResult(
        observation=observation_to_proto(observation),
        outcome=enum_to_proto(outcome, OUTCOME),
        version=observation.version,
        project_id=observation.project_id,
        arc=enum_to_proto(observation.arc, ARC),
        recorded_at=timestamp(observation.recorded_at),
    )


# ----------------------------------------------------------------- aggregates


def aggregate_row_from_proto(message: aggregate_events_pb2.AggregateUpdated) -> AggregateRow:
    """An aggregate from the restricted topic; InvalidArgument when it cannot be used."""
    data = {
        "measure_id": message.measure_id,
        "level": enum_from_proto(Level, LEVEL, message.level, "level"),
        "unit": message.unit,
        "period": message.period,
        "stratum": message.stratum,
        "owner_arc": _arc_code(message.owner_arc),
        "numerator": message.numerator,
        "denominator": message.denominator,
        "observation_count": message.observation_count,
        "computed_at": from_timestamp(message.computed_at),
    }
    return build(AggregateRow, data)


def _arc_code(code: str) -> Arc | None:
    if not code:
        return None
    try:
        return Arc[code]
    except KeyError:
        raise InvalidArgument("owner_arc", f"{code!r} is not an ARC code") from None


def level_from_proto(number: int, field: str) -> Level:
    return enum_from_proto(Level, LEVEL, number, field)


def aggregate_to_proto(item: AggregateView, measure: Measure) -> evaluation_pb2.Aggregate:
    row, shown = item.row, item.shown
    message = evaluation_pb2.Aggregate(
        measure_id=row.measure_id,
        level=enum_to_proto(row.level, LEVEL),
        unit=row.unit,
        owner_arc=enum_to_proto(row.owner_arc, ARC),
        period=row.period,
        stratum=row.stratum,
        numerator_suppressed=shown.numerator_suppressed,
        denominator_suppressed=shown.denominator_suppressed,
        value_suppressed=shown.value_suppressed,
        numerator_secondary=shown.numerator_secondary,
        denominator_secondary=shown.denominator_secondary,
        in_full=item.in_full,
        observation_count=row.observation_count,
        measure_type=enum_to_proto(measure.type, MEASURE_TYPE),
        computed_at=timestamp(row.computed_at),
    )
    for name in ("numerator", "denominator", "value"):
        if (figure := getattr(shown, name)) is not None:
            setattr(message, name, figure)
    return message


def spc_to_proto(chart: SpcChart) -> evaluation_pb2.GetSpcResponse:
    result = chart.result
    response = evaluation_pb2.GetSpcResponse(
        direction=enum_to_proto(chart.direction, DIRECTION),
        points=[_spc_point(point) for point in chart.points],
        limits_reliable=result.limits_reliable,
        verdict=enum_to_proto(chart.verdict, VARIATION),
        screened=chart.screened,
        fix_after_n_points=chart.fix_after_n_points,
    )
    for name in _LIMITS:
        if (figure := getattr(result, name)) is not None:
            setattr(response, name, figure)
    for start, segment in chart.segments:
        message = response.segments.add(start_period=start, points=len(segment.result.points),
                                        baseline_points=segment.baseline_points,
                                        limits_reliable=segment.result.limits_reliable)
        for name in _LIMITS:
            if (figure := getattr(segment.result, name)) is not None:
                setattr(message, name, figure)
    return response


_LIMITS = ("mean", "upper_limit", "lower_limit", "upper_near_limit", "lower_near_limit")


def _spc_point(point: domain.ChartPoint) -> evaluation_pb2.SpcPoint:
    message = evaluation_pb2.SpcPoint(period=point.period, suppressed=point.suppressed,
                                      secondary_suppressed=point.secondary,
                                      segment=point.segment)
    if point.value is not None:
        message.value = point.value
    if point.analysed is not None:
        message.rules.extend(enum_to_proto(rule, SPC_RULE) for rule in point.analysed.rules)
        message.variation = enum_to_proto(point.analysed.variation, VARIATION)
    return message
