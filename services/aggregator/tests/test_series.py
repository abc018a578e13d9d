"""When a series update raises an SPC signal (the XmR rules are mhin_measures.spc's)."""

from __future__ import annotations

from mhin_aggregator.series import SpcWatch
from mhin_measures.hierarchy import Level, SeriesKey
from mhin_measures.spc import Direction, SpcRule, Variation

SERIES = SeriesKey("m1", Level.NATIONAL, "national", "")
OTHER = SeriesKey("m1", Level.SITE, "site-1", "")
STABLE = [10.0, 11.0, 9.0, 10.0, 12.0, 10.0, 9.0, 11.0, 10.0, 10.0, 11.0, 9.0]


def points(values: list[float]) -> list[tuple[str, float]]:
    return [(f"2023-{month:02d}", value) for month, value in enumerate(values, start=1)]


def test_common_cause_raises_nothing():
    assert SpcWatch().check(SERIES, points(STABLE), {"2023-12"}, Direction.UP) == []


def test_special_cause_at_the_updated_point_is_signalled_with_its_variation():
    watch = SpcWatch()
    series = points(STABLE[:11] + [40.0])
    [signal] = watch.check(SERIES, series, {"2023-12"}, Direction.DOWN)
    assert signal.period == "2023-12"
    assert SpcRule.POINT_BEYOND_LIMIT in signal.point.rules
    assert signal.point.variation is Variation.CONCERN
    [signal] = SpcWatch().check(SERIES, series, {"2023-12"}, Direction.UP)
    assert signal.point.variation is Variation.IMPROVEMENT


def test_a_signal_is_raised_once_not_on_every_later_update():
    watch = SpcWatch()
    series = points(STABLE[:11] + [40.0])
    assert watch.check(SERIES, series, {"2023-12"}, Direction.UP)
    assert watch.check(SERIES, series, {"2023-12"}, Direction.UP) == []


def test_special_cause_elsewhere_in_the_series_is_not_the_updated_point():
    series = points(STABLE[:6] + [40.0] + STABLE[6:11])
    assert SpcWatch().check(SERIES, series, {"2023-12"}, Direction.UP) == []


def test_a_run_reaching_seven_points_signals_a_shift_at_the_seventh():
    watch = SpcWatch()
    low, high = [5.0, 6.0, 5.0, 6.0, 5.0, 6.0, 5.0], [9.0, 10.0, 9.0, 10.0, 9.0, 10.0, 9.0]
    six = points(low + high[:6])
    assert all(SpcRule.SHIFT not in signal.point.rules
               for signal in watch.check(SERIES, six, {six[-1][0]}, Direction.UP))
    seven = points(low + high)
    signals = watch.check(SERIES, seven, {seven[-1][0]}, Direction.UP)
    assert [signal.period for signal in signals] == [seven[-1][0]]
    assert SpcRule.SHIFT in signals[0].point.rules


def test_series_are_watched_separately_and_forgotten_when_they_move_away():
    watch = SpcWatch()
    series = points(STABLE[:11] + [40.0])
    assert watch.check(SERIES, series, {"2023-12"}, Direction.UP)
    assert watch.check(OTHER, series, {"2023-12"}, Direction.UP)
    watch.keep_only({OTHER})
    assert watch.check(SERIES, series, {"2023-12"}, Direction.UP)  # forgotten: raised again
    assert watch.check(OTHER, series, {"2023-12"}, Direction.UP) == []


def test_a_point_analysed_before_its_update_is_signalled_when_its_update_comes():
    """A round may analyse sums that batches applied after it began have moved on:
    the later points are already in the series, but their update is the next round's."""
    watch = SpcWatch()
    series = points(STABLE[:11] + [40.0])
    earlier = {period for period, _ in series[:11]}
    assert {signal.period for signal in watch.check(SERIES, series, earlier, Direction.UP)} \
        == earlier, "below the mean the later point raised: a shift at each"
    [signal] = watch.check(SERIES, series, {"2023-12"}, Direction.UP)
    assert (signal.period, signal.point.variation) == ("2023-12", Variation.IMPROVEMENT)


def test_the_same_rule_on_the_other_side_is_a_new_signal():
    watch = SpcWatch()
    [improvement] = watch.check(SERIES, points(STABLE[:11] + [40.0]), {"2023-12"}, Direction.UP)
    [concern] = watch.check(SERIES, points(STABLE[:11] + [-20.0]), {"2023-12"}, Direction.UP)
    assert improvement.point.rules == concern.point.rules == (SpcRule.POINT_BEYOND_LIMIT,)
    assert concern.point.variation is Variation.CONCERN
