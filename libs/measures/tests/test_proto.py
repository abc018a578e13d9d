"""Period ids to and from mhin.common.v1.Period."""

from __future__ import annotations

import pytest

from mhin.common.v1 import period_pb2
from mhin_measures.proto import period_from_proto, period_to_proto


@pytest.mark.parametrize("period_id", ["2024-03", "2024-Q3", "2024"])
def test_round_trip(period_id):
    assert period_from_proto(period_to_proto(period_id)) == period_id


def test_message_fields():
    message = period_to_proto("2024-Q3")
    assert (message.start_date.year, message.start_date.month, message.start_date.day) == (
        2024,
        7,
        1,
    )
    assert message.granularity == period_pb2.PERIOD_GRANULARITY_QUARTER


def period(year, month, day, granularity):
    return period_pb2.Period(
        start_date=period_pb2.Date(year=year, month=month, day=day), granularity=granularity
    )


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (period(2024, 3, 1, period_pb2.PERIOD_GRANULARITY_UNSPECIFIED), "granularity is required"),
        (period(2024, 3, 1, 9), "unknown value 9"),
        (period(2024, 2, 30, period_pb2.PERIOD_GRANULARITY_MONTH), "start_date 2024-2-30"),
        (period(2024, 3, 15, period_pb2.PERIOD_GRANULARITY_MONTH), "not the first day of a month"),
        (
            period(2024, 2, 1, period_pb2.PERIOD_GRANULARITY_QUARTER),
            "not the first day of a quarter",
        ),
        (period(2024, 4, 1, period_pb2.PERIOD_GRANULARITY_YEAR), "not the first day of a year"),
    ],
)
def test_bad_messages_are_rejected_saying_why(message, error):
    with pytest.raises(ValueError, match=error):
        period_from_proto(message)
