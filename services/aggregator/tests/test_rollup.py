"""The roll-up rules without I/O: which aggregates a cell counts towards, exact sums,
versions (new, replayed, stale), and incremental sums equal to a batch."""

from __future__ import annotations

import random

import pytest

from mhin_aggregator.rollup import Cell, Measure, Outcome, Rollup, aggregate_keys, exact, to_float
from mhin_measures.hierarchy import AggregateKey, Level, SeriesKey
from mhin_measures.rates import MeasureType
from mhin_measures.spc import Direction

COUNT = Measure(MeasureType.COUNT, 1.0, Direction.DOWN)
MEAN = Measure(MeasureType.MEAN, 1.0, None)


def cell(site="site-1", arc="GREATER_MANCHESTER", period="2024-01", stratum="",
         numerator=3.0, denominator=0.0, version=1, measure=COUNT, measure_id="m1",
         project="p1", partition=0) -> Cell:
    return Cell(measure_id=measure_id, site_id=site, arc=arc, project_id=project,
                period=period, stratum=stratum, numerator=numerator,
                denominator=denominator, version=version, measure=measure,
                partition=partition)


def test_a_cell_counts_towards_each_level_and_each_stratum_it_rolls_up_to():
    keys = dict(aggregate_keys(cell(stratum="sex=F|ethnicity=Black")))
    strata = {"", "sex=F", "ethnicity=Black", "sex=F|ethnicity=Black"}
    assert {key.stratum for key in keys} == strata
    assert len(keys) == 4 * len(strata)
    assert keys[AggregateKey("m1", Level.SITE, "site-1", "2024-01", "")] == "GREATER_MANCHESTER"
    assert keys[AggregateKey("m1", Level.ARC, "GREATER_MANCHESTER", "2024-01", "sex=F")] \
        == "GREATER_MANCHESTER"
    assert keys[AggregateKey("m1", Level.PROJECT, "p1", "2024-01", "")] == ""
    assert keys[AggregateKey("m1", Level.NATIONAL, "national", "2024-01", "")] == ""


def test_keys_read_as_the_contract_says():
    key = AggregateKey("m1", Level.ARC, "GREATER_MANCHESTER", "2024-Q1", "ethnicity=Black")
    assert key.text == "m1|arc|GREATER_MANCHESTER|2024-Q1|ethnicity=Black"
    assert key.series == SeriesKey("m1", Level.ARC, "GREATER_MANCHESTER", "ethnicity=Black")
    assert key.series.text == "m1|arc|GREATER_MANCHESTER|ethnicity=Black"


@pytest.mark.parametrize("number", [0.0, 1.0, 0.1, 2.5, 1e-300, 123456789.123, 5e-324, 1e300])
def test_exact_units_round_trip_every_double(number):
    assert to_float(exact(number)) == number


def test_exact_sums_do_not_depend_on_order_or_on_corrections():
    values = [0.1, 0.2, 0.3, 1e16, 1.0, -1e16 + 1e16, 7.7]
    total = sum(exact(v) for v in values)
    assert to_float(total) == to_float(sum(exact(v) for v in reversed(values)))
    # 0.1 + 0.2 - 0.1 is not 0.2 in floating point; in exact units it is
    assert to_float(exact(0.1) + exact(0.2) - exact(0.1)) == 0.2


def test_a_new_cell_is_applied_and_changes_its_aggregates():
    rollup = Rollup()
    assert rollup.observe(None, cell(numerator=3)) is Outcome.APPLIED
    site = AggregateKey("m1", Level.SITE, "site-1", "2024-01", "")
    assert rollup.totals[site].figures == (3.0, 0.0)
    assert rollup.totals[site].cells == 1
    assert site in rollup.take_changes()
    assert rollup.take_changes() == set()


def test_a_correction_replaces_the_old_value_and_never_counts_both():
    rollup = Rollup()
    first = cell(numerator=3)
    rollup.observe(None, first)
    rollup.observe(None, cell(site="site-2", numerator=10))
    assert rollup.observe(first, cell(numerator=5, version=2)) is Outcome.APPLIED
    national = AggregateKey("m1", Level.NATIONAL, "national", "2024-01", "")
    assert rollup.totals[national].figures == (15.0, 0.0)
    assert rollup.totals[national].cells == 2


def test_the_stored_version_again_is_a_replay_that_only_marks_its_aggregates():
    rollup = Rollup()
    stored = cell(numerator=3)
    rollup.observe(None, stored)
    rollup.take_changes()
    assert rollup.observe(stored, cell(numerator=3)) is Outcome.REPLAYED
    site = AggregateKey("m1", Level.SITE, "site-1", "2024-01", "")
    assert rollup.totals[site].figures == (3.0, 0.0)
    assert site in rollup.take_changes()


def test_an_older_version_changes_nothing():
    rollup = Rollup()
    stored = cell(numerator=5, version=2)
    rollup.observe(None, stored)
    rollup.take_changes()
    assert rollup.observe(stored, cell(numerator=3, version=1)) is Outcome.STALE
    assert rollup.take_changes() == set()
    assert rollup.totals[AggregateKey("m1", Level.SITE, "site-1", "2024-01", "")].figures \
        == (5.0, 0.0)


def test_a_cell_that_moves_empties_its_old_aggregates():
    rollup = Rollup()
    old = cell(arc="WEST")
    rollup.observe(None, old)
    rollup.observe(old, cell(arc="WESSEX", version=2))
    assert rollup.totals[AggregateKey("m1", Level.ARC, "WEST", "2024-01", "")].cells == 0
    assert rollup.totals[AggregateKey("m1", Level.ARC, "WESSEX", "2024-01", "")].cells == 1


def test_series_points_are_in_period_order_and_skip_empty_aggregates():
    rollup = Rollup()
    for period in ("2024-03", "2023-12", "2024-01"):
        rollup.observe(None, cell(period=period))
    series = SeriesKey("m1", Level.SITE, "site-1", "")
    assert [period for period, _ in rollup.series_points(series)] == \
        ["2023-12", "2024-01", "2024-03"]
    assert series in rollup.series()


def test_changes_not_yet_published_survive_a_rebuild_for_the_cells_it_keeps():
    before = Rollup()
    kept, moved_away = cell(measure_id="m1"), cell(measure_id="m2", partition=1)
    before.observe(None, kept)
    before.observe(None, moved_away)
    rebuilt = Rollup()
    rebuilt.add_all([kept])  # the worker keeps partition 0 only
    rebuilt.restore_changes(before.take_changes())
    assert rebuilt.take_changes() == {key for key, _ in aggregate_keys(kept)}


def test_a_cell_survives_its_table_record():
    original = cell(stratum="ethnicity=Black", measure=Measure(MeasureType.RATIO, 1e5, None),
                    numerator=2.5, denominator=1000.25, version=3, partition=4)
    assert Cell.from_record(original.to_record()) == original
    assert original.key == "m1|site-1|2024-01|ethnicity=Black"


@pytest.mark.parametrize("seed", range(20))
def test_incremental_sums_under_duplicates_corrections_and_reordering_equal_a_batch(seed):
    rng = random.Random(seed)
    history = []  # every version of every cell, as evaluation would publish them
    for site in ("a", "b", "c"):
        for period in ("2024-01", "2024-02"):
            for stratum in ("sex=F", "sex=M"):
                versions = rng.randint(1, 3)
                for version in range(1, versions + 1):
                    history.append(cell(site=site, period=period, stratum=stratum,
                                        measure=MEAN, version=version,
                                        numerator=round(rng.uniform(0, 50), 2),
                                        denominator=float(rng.randint(0, 9))))
    deliveries = history + rng.sample(history, len(history) // 2)  # duplicates
    rng.shuffle(deliveries)  # any order, older versions after newer ones too
    stored: dict[str, Cell] = {}
    incremental = Rollup()
    for delivered in deliveries:
        if incremental.observe(stored.get(delivered.key), delivered) is Outcome.APPLIED:
            stored[delivered.key] = delivered
    latest: dict[str, Cell] = {}
    for version in history:
        if version.key not in latest or version.version > latest[version.key].version:
            latest[version.key] = version
    batch = Rollup()
    batch.add_all(latest.values())
    assert stored == latest
    assert {k: (t.numerator, t.denominator, t.cells) for k, t in incremental.totals.items()} == \
        {k: (t.numerator, t.denominator, t.cells) for k, t in batch.totals.items()}
