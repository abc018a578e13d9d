"""Small-number suppression and who sees data in full."""

from __future__ import annotations

import pytest

from mhin_measures.disclosure import DEFAULT_THRESHOLD, Disclosed, disclose, is_small, visible_to
from mhin_measures.rates import MeasureType

COUNT, PROPORTION, RATIO, MEAN = (
    MeasureType.COUNT,
    MeasureType.PROPORTION,
    MeasureType.RATIO,
    MeasureType.MEAN,
)


def test_counts_from_one_to_four_are_small_zero_and_five_are_not():
    assert DEFAULT_THRESHOLD == 5
    assert [is_small(count) for count in range(7)] == [False, True, True, True, True, False, False]
    assert is_small(9, threshold=10) and not is_small(10, threshold=10)


@pytest.mark.parametrize("count", [1, 4])
def test_a_small_count_is_suppressed_and_marked(count):
    shown = disclose(COUNT, count, None)
    assert shown == Disclosed(None, None, None, True, False, True)
    assert shown.suppressed


@pytest.mark.parametrize("count", [0, 5, 250])
def test_zero_and_counts_at_the_threshold_are_shown(count):
    shown = disclose(COUNT, count, None)
    assert shown == Disclosed(count, None, float(count))
    assert not shown.suppressed


def test_a_rate_on_a_suppressed_numerator_is_suppressed_the_denominator_shown():
    shown = disclose(PROPORTION, 3, 200, 100)
    assert (shown.numerator, shown.denominator, shown.value) == (None, 200, None)
    assert shown.numerator_suppressed and shown.value_suppressed
    assert not shown.denominator_suppressed


def test_a_small_denominator_of_people_suppresses_the_proportion():
    shown = disclose(PROPORTION, 0, 4, 100)  # the 4 are also the complement of 0
    assert (shown.numerator, shown.denominator, shown.value) == (None, None, None)
    assert shown.numerator_suppressed and shown.denominator_suppressed and shown.value_suppressed


def test_a_small_complement_of_a_proportion_is_suppressed():
    # 47 of 50 would disclose the 3 who were not counted.
    shown = disclose(PROPORTION, 47, 50, 100)
    assert (shown.numerator, shown.denominator, shown.value) == (None, 50, None)
    assert shown.numerator_suppressed and shown.value_suppressed


def test_a_complete_proportion_is_shown():
    assert disclose(PROPORTION, 50, 50, 100) == Disclosed(50, 50, 100.0)


def test_a_ratio_denominator_is_an_exposure_not_suppressed_for_its_size():
    assert disclose(RATIO, 12, 3, 1000) == Disclosed(12, 3, 4000.0)
    shown = disclose(RATIO, 2, 80_000, 100_000)
    assert (shown.numerator, shown.denominator, shown.value) == (None, 80_000, None)


def test_a_mean_over_few_cases_is_suppressed_with_its_sum():
    shown = disclose(MEAN, 13.5, 3)
    assert (shown.numerator, shown.denominator, shown.value) == (None, None, None)
    assert shown.numerator_suppressed and shown.denominator_suppressed and shown.value_suppressed
    assert disclose(MEAN, 2.5, 5) == Disclosed(2.5, 5, 0.5)


def test_an_undefined_rate_is_none_but_not_marked_suppressed():
    shown = disclose(RATIO, 0, 0, 100)
    assert shown == Disclosed(0, 0, None)
    assert not shown.suppressed


def test_the_threshold_is_configurable():
    assert not disclose(COUNT, 6, None).suppressed
    assert disclose(COUNT, 6, None, threshold=10).suppressed


def test_in_full_shows_everything():
    assert disclose(PROPORTION, 3, 4, 100, in_full=True) == Disclosed(3, 4, 75.0)


@pytest.mark.parametrize(
    ("owner", "caller", "national", "full"),
    [
        ("GREATER_MANCHESTER", "GREATER_MANCHESTER", False, True),
        ("GREATER_MANCHESTER", "SOUTH_LONDON", False, False),
        ("GREATER_MANCHESTER", None, False, False),
        ("GREATER_MANCHESTER", None, True, True),
        ("", "SOUTH_LONDON", False, False),  # project or national aggregate
        (None, None, False, False),
        ("", "", False, False),
        ("", None, True, True),
    ],
)
def test_visible_to(owner, caller, national, full):
    assert visible_to(owner, caller, national) is full
