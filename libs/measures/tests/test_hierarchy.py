"""The hierarchy's record keys: the stream processors' changelog and every topic's
records are keyed by these strings, so their format must not change."""

from __future__ import annotations

from mhin_measures.hierarchy import NATIONAL_UNIT, AggregateKey, Level, SeriesKey, cell_key


def test_aggregate_and_series_keys_are_their_fields_joined_by_bars():
    key = AggregateKey("m-1", Level.ARC, "GREATER_MANCHESTER", "2025-03", "sex=F|age_band=5-11")
    assert key.text == "m-1|arc|GREATER_MANCHESTER|2025-03|sex=F|age_band=5-11"
    assert key.series == SeriesKey("m-1", Level.ARC, "GREATER_MANCHESTER", "sex=F|age_band=5-11")
    assert key.series.text == "m-1|arc|GREATER_MANCHESTER|sex=F|age_band=5-11"
    assert key.series.at("2025-03") == key


def test_the_national_level_has_one_unit_and_levels_run_from_site_up():
    assert AggregateKey("m-1", Level.NATIONAL, NATIONAL_UNIT, "2025", "").text \
        == "m-1|national|national|2025|"
    assert list(Level) == [Level.SITE, Level.ARC, Level.PROJECT, Level.NATIONAL]


def test_a_cell_is_keyed_by_measure_site_period_and_stratum():
    assert cell_key("m-1", "site-9", "2025-03", "") == "m-1|site-9|2025-03|"
