"""Values from summed parts, and what an observation's numbers must satisfy."""

from __future__ import annotations

import pytest

from mhin_measures.rates import (
    InvalidObservation,
    MeasureType,
    validate_multiplier,
    validate_observation,
    value,
)


def test_values_by_type():
    assert value(MeasureType.COUNT, 12, None) == 12.0
    assert value(MeasureType.COUNT, 12, 0, multiplier=100) == 12.0
    assert value(MeasureType.PROPORTION, 30, 120, 100) == 25.0
    assert value(MeasureType.RATIO, 3, 60_000, 100_000) == pytest.approx(5.0)
    assert value(MeasureType.MEAN, 45.5, 7) == pytest.approx(6.5)
    assert value("proportion", 1, 4) == 0.25


@pytest.mark.parametrize("kind", [MeasureType.PROPORTION, MeasureType.RATIO, MeasureType.MEAN])
def test_a_rate_over_no_denominator_is_undefined_not_zero(kind):
    assert value(kind, 0, 0, 100) is None
    assert value(kind, 0, None, 100) is None


def test_rates_come_from_summed_parts_not_averaged_rates():
    sites = [(1, 10), (90, 100)]  # 10% and 90%: their average would be 50%
    total = value(MeasureType.PROPORTION, sum(n for n, _ in sites), sum(d for _, d in sites), 100)
    assert total == pytest.approx(91 / 110 * 100)


@pytest.mark.parametrize(
    ("kind", "numerator", "denominator"),
    [
        (MeasureType.COUNT, 7, None),
        (MeasureType.COUNT, 0, 0),
        (MeasureType.PROPORTION, 5, 5),
        (MeasureType.PROPORTION, 0, 0),
        (MeasureType.RATIO, 9, 2.5),  # per person-year: the denominator need not be whole
        (MeasureType.RATIO, 12, 3),  # a ratio's numerator may exceed its denominator
        (MeasureType.MEAN, 37.25, 9),  # hours: the sum of values need not be whole
    ],
)
def test_valid_observations(kind, numerator, denominator):
    validate_observation(kind, numerator, denominator)


@pytest.mark.parametrize(
    ("kind", "numerator", "denominator", "field", "message"),
    [
        (MeasureType.COUNT, -1, None, "numerator", "must not be negative"),
        (MeasureType.COUNT, 3, 10, "denominator", "must be absent or 0 for a count measure"),
        (MeasureType.COUNT, 2.5, None, "numerator", "whole number"),
        (MeasureType.PROPORTION, 6, 5, "denominator", "5 is below the numerator 6"),
        (MeasureType.PROPORTION, 3, None, "denominator", "is required for a proportion measure"),
        (MeasureType.PROPORTION, 3, -4, "denominator", "must not be negative"),
        (MeasureType.PROPORTION, 3, 4.5, "denominator", "whole number"),
        (MeasureType.RATIO, 3, None, "denominator", "is required for a ratio measure"),
        (MeasureType.RATIO, 1.5, 10, "numerator", "whole number"),
        (MeasureType.MEAN, 10, 2.5, "denominator", "whole number"),
        (MeasureType.MEAN, float("nan"), 2, "numerator", "finite"),
        (MeasureType.MEAN, 10, float("inf"), "denominator", "finite"),
        (MeasureType.MEAN, "10", 2, "numerator", "must be a number"),
        (MeasureType.COUNT, True, None, "numerator", "must be a number"),
    ],
)
def test_invalid_observations_name_the_number_at_fault(
    kind, numerator, denominator, field, message
):
    with pytest.raises(InvalidObservation, match=message) as raised:
        validate_observation(kind, numerator, denominator)
    assert raised.value.field == field
    assert isinstance(raised.value, ValueError)


def test_an_unknown_measure_type_is_an_error():
    with pytest.raises(ValueError, match="'median' is not a valid MeasureType"):
        value("median", 1, 2)


def test_multiplier_of_a_rate_must_be_positive():
    validate_multiplier(MeasureType.PROPORTION, 100)
    validate_multiplier(MeasureType.MEAN, 1)
    validate_multiplier(MeasureType.COUNT, 0)  # a count has no multiplier
    for bad in (0, -100, float("inf"), float("nan"), "100"):
        with pytest.raises(InvalidObservation, match="must be a positive number") as raised:
            validate_multiplier(MeasureType.RATIO, bad)
        assert raised.value.field == "multiplier"
