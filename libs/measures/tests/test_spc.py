"""XmR analysis with Making Data Count rules, on series whose special causes are
known by construction (mean, moving range and limits are worked out in comments)."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from mhin_measures import spc
from mhin_measures.spc import (
    LIMIT_FACTOR,
    MIN_POINTS_FOR_LIMITS,
    NEAR_LIMIT_FACTOR,
    RUN_LENGTH,
    Direction,
    SpcResult,
    SpcRule,
    Variation,
    analyse,
    latest_signal,
)

BEYOND, SHIFT, TREND, TWO = (
    SpcRule.POINT_BEYOND_LIMIT,
    SpcRule.SHIFT,
    SpcRule.TREND,
    SpcRule.TWO_OF_THREE,
)


def flagged(result: SpcResult) -> dict[int, tuple[SpcRule, ...]]:
    """Index -> rules, for the points where any rule fired."""
    return {point.index: point.rules for point in result.points if point.rules}


def variations(result: SpcResult) -> dict[int, Variation]:
    return {point.index: point.variation for point in result.points if point.rules}


# -- the chart itself -----------------------------------------------------------------


def test_mean_moving_ranges_and_limits():
    result = analyse([10, 12, 11, 15, 12])
    assert result.mean == pytest.approx(12.0)
    assert [point.moving_range for point in result.points] == [None, 2, 1, 4, 3]
    assert result.mean_moving_range == pytest.approx(2.5)
    assert result.upper_limit == pytest.approx(12 + 2.66 * 2.5)
    assert result.lower_limit == pytest.approx(12 - 2.66 * 2.5)
    assert result.upper_near_limit == pytest.approx(12 + 2 / 3 * 2.66 * 2.5)
    assert result.lower_near_limit == pytest.approx(12 - 2 / 3 * 2.66 * 2.5)


def test_empty_series_has_no_statistics():
    result = analyse([])
    assert (result.mean, result.upper_limit, result.points) == (None, None, ())
    assert result.limits_reliable is False
    assert latest_signal(result) is None


def test_one_point_has_a_mean_but_no_limits():
    result = analyse([7])
    assert result.mean == 7
    assert result.mean_moving_range is None
    assert result.upper_limit is None and result.lower_near_limit is None
    assert result.points[0].variation is Variation.COMMON_CAUSE


def test_limits_are_trial_limits_below_the_minimum_number_of_points():
    assert MIN_POINTS_FOR_LIMITS == 15
    short = analyse([10, 11] * 7)
    assert short.upper_limit is not None
    assert short.limits_reliable is False
    assert analyse([10, 11] * 7 + [10]).limits_reliable is True


def test_rules_apply_to_short_series_too():
    # mean 2.8, MR 2.25, upper limit 8.785: the 10 is beyond it with only 5 points.
    result = analyse([1, 1, 1, 1, 10], Direction.UP)
    assert result.limits_reliable is False
    assert flagged(result) == {4: (BEYOND,)}


def test_constant_series_has_zero_moving_range_and_no_special_cause():
    result = analyse([5.0] * 20, Direction.UP)
    assert result.mean_moving_range == 0
    assert result.upper_limit == result.lower_limit == result.mean == 5
    assert flagged(result) == {}
    assert latest_signal(result) is None


def test_a_step_after_a_constant_series_is_beyond_the_collapsed_limits():
    # mean 5.09, MR 0.1: limits 4.82-5.36; the ten 5s are a run below the mean.
    result = analyse([5] * 10 + [6], Direction.UP)
    assert flagged(result) == {**{i: (SHIFT,) for i in range(10)}, 10: (BEYOND,)}
    assert latest_signal(result).variation is Variation.IMPROVEMENT


def test_values_must_be_finite_numbers():
    with pytest.raises(ValueError, match=r"values\[1\]"):
        analyse([1, float("nan"), 3])
    with pytest.raises(ValueError, match=r"values\[0\]"):
        analyse([None, 2])


# -- rule 1: a point beyond a process limit -----------------------------------------------

# mean 168/15 = 11.2; moving ranges sum to 20 over 14, MR = 10/7; upper limit
# 11.2 + 2.66 x 10/7 = 15 exactly: the 15 sits on the limit.
ON_UPPER_LIMIT = [11, 10, 10, 11, 12, 10, 10, 12, 10, 15, 11, 12, 12, 11, 11]


def test_a_point_exactly_on_the_upper_limit_is_not_beyond_it():
    result = analyse(ON_UPPER_LIMIT, Direction.UP)
    assert result.upper_limit == pytest.approx(15)
    assert flagged(result) == {}


def test_a_point_just_above_the_upper_limit_is_special_cause():
    values = [*ON_UPPER_LIMIT]
    values[9] = 15.1  # the limit moves to 15.04
    result = analyse(values, Direction.UP)
    assert flagged(result) == {9: (BEYOND,)}
    assert variations(result) == {9: Variation.IMPROVEMENT}
    assert variations(analyse(values, Direction.DOWN)) == {9: Variation.CONCERN}
    assert variations(analyse(values, None)) == {9: Variation.NEITHER}


def test_lower_limit_mirrors_the_upper_one():
    on_limit = [30 - value for value in ON_UPPER_LIMIT]  # lower limit exactly 15
    result = analyse(on_limit, Direction.DOWN)
    assert result.lower_limit == pytest.approx(15)
    assert flagged(result) == {}
    below = [*on_limit]
    below[9] = 14.9
    assert flagged(analyse(below, Direction.DOWN)) == {9: (BEYOND,)}
    assert variations(analyse(below, Direction.DOWN)) == {9: Variation.IMPROVEMENT}
    assert variations(analyse(below, Direction.UP)) == {9: Variation.CONCERN}


# -- rule 2: a shift of 7 or more points on one side of the mean -------------------------

# mean 42/14 = 3: seven points below, then seven above. MR = 16/13, so the limits
# (3 +/- 3.27) and near limits (3 +/- 2.18) are never reached.
SEVEN_BELOW_SEVEN_ABOVE = [1, 2, 1, 2, 1, 2, 1, 5, 4, 5, 4, 5, 4, 5]


def test_seven_points_on_each_side_of_the_mean_are_two_shifts():
    result = analyse(SEVEN_BELOW_SEVEN_ABOVE, Direction.UP)
    assert result.mean == 3
    assert flagged(result) == {i: (SHIFT,) for i in range(14)}
    assert variations(result) == {
        **{i: Variation.CONCERN for i in range(7)},
        **{i: Variation.IMPROVEMENT for i in range(7, 14)},
    }


def test_six_points_on_one_side_are_not_a_shift():
    # mean 36/12 = 3: six below, six above.
    result = analyse([1, 2, 1, 2, 1, 2, 5, 4, 5, 4, 5, 4])
    assert result.mean == 3
    assert flagged(result) == {}


def test_a_point_on_the_mean_breaks_a_shift():
    # mean 42/14 = 3: the 3 splits the points below into runs of 3 and 3; the
    # seven points above are still a shift.
    result = analyse([1, 2, 1, 3, 1, 2, 1, 5, 4, 5, 4, 5, 4, 4])
    assert result.mean == 3
    assert flagged(result) == {i: (SHIFT,) for i in range(7, 14)}


def test_the_newest_point_signals_when_it_completes_a_shift():
    six_above = SEVEN_BELOW_SEVEN_ABOVE[:-1]  # mean 37/13: the last six are above it
    assert latest_signal(analyse(six_above)) is None
    signal = latest_signal(analyse(SEVEN_BELOW_SEVEN_ABOVE, Direction.DOWN))
    assert signal is not None
    assert (signal.index, signal.rules, signal.variation) == (13, (SHIFT,), Variation.CONCERN)


# -- rule 3: a trend of 7 or more points rising or falling -------------------------------

# mean 4; MR 12/9 puts the upper limit at 7.55 and the near limit at 6.36: only the
# 7 is near it, so two-of-three cannot fire; no run of 7 on one side of the mean.
SEVEN_RISING = [4, 1, 2, 3, 4, 5, 6, 7, 4, 4]


def test_seven_rising_points_are_a_trend():
    result = analyse(SEVEN_RISING, Direction.UP)
    assert flagged(result) == {i: (TREND,) for i in range(1, 8)}
    assert set(variations(result).values()) == {Variation.IMPROVEMENT}


def test_six_rising_points_are_not_a_trend():
    assert flagged(analyse([4, 2, 3, 4, 5, 6, 7, 4, 4])) == {}


def test_an_unchanged_value_breaks_a_trend():
    # 1, 2, 3, 4 then 4, 5, 6, 7: two rises of four points each.
    assert flagged(analyse([4, 1, 2, 3, 4, 4, 5, 6, 7, 4])) == {}


def test_a_falling_trend_is_improvement_when_lower_is_better():
    falling = [4 - (value - 4) for value in SEVEN_RISING]
    assert flagged(analyse(falling)) == {i: (TREND,) for i in range(1, 8)}
    assert set(variations(analyse(falling, Direction.DOWN)).values()) == {Variation.IMPROVEMENT}
    assert set(variations(analyse(falling, Direction.UP)).values()) == {Variation.CONCERN}


def test_a_trend_outranks_a_shift_when_they_disagree():
    # mean 15.43: points 8-14 rise (improvement when up is better) while all lying
    # below the mean (a shift down, concern): the trend decides, as in MDC tools.
    result = analyse([16, 20] * 4 + [11, 11.5, 12, 12.5, 13, 13.5, 14], Direction.UP)
    assert flagged(result) == {
        **{i: (SHIFT,) for i in range(8)},
        **{i: (SHIFT, TREND) for i in range(8, 15)},
    }
    assert set(variations(result).values()) == {Variation.IMPROVEMENT}


def test_the_newest_point_signals_while_a_trend_continues():
    # A gentle rise after a noisy start, so that no point leaves the limits.
    rising = [10, 14] * 4 + [11, 11.5, 12, 12.5, 13, 13.5]
    assert latest_signal(analyse(rising)) is None
    assert latest_signal(analyse([*rising, 14])).rules == (TREND,)
    assert latest_signal(analyse([*rising, 14, 14.5])).rules == (TREND,)
    assert latest_signal(analyse([*rising, 14, 14.5, 14.5])) is None


# -- rule 4: two of three points near a process limit ----------------------------------

BASE = [10, 11] * 10


def test_two_of_three_points_near_the_upper_limit():
    # mean 10.72, MR 1.208: near limit 12.86, upper limit 13.93. The two 13s are in
    # the outer third, the 11 between them is above the mean.
    result = analyse([*BASE, 13, 11, 13, 10, 11], Direction.UP)
    assert result.upper_near_limit < 13 < result.upper_limit
    assert flagged(result) == {20: (TWO,), 22: (TWO,)}
    assert variations(result) == {20: Variation.IMPROVEMENT, 22: Variation.IMPROVEMENT}
    assert set(variations(analyse([*BASE, 13, 11, 13, 10, 11], Direction.DOWN)).values()) == {
        Variation.CONCERN
    }


def test_two_adjacent_points_near_the_limit():
    result = analyse([*BASE, 13, 13, 10, 11])
    assert flagged(result) == {20: (TWO,), 21: (TWO,)}


def test_two_of_three_needs_all_three_points_on_the_same_side_of_the_mean():
    # mean 10.68: the 10 between the two 13s is below it.
    result = analyse([*BASE, 13, 10, 13, 10, 11])
    assert result.upper_near_limit < 13
    assert flagged(result) == {}


def test_points_near_opposite_limits_do_not_count_together():
    # mean 10.52: the 13 is near the upper limit (12.66), the 8 near the lower (8.38).
    result = analyse([*BASE, 13, 11, 8, 10, 11])
    assert result.upper_near_limit < 13 and 8 < result.lower_near_limit
    assert flagged(result) == {}


def test_two_of_three_near_the_lower_limit():
    mirrored = [21 - value for value in [*BASE, 13, 11, 13, 10, 11]]
    result = analyse(mirrored, Direction.DOWN)
    assert flagged(result) == {20: (TWO,), 22: (TWO,)}
    assert set(variations(result).values()) == {Variation.IMPROVEMENT}


# -- latest_signal ----------------------------------------------------------------------


def test_latest_signal_is_none_for_common_cause_at_the_newest_point():
    values = [*ON_UPPER_LIMIT]
    values[9] = 15.1
    assert flagged(analyse(values))  # special cause earlier in the series...
    assert latest_signal(analyse(values)) is None  # ...but not at the newest point


def test_latest_signal_reports_every_rule_fired_at_the_newest_point():
    signal = latest_signal(analyse([1, 2, 3, 4, 5, 6, 30], Direction.DOWN))
    assert signal is not None
    assert signal.rules == (BEYOND, TREND)
    assert signal.variation is Variation.CONCERN
    assert signal.value == 30


# -- every rule as worded above, window by window, against analyse ---------------------


def rules_as_worded(xs: list[float]) -> list[dict[SpcRule, int]]:
    """Per point, each rule fired with its sign, found the slow way: every window of
    the module docstring's wording checked on its own."""

    def compare(x: float, reference: float) -> int:
        if math.isclose(x, reference, rel_tol=1e-9, abs_tol=1e-9 * 1e-3):
            return 0
        return 1 if x > reference else -1

    mean = math.fsum(xs) / len(xs)
    mean_range = math.fsum(abs(b - a) for a, b in itertools.pairwise(xs)) / (len(xs) - 1)
    upper, lower = mean + LIMIT_FACTOR * mean_range, mean - LIMIT_FACTOR * mean_range
    upper_near = mean + NEAR_LIMIT_FACTOR * mean_range
    lower_near = mean - NEAR_LIMIT_FACTOR * mean_range
    fired: list[dict[SpcRule, int]] = [{} for _ in xs]
    sides = [compare(x, mean) for x in xs]
    for index, x in enumerate(xs):
        if compare(x, upper) > 0 or compare(x, lower) < 0:
            fired[index][BEYOND] = compare(x, mean)
    for start in range(len(xs)):  # later windows win: a turn belongs to the later trend
        for end in range(start + RUN_LENGTH, len(xs) + 1):
            window = range(start, end)
            if sides[start] and all(sides[i] == sides[start] for i in window):
                for i in window:
                    fired[i][SHIFT] = sides[start]
            steps = {compare(xs[i], xs[i - 1]) for i in range(start + 1, end)}
            if len(steps) == 1 and 0 not in steps:
                [step] = steps
                for i in window:
                    fired[i][TREND] = step
    near = [
        1 if compare(x, upper_near) > 0 and compare(x, upper) <= 0
        else -1 if compare(x, lower_near) < 0 and compare(x, lower) >= 0 else 0
        for x in xs
    ]
    for start in range(len(xs) - 2):
        window = range(start, start + 3)
        side = sides[start]
        close = [i for i in window if near[i] == side]
        if side and all(sides[i] == side for i in window) and len(close) >= 2:
            for i in close:
                fired[i][TWO] = side
    return fired


def variation_as_worded(fired: dict[SpcRule, int], direction: Direction | None) -> Variation:
    decisive = [fired[rule] for rule in (BEYOND, TREND, TWO, SHIFT) if rule in fired]
    if not decisive:
        return Variation.COMMON_CAUSE
    if direction is None:
        return Variation.NEITHER
    better = 1 if direction is Direction.UP else -1
    return Variation.IMPROVEMENT if decisive[0] == better else Variation.CONCERN


def random_series(rng: random.Random) -> list[float]:
    """Short and long, with ties, points on the mean, steps, trends and noise."""
    length = rng.randint(2, 40)
    shape = rng.randrange(4)
    if shape == 0:
        return [float(rng.randint(0, 4)) for _ in range(length)]
    if shape == 1:
        return [rng.choice((5.0, 5.0, 5.0, 6.0, 20.0)) for _ in range(length)]
    if shape == 2:
        return [index * 0.5 + rng.random() for index in range(length)]
    return [rng.gauss(50, 10) for _ in range(length)]


@pytest.mark.parametrize("seed", range(4))
def test_analyse_finds_exactly_the_rules_as_worded_on_random_series(seed):
    rng = random.Random(seed)
    for _ in range(500):
        xs = random_series(rng)
        direction = rng.choice((None, Direction.UP, Direction.DOWN))
        expected = rules_as_worded(xs)
        points = analyse(xs, direction).points
        assert [point.rules for point in points] == [
            tuple(rule for rule in SpcRule if rule in fired) for fired in expected
        ], xs
        assert [point.variation for point in points] == [
            variation_as_worded(fired, direction) for fired in expected
        ], xs


# ----------------------------------------------------------------- rebased charts


def test_a_rebased_chart_has_each_segments_own_mean_and_limits():
    before = [10, 11, 10, 12, 11, 10, 11, 12, 10, 11]
    after = [15, 16, 15, 17, 16, 15, 16, 17]
    whole = spc.analyse(before + after)
    assert any(spc.SpcRule.SHIFT in p.rules for p in whole.points)
    segments = spc.analyse_segments(before + after, rebase_at=[len(before)])
    assert [s.start for s in segments] == [0, 10]
    first, second = (s.result for s in segments)
    assert first.mean == pytest.approx(sum(before) / len(before))
    assert second.mean == pytest.approx(sum(after) / len(after))
    # Within its own segment the step is no shift, and the first point after the
    # rebase has no moving range: ranges never span a rebase.
    assert all(not p.rules for s in segments for p in s.result.points)
    assert second.points[0].index == 10 and second.points[0].moving_range is None
    assert second.mean_moving_range == pytest.approx(
        sum(abs(b - a) for a, b in zip(after, after[1:], strict=False)) / (len(after) - 1))


def test_a_fixed_baseline_judges_later_points_against_the_first_n():
    values = [10, 11, 10, 12, 11, 10, 11, 12, 10, 11, 13, 14, 15, 16, 17, 18, 19]
    (fixed,) = spc.analyse_segments(values, fix_after_n_points=10)
    assert fixed.baseline_points == 10
    assert fixed.result.mean == pytest.approx(10.8)
    assert spc.SpcRule.POINT_BEYOND_LIMIT in fixed.result.points[-1].rules
    assert not fixed.result.limits_reliable  # 10 baseline points: trial limits


def test_moving_range_screening_leaves_out_the_outlying_ranges():
    values = [10, 11, 10, 11, 10, 11, 10, 40, 10, 11, 10, 11]
    (plain,) = spc.analyse_segments(values)
    (screened,) = spc.analyse_segments(values, screen_outliers=True)
    assert plain.result.mean_moving_range == pytest.approx(spc.analyse(values).mean_moving_range)
    assert screened.result.mean_moving_range < plain.result.mean_moving_range
    assert screened.result.mean_moving_range == pytest.approx(1.0)


@pytest.mark.parametrize(("options", "named"), [
    ({"rebase_at": [0]}, "rebase_at"), ({"rebase_at": [5, 3]}, "rebase_at"),
    ({"rebase_at": [12]}, "rebase_at"), ({"fix_after_n_points": 1}, "fix_after_n_points"),
])
def test_bad_rebase_options_name_the_option(options, named):
    with pytest.raises(ValueError, match=named):
        spc.analyse_segments([1.0] * 12, **options)
