"""The messages the stream publishes: each aggregate twice (restricted, and shared
with small numbers suppressed) and SPC signals."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from mhin.evaluation.v1 import aggregate_events_pb2 as pb
from mhin.evaluation.v1 import measure_pb2
from mhin_aggregator.rollup import Measure, Total
from mhin_aggregator.series import Signal
from mhin_measures import rates
from mhin_measures.complementary import Marks
from mhin_measures.hierarchy import AggregateKey, Level
from mhin_platform.protoconv import enum_to_proto

_LEVELS = {level: enum_to_proto(level, pb.Level) for level in Level}
_TYPES = {
    kind: enum_to_proto(kind, measure_pb2.MeasureType) for kind in rates.MeasureType
}


def aggregate_updates(
    key: AggregateKey, total: Total, measure: Measure, *, marks: Marks, computed_at: Timestamp
) -> tuple[pb.AggregateUpdated, pb.AggregateUpdated]:
    """The restricted message (every figure) and the shared one: withheld, when its
    measure and period's disclosure pattern withholds any of its figures (``marks``,
    from ``mhin_aggregator.suppression``: a small count, or one that would give a small
    count elsewhere away), as zeros with ``suppressed`` set (and
    ``secondary_suppressed`` when none of its own counts is small), no value."""
    numerator, denominator = total.figures
    value = rates.value(measure.measure_type, numerator, denominator, measure.multiplier)
    restricted = pb.AggregateUpdated(
        measure_id=key.measure_id,
        level=_LEVELS[key.level],
        unit=key.unit,
        owner_arc=total.owner_arc,
        period=key.period,
        stratum=key.stratum,
        numerator=numerator,
        denominator=denominator,
        value=0.0 if value is None else value,
        has_value=value is not None,
        observation_count=total.cells,
        measure_type=_TYPES[measure.measure_type],
        computed_at=computed_at,
    )
    if not marks.suppressed:
        return restricted, restricted
    shared = pb.AggregateUpdated()
    shared.CopyFrom(restricted)
    shared.numerator = shared.denominator = shared.value = 0.0
    shared.has_value = False
    shared.suppressed = True
    shared.secondary_suppressed = marks.secondary_only
    return restricted, shared


def spc_signal(signal: Signal, *, computed_at: Timestamp) -> pb.SpcSignalRaised:
    series, result, point = signal.series, signal.result, signal.point
    return pb.SpcSignalRaised(
        measure_id=series.measure_id,
        level=_LEVELS[series.level],
        unit=series.unit,
        stratum=series.stratum,
        period=signal.period,
        rules=[enum_to_proto(rule, pb.SpcRule) for rule in point.rules],
        variation=enum_to_proto(point.variation, pb.SpcVariation),
        mean=result.mean or 0.0,
        upper_limit=result.upper_limit or 0.0,
        lower_limit=result.lower_limit or 0.0,
        value=point.value,
        computed_at=computed_at,
    )
