"""The pages' pure rules: what a URL may ask for, how Making Data Count marks points
and picks the variation icon, tables and their CSV, and reading a token's claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mhin_platform.tokens import SigningKey, issue_token
from mhin_web.domain import (
    MARKERS,
    BadRequest,
    Bar,
    Breakdown,
    ImpactChart,
    ImpactEffect,
    ImpactPeriod,
    Level,
    SeriesRequest,
    SpcChart,
    SpcPoint,
    Table,
    Variation,
    breakdown_rows,
    impact_rows,
    read_token,
    spc_rows,
    tally,
    variation_icon,
)

# The web reads a token only for display (the services verify it): any issuer will do.
ISSUER = SigningKey.generate("mhin-web-tests")


def test_a_series_request_defaults_to_the_projects_own_series():
    wanted = SeriesRequest.parse({"project": "mhin-project-1", "measure": "m1"})
    assert (wanted.level, wanted.unit, wanted.stratum) == (Level.PROJECT, "mhin-project-1", "")
    assert wanted.follow_key == ("m1", "project", "mhin-project-1")


def test_the_level_choice_carries_its_unit_and_national_has_none():
    wanted = SeriesRequest.parse({"project": "p", "at": "arc:GREATER_MANCHESTER"})
    assert (wanted.level, wanted.unit) == (Level.ARC, "GREATER_MANCHESTER")
    assert SeriesRequest.parse({"project": "p", "level": "national", "unit": "x"}).unit \
        == "national"  # its one unit, as the aggregates are keyed


@pytest.mark.parametrize(("query", "field", "says"), [
    ({}, "project", "is required"),
    ({"project": "p", "level": "county"}, "level", "'county' is not one of national"),
    ({"project": "p", "level": "site"}, "unit", "needs its unit (which site)"),
    ({"project": "p", "level": "arc"}, "unit", "needs its unit (which ARC)"),
    ({"project": "<script>"}, "project", "is not a valid id"),
    ({"project": "p", "stratum": "ethnicity=\"x\""}, "stratum", "is not a valid id"),
])
def test_a_bad_request_names_the_field(query, field, says):
    with pytest.raises(BadRequest) as raised:
        SeriesRequest.parse(query)
    assert raised.value.field == field
    assert says in raised.value.message


def test_strata_with_several_stratifiers_are_ids_too():
    assert SeriesRequest.parse({"project": "p", "stratum": "sex=F|age_band=5-11"}).stratum \
        == "sex=F|age_band=5-11"


def test_special_cause_differs_from_common_cause_in_shape_as_well_as_colour():
    shapes = {marker.shape for marker in MARKERS.values()}
    colours = {marker.colour for marker in MARKERS.values()}
    assert len(shapes) == len(colours) == len(MARKERS) == 4


def point(period: str, value: float | None, variation=Variation.COMMON_CAUSE,
          suppressed: bool = False, rules=()) -> SpcPoint:
    return SpcPoint(period, value, suppressed, variation, tuple(rules))


def chart(points, verdict=Variation.COMMON_CAUSE, direction="up", reliable=True) -> SpcChart:
    return SpcChart("Seen in 4 weeks", direction, tuple(points), 50.0, 70.0, 30.0, reliable,
                    verdict)


def test_the_variation_icon_says_high_or_low_by_the_direction_of_improvement():
    points = (point("2025-01", 40), point("2025-02", 80, Variation.IMPROVEMENT))
    assert variation_icon(Variation.IMPROVEMENT, "up", points).letter == "H"
    assert variation_icon(Variation.IMPROVEMENT, "down", points).letter == "L"
    assert variation_icon(Variation.CONCERN, "up", points).letter == "L"
    assert variation_icon(Variation.CONCERN, "down", points).text == \
        "Special cause concern: high values"
    assert variation_icon(Variation.COMMON_CAUSE, "up", points).letter == ""


def test_without_a_direction_the_icon_follows_the_latest_special_point():
    points = (point("2025-01", 40), point("2025-02", 41), point("2025-03", 80, Variation.NEITHER))
    assert variation_icon(Variation.NEITHER, "", points).letter == "H"
    low = (point("2025-01", 40), point("2025-02", 41), point("2025-03", 5, Variation.NEITHER))
    assert variation_icon(Variation.NEITHER, "", low).letter == "L"


def test_the_spc_table_shows_suppressed_as_suppressed_never_as_zero():
    table = spc_rows(chart([
        point("2025-01", 42.5), point("2025-02", None, suppressed=True),
        point("2025-03", 80, Variation.IMPROVEMENT, rules=("POINT_BEYOND_LIMIT",))],
        reliable=False))
    assert table.rows == [
        ("2025-01", "42.50", "Common cause", ""),
        ("2025-02", "suppressed", "-", ""),
        ("2025-03", "80", "Improvement", "a point beyond a process limit"),
    ]
    assert "trial limits" in table.caption


def test_the_breakdown_withholds_each_figure_gRPC_withheld():
    table = breakdown_rows(Breakdown("Seen", "2025-06", "ethnicity", (
        Bar("White", 76.67, 92, 120, False),
        Bar("Mixed", None, None, 8, True, numerator_suppressed=True))))
    assert table.rows == [("White", "76.67", "92", "120"),
                          ("Mixed", "suppressed", "suppressed", "8")]


def test_a_csv_holds_exactly_the_table():
    table = Table(("Period", "Value"), [("2025-01", "1,234"), ("2025-02", "suppressed")])
    assert table.csv() == 'Period,Value\r\n2025-01,"1,234"\r\n2025-02,suppressed\r\n'


def test_tally_counts_most_first_then_by_name():
    assert tally(["b", "a", "b", "c", "a", "b"]) == [("b", 3), ("a", 2), ("c", 1)]


def test_a_token_is_read_for_display_and_its_expiry_checked():
    session = read_token(issue_token(ISSUER, "ana", "arc_member", "greater-manchester",
                                     ttl=timedelta(minutes=5)))
    assert (session.subject, session.role, session.arc) == ("ana", "arc_member",
                                                            "GREATER_MANCHESTER")
    assert session.who == "ana (arc member, Greater Manchester)"
    now = datetime.now(UTC)
    assert not session.expired(now) and session.expired(now + timedelta(minutes=6))


def test_what_is_not_a_token_is_a_bad_request():
    with pytest.raises(BadRequest) as raised:
        read_token("hello")
    assert raised.value.field == "token"


def test_an_effect_reads_as_its_scale_with_its_interval_and_p():
    assert ImpactEffect(0.8912, 0.8403, 0.9521, 0.00104, "rate ratio").text == \
        "rate ratio 0.89 (95% CI 0.84 to 0.95), p = 0.001"
    assert ImpactEffect(-1.2, -2.0, -0.4, 0.00002, "difference").text == \
        "difference -1.20 (95% CI -2.00 to -0.40), p < 0.001"


def test_the_impact_table_holds_exactly_what_the_chart_draws():
    effect = ImpactEffect(1.5, 1.2, 1.9, 0.01, "rate ratio")
    table = impact_rows(ImpactChart(
        "Seen", "quasi-Poisson", "2024-12-01", "2024-12", 1, 2, effect, None, (
            ImpactPeriod("2024-11", 40.0, 41.5, 41.5, False, False),
            ImpactPeriod("2024-12", None, 62.0, 42.0, True, True),
            ImpactPeriod("2025-01", 71.25, 63.0, 42.5, True, False))))
    assert table.rows == [
        ("2024-11", "40", "41.50", "-", "before go-live"),  # the counterfactual is the fit
        ("2024-12", "no value", "62", "42", "after go-live (not in the fit)"),
        ("2025-01", "71.25", "63", "42.50", "after go-live"),
    ]
    assert "go-live 2024-12-01" in table.caption
