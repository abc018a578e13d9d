"""Reading ObservationRecorded records into cells, refusing what would corrupt the
aggregates (the refused record goes to the dead-letter topic with the reason)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache

from pydantic import ValidationError

from mhin.common.v1 import arc_pb2
from mhin.evaluation.v1 import measure_pb2
from mhin.evaluation.v1.observation_events_pb2 import ObservationRecorded
from mhin_aggregator.rollup import Cell, Measure, strata_of
from mhin_measures import periods, rates, spc
from mhin_platform.errors import InvalidArgument
from mhin_platform.events.envelope import EnvelopeError, event_from_record
from mhin_platform.protoconv import enum_from_proto
from mhin_platform.reference import Arc

OBSERVATION_TYPE = ObservationRecorded.DESCRIPTOR.full_name


class Unusable(ValueError):
    """A record that cannot be counted; the message is the dead-letter reason."""


def read_cell(
    topic: str,
    partition: int,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]] | None,
) -> Cell | None:
    """The cell an observation record carries, or None for another event type
    (ignored, like the platform's consumers do). Raises :class:`Unusable`."""
    try:
        event = event_from_record(topic, key, value, headers)
        if event.type != OBSERVATION_TYPE:
            return None
        message = event.decode(ObservationRecorded)
        cell = _cell(message, partition)
    except (EnvelopeError, InvalidArgument, ValidationError, ValueError) as exc:
        raise Unusable(f"{type(exc).__name__}: {exc}") from None
    if event.key != cell.measure_id:
        # all of a measure's observations must share one partition: one worker owns
        # its roll-ups, and a worker rebuilds its sums partition by partition
        raise Unusable(f"record key {event.key!r} is not the measure id {cell.measure_id!r}")
    return cell


def _cell(message: ObservationRecorded, partition: int) -> Cell:
    for field in ("measure_id", "project_id", "site_id"):
        if not getattr(message, field):
            raise ValueError(f"{field} is required")
    if message.version < 1:
        raise ValueError(f"version must be 1 or more, not {message.version}")
    arc = enum_from_proto(Arc, arc_pb2.Arc, message.arc, "arc")
    measure_type = enum_from_proto(
        rates.MeasureType, measure_pb2.MeasureType, message.measure_type, "measure_type"
    )
    direction = enum_from_proto(
        spc.Direction, measure_pb2.Direction, message.direction, "direction",
        required=False,
    )
    rates.validate_observation(measure_type, message.numerator, message.denominator)
    if measure_type is not rates.MeasureType.COUNT and not (
        math.isfinite(message.multiplier) and message.multiplier > 0
    ):
        raise ValueError(f"multiplier must be a positive number, not {message.multiplier}")
    _canonical_period(message.period)
    _canonical_stratum(message.stratum)
    return Cell(
        measure_id=message.measure_id,
        site_id=message.site_id,
        arc=arc.name,
        project_id=message.project_id,
        period=message.period,
        stratum=message.stratum,
        numerator=message.numerator,
        denominator=message.denominator,
        version=message.version,
        measure=Measure(measure_type, message.multiplier, direction),
        partition=partition,
    )


@lru_cache(maxsize=4096)
def _canonical_period(period: str) -> None:
    periods.validate_period(period)


def _canonical_stratum(stratum: str) -> None:
    # the last stratum a stratum rolls up to is its own canonical form
    if strata_of(stratum)[-1] != stratum:
        raise ValueError(f"stratum {stratum!r} is not canonical ({strata_of(stratum)[-1]!r})")
