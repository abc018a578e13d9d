"""Conversion between canonical period ids and ``mhin.common.v1.Period``; the only
module of this package that needs protobuf.

Enums (MeasureType, Direction, SpcRule, Variation) need no code here: their member
names equal the proto value suffixes, so ``mhin_platform.protoconv.enum_from_proto``
and ``enum_to_proto`` translate them.
"""

from __future__ import annotations

from datetime import date

from mhin.common.v1 import period_pb2
from mhin_measures.periods import Granularity, Period, parse_period


def period_to_proto(period_id: str) -> period_pb2.Period:
    """The message for a period id; ValueError for a bad id."""
    period = parse_period(period_id)
    start = period.start
    return period_pb2.Period(
        start_date=period_pb2.Date(year=start.year, month=start.month, day=start.day),
        granularity=period_pb2.PeriodGranularity.Value(
            f"PERIOD_GRANULARITY_{period.granularity.name}"
        ),
    )


def period_from_proto(message: period_pb2.Period) -> str:
    """The canonical id of a Period message; ValueError says what is wrong (unset or
    unknown granularity, an impossible date, a date that does not start a period)."""
    number = message.granularity
    if number == period_pb2.PERIOD_GRANULARITY_UNSPECIFIED:
        raise ValueError("granularity is required (MONTH, QUARTER or YEAR)")
    if number not in period_pb2.PeriodGranularity.values():
        raise ValueError(f"granularity: unknown value {number}")
    name = period_pb2.PeriodGranularity.Name(number).removeprefix("PERIOD_GRANULARITY_")
    day = message.start_date
    try:
        start = date(day.year, day.month, day.day)
    except ValueError as exc:
        raise ValueError(f"start_date {day.year}-{day.month}-{day.day}: {exc}") from None
    return Period(start, Granularity[name]).id
