"""The messages the stream publishes, without I/O: values from sums, the shared copy
with small numbers (and what would give them away) suppressed, SPC signals."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from mhin.evaluation.v1 import aggregate_events_pb2 as pb
from mhin.evaluation.v1 import measure_pb2
from mhin_aggregator.publication import aggregate_updates, spc_signal
from mhin_aggregator.rollup import Cell, Measure, Rollup, Total, exact
from mhin_aggregator.series import Signal
from mhin_aggregator.suppression import table_marks
from mhin_measures import spc
from mhin_measures.complementary import SHOWN, Mark, Marks
from mhin_measures.hierarchy import AggregateKey, Level, SeriesKey
from mhin_measures.rates import MeasureType

NOW = Timestamp(seconds=1_700_000_000)
PROPORTION = Measure(MeasureType.PROPORTION, 100.0, spc.Direction.UP)
COUNT = Measure(MeasureType.COUNT, 1.0, spc.Direction.DOWN)
RATIO = Measure(MeasureType.RATIO, 100_000.0, spc.Direction.DOWN)
KEY = AggregateKey("m1", Level.ARC, "GREATER_MANCHESTER", "2024-01", "ethnicity=Black")


def total(numerator: float, denominator: float = 0.0, cells: int = 2,
          owner: str = "GREATER_MANCHESTER") -> Total:
    return Total(owner, exact(numerator), exact(denominator), cells)


def rollup_of(measure: Measure, *cells: tuple[str, float, float]) -> Rollup:
    """The aggregates of one site's cells (stratum, numerator, denominator)."""
    rollup = Rollup()
    rollup.add_all(Cell("m1", "oldham", "GREATER_MANCHESTER", "p1", "2024-01", stratum,
                        numerator, denominator, 1, measure, 0)
                   for stratum, numerator, denominator in cells)
    return rollup


def disclosable(numerator: float, denominator: float, measure: Measure,
                threshold: int = 5) -> bool:
    """Whether an aggregate alone in its table is shown on the shared topic."""
    return table_marks(rollup_of(measure, ("", numerator, denominator)), "m1", "2024-01",
                       threshold) == {}


def test_the_restricted_copy_has_every_figure_and_the_value_from_the_sums():
    restricted, shared = aggregate_updates(KEY, total(30, 120), PROPORTION, marks=SHOWN,
                                           computed_at=NOW)
    assert (restricted.numerator, restricted.denominator) == (30.0, 120.0)
    assert restricted.value == 25.0 and restricted.has_value
    assert not restricted.suppressed
    assert restricted.level == pb.LEVEL_ARC
    assert restricted.unit == "GREATER_MANCHESTER" and restricted.owner_arc == "GREATER_MANCHESTER"
    assert (restricted.period, restricted.stratum) == ("2024-01", "ethnicity=Black")
    assert restricted.observation_count == 2
    assert restricted.measure_type == measure_pb2.MEASURE_TYPE_PROPORTION
    assert restricted.computed_at == NOW
    assert shared == restricted


def test_a_small_count_is_suppressed_on_the_shared_copy_only():
    restricted, shared = aggregate_updates(KEY, total(3, 120), PROPORTION,
                                           marks=Marks(Mark.PRIMARY, Mark.SECONDARY),
                                           computed_at=NOW)
    assert restricted.numerator == 3.0 and not restricted.suppressed
    assert shared.suppressed and not shared.secondary_suppressed
    assert (shared.numerator, shared.denominator, shared.value, shared.has_value) == \
        (0.0, 0.0, 0.0, False)
    assert (shared.measure_id, shared.unit, shared.period, shared.stratum) == \
        (KEY.measure_id, KEY.unit, KEY.period, KEY.stratum)


def test_what_would_give_a_small_count_away_is_suppressed_too_and_marked():
    rollup = rollup_of(COUNT, ("sex=F", 3, 0), ("sex=M", 20, 0), ("sex=Not stated", 12, 0))
    marks = table_marks(rollup, "m1", "2024-01", 5)
    site = {key.stratum: mark for key, mark in marks.items() if key.level is Level.SITE}
    # 35 - 20 - 12 would give the 3 away: the next-smallest group goes too
    assert site == {"sex=F": Marks(Mark.PRIMARY), "sex=Not stated": Marks(Mark.SECONDARY)}
    key = AggregateKey("m1", Level.SITE, "oldham", "2024-01", "sex=Not stated")
    _, shared = aggregate_updates(key, rollup.totals[key], COUNT, marks=site["sex=Not stated"],
                                  computed_at=NOW)
    assert shared.suppressed and shared.secondary_suppressed and shared.numerator == 0


def test_a_small_complement_of_a_proportion_is_suppressed_too():
    # 118 of 120 discloses the 2 who were not counted
    assert not disclosable(118, 120, PROPORTION)
    assert disclosable(115, 120, PROPORTION)


def test_zero_is_shown_and_the_threshold_is_configurable():
    assert disclosable(0, 120, PROPORTION)
    assert disclosable(7, 0, COUNT)
    assert not disclosable(7, 0, COUNT, threshold=10)


def test_a_ratio_is_suppressed_for_its_count_not_its_exposure():
    assert disclosable(12, 3.5, RATIO)
    assert not disclosable(2, 250_000, RATIO)


def test_a_count_is_its_numerator_and_a_zero_denominator_leaves_a_rate_undefined():
    restricted, _ = aggregate_updates(KEY, total(42), COUNT, marks=SHOWN, computed_at=NOW)
    assert restricted.value == 42.0 and restricted.has_value
    restricted, shared = aggregate_updates(KEY, total(0, 0), PROPORTION, marks=SHOWN,
                                           computed_at=NOW)
    assert (restricted.value, restricted.has_value) == (0.0, False)
    assert not shared.suppressed


def test_a_signal_message_carries_the_point_and_the_limits():
    values = [10.0] * 6 + [11.0] * 6 + [40.0]
    result = spc.analyse(values, spc.Direction.DOWN)
    series = SeriesKey("m1", Level.PROJECT, "p1", "")
    message = spc_signal(Signal(series, "2024-01", result.points[-1], result), computed_at=NOW)
    assert message.rules == [pb.SPC_RULE_POINT_BEYOND_LIMIT]
    assert message.variation == pb.SPC_VARIATION_CONCERN
    assert message.value == 40.0
    assert message.upper_limit == result.upper_limit and message.mean == result.mean
    assert (message.measure_id, message.level, message.unit, message.period) == \
        ("m1", pb.LEVEL_PROJECT, "p1", "2024-01")
