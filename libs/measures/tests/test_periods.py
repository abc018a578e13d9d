"""Period ids: parsing, validation, navigation, ordering, frequency fit."""

from __future__ import annotations

from datetime import date

import pytest

from mhin_measures.periods import (
    Frequency,
    Granularity,
    Period,
    fits,
    parse_period,
    sort_key,
    validate_period,
)


@pytest.mark.parametrize(
    ("period_id", "start", "end", "granularity"),
    [
        ("2024-03", date(2024, 3, 1), date(2024, 3, 31), Granularity.MONTH),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29), Granularity.MONTH),
        ("2024-Q1", date(2024, 1, 1), date(2024, 3, 31), Granularity.QUARTER),
        ("2024-Q4", date(2024, 10, 1), date(2024, 12, 31), Granularity.QUARTER),
        ("2024", date(2024, 1, 1), date(2024, 12, 31), Granularity.YEAR),
    ],
)
def test_parse_gives_start_end_and_granularity(period_id, start, end, granularity):
    period = parse_period(period_id)
    assert (period.start, period.end, period.granularity) == (start, end, granularity)
    assert period.id == str(period) == period_id


@pytest.mark.parametrize(
    ("period_id", "message"),
    [
        ("2024-13", "month 13 is not 01 to 12"),
        ("2024-00", "month 0 is not 01 to 12"),
        ("2024-Q5", "quarter 5 is not 1 to 4"),
        ("2024-Q0", "quarter 0 is not 1 to 4"),
        ("2024-3", "not a period id"),
        ("2024-q1", "not a period id"),
        ("24-03", "not a period id"),
        ("2024-03-01", "not a period id"),
        (" 2024-03", "not a period id"),
        ("", "not a period id"),
        ("0999", "outside 1900-2999"),
        ("２０２４-03", "not a period id"),
    ],
)
def test_malformed_ids_are_rejected_saying_why(period_id, message):
    with pytest.raises(ValueError, match=message):
        parse_period(period_id)


def test_an_id_must_be_text():
    with pytest.raises(ValueError, match="must be text"):
        parse_period(202403)


def test_a_period_must_start_on_the_first_day_of_its_length():
    with pytest.raises(ValueError, match="not the first day of a quarter"):
        Period(date(2024, 2, 1), Granularity.QUARTER)
    with pytest.raises(ValueError, match="not the first day of a month"):
        Period(date(2024, 2, 2), Granularity.MONTH)


@pytest.mark.parametrize(
    ("period_id", "following", "preceding"),
    [
        ("2024-12", "2025-01", "2024-11"),
        ("2024-01", "2024-02", "2023-12"),
        ("2024-Q4", "2025-Q1", "2024-Q3"),
        ("2024-Q1", "2024-Q2", "2023-Q4"),
        ("2024", "2025", "2023"),
    ],
)
def test_next_and_previous_cross_year_ends(period_id, following, preceding):
    period = parse_period(period_id)
    assert period.next().id == following
    assert period.previous().id == preceding


def test_sort_key_orders_chronologically_shorter_first_on_a_shared_start():
    ids = ["2024", "2024-Q2", "2023-12", "2024-01", "2024-Q1", "2024-04", "2023"]
    assert sorted(ids, key=sort_key) == [
        "2023",
        "2023-12",
        "2024-01",
        "2024-Q1",
        "2024",
        "2024-04",
        "2024-Q2",
    ]
    assert sorted(["2024-10", "2024-09", "2024-11"], key=sort_key) == [
        "2024-09",
        "2024-10",
        "2024-11",
    ]


@pytest.mark.parametrize(
    ("period_id", "frequency", "expected"),
    [
        ("2024-03", Frequency.MONTHLY, True),
        ("2024-03", Frequency.QUARTERLY, False),
        ("2024-Q1", Frequency.QUARTERLY, True),
        ("2024-Q1", Frequency.MONTHLY, False),
        ("2024", Frequency.YEARLY, True),
        ("2024", "monthly", False),
        ("2024-13", Frequency.MONTHLY, False),
    ],
)
def test_fits_a_measure_frequency(period_id, frequency, expected):
    assert fits(period_id, frequency) is expected


def test_validate_returns_the_id_or_says_what_does_not_fit():
    assert validate_period("2024-Q2", Frequency.QUARTERLY) == "2024-Q2"
    assert validate_period("2024-05") == "2024-05"
    with pytest.raises(
        ValueError, match="'2024-03' is a month, but the measure is reported quarterly"
    ):
        validate_period("2024-03", Frequency.QUARTERLY)
    with pytest.raises(ValueError, match="not a period id"):
        validate_period("March 2024", Frequency.MONTHLY)
