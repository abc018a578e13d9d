"""evaluation's domain rules: pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mhin_evaluation import domain, suppression
from mhin_evaluation.domain import (
    AggregateRow,
    MeasureDraft,
    ObservationDraft,
    Outcome,
    ProjectSites,
    Site,
)
from mhin_evaluation.reference_measures import reference_measures
from mhin_measures.hierarchy import Level
from mhin_measures.spc import SpcRule, Variation
from mhin_platform.auth import Principal, Role
from mhin_platform.errors import InvalidArgument
from mhin_platform.reference import Arc
from mhin_platform.validation import build

NOW = datetime(2026, 3, 15, tzinfo=UTC)
TODAY = NOW.date()
GM, YH = Arc.GREATER_MANCHESTER, Arc.YORKSHIRE_AND_HUMBER
GM_MEMBER = Principal("gm", Role.ARC_MEMBER, GM)
YH_MEMBER = Principal("yh", Role.ARC_MEMBER, YH)
GM_VIEWER = Principal("gm-viewer", Role.VIEWER, GM)
NATIONAL = Principal("national", Role.NATIONAL_ADMIN)


def measure(**changes) -> domain.Measure:
    data = {
        "id": "pcref-minority-referrals", "project_id": "mhin-project-1",
        "title": "Referrals from minority ethnic communities", "tag": {"re_aim": "Reach"},
        "type": "proportion", "numerator": "minority referrals", "denominator": "referrals",
        "multiplier": 100, "direction": "up", "frequency": "monthly",
        "stratifiers": ["ethnicity"],
    }
    return domain.define(build(MeasureDraft, {**data, **changes}, "measure"), NOW)


SITE = Site(id="oldham", project_id="mhin-project-1", name="Oldham", arc=GM)


def draft(**changes) -> ObservationDraft:
    data = {"measure_id": "pcref-minority-referrals", "site_id": "oldham", "period": "2026-01",
            "stratum": "ethnicity=black", "numerator": 12, "denominator": 40}
    return ObservationDraft(**{**data, **changes})


def test_the_reference_measures_are_the_thirteen_of_the_design_with_stable_ids():
    measures = reference_measures()
    assert len(measures) == 13 == len({m.id for m in measures})
    by_project = {p: sorted(m.id for m in measures if m.project_id == p)
                  for p in ("mhin-project-1", "mhin-project-2", "mhin-project-3")}
    assert by_project["mhin-project-1"] == ["pcref-ethnicity-recorded", "pcref-mha-detentions",
                                            "pcref-minority-referrals",
                                            "pcref-restrictive-practice"]
    assert len(by_project["mhin-project-2"]) == 5 and len(by_project["mhin-project-3"]) == 4
    starting = next(m for m in measures if m.id == "cbt-children-starting")
    assert [s.value for s in starting.stratifiers] == ["sex", "age_band", "ethnicity"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": "No Capitals"}, "measure.id"),
        ({"tag": {}}, "measure.tag"),
        ({"tag": {"re_aim": "Reach", "proctor": "Fidelity"}}, "measure.tag"),
        ({"type": "count"}, "measure.denominator"),
        ({"type": "count", "denominator": "", "multiplier": 100}, "measure.multiplier"),
        ({"denominator": ""}, "measure.denominator"),
        ({"multiplier": 0}, "measure.multiplier"),
        ({"stratifiers": ["ethnicity", "ethnicity"]}, "measure.stratifiers"),
        ({"stratifiers": ["religion"]}, "measure.stratifiers.0"),
        ({"frequency": "weekly"}, "measure.frequency"),
    ],
)
def test_bad_definitions_name_the_field(changes, field):
    with pytest.raises(InvalidArgument) as raised:
        measure(**changes)
    assert raised.value.field == field


def test_stratifiers_are_kept_in_canonical_order_and_a_definition_compares_by_content():
    defined = measure(stratifiers=["ethnicity", "sex"])
    assert [s.value for s in defined.stratifiers] == ["sex", "ethnicity"]
    assert defined.same_definition(build(MeasureDraft, defined.model_dump(
        include=set(MeasureDraft.model_fields))))
    assert not defined.same_definition(build(MeasureDraft, {
        **defined.model_dump(include=set(MeasureDraft.model_fields)), "multiplier": 1000}))


def test_a_good_observation_is_made_canonical():
    checked = domain.check_observation(draft(), measure(), SITE, TODAY)
    assert checked.stratum == "ethnicity=Black"
    count = measure(type="count", denominator="", multiplier=1, stratifiers=[])
    assert domain.check_observation(draft(stratum="", denominator=0), count, SITE,
                                    TODAY).denominator is None


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"period": "2026-Q1"}, "period", "monthly"),
        ({"period": "2026-1"}, "period", "not a period"),
        ({"period": "2026-04"}, "period", "not started"),
        ({"stratum": "sex=F"}, "stratum", "not stratified by sex"),
        ({"stratum": "ethnicity=Martian"}, "stratum", "not a ethnicity group"),
        ({"stratum": ""}, "stratum", "names no group of ethnicity"),
        ({"numerator": -1}, "numerator", "negative"),
        ({"numerator": 2.5}, "numerator", "whole"),
        ({"denominator": 10}, "denominator", "below the numerator"),
        ({"denominator": None}, "denominator", "required"),
    ],
)
def test_observations_breaking_the_definition_name_the_field(changes, field, words):
    with pytest.raises(InvalidArgument) as raised:
        domain.check_observation(draft(**changes), measure(), SITE, TODAY)
    assert raised.value.field == field
    assert words in raised.value.message


def test_a_stratified_cell_names_every_stratifier_and_a_count_has_no_denominator():
    by_sex_and_age = measure(stratifiers=["sex", "age_band"])
    with pytest.raises(InvalidArgument, match="names no group of age_band"):
        domain.check_observation(draft(stratum="sex=F"), by_sex_and_age, SITE, TODAY)
    cell = domain.check_observation(draft(stratum="age_band=5-11|sex=f"), by_sex_and_age,
                                    SITE, TODAY)
    assert cell.stratum == "sex=F|age_band=5-11"
    count = measure(type="count", denominator="", multiplier=1, stratifiers=[])
    with pytest.raises(InvalidArgument) as raised:
        domain.check_observation(draft(stratum=""), count, SITE, TODAY)
    assert raised.value.field == "denominator"


def test_unknown_measure_or_site_and_a_site_of_another_project():
    with pytest.raises(InvalidArgument) as raised:
        domain.check_observation(draft(), None, SITE, TODAY)
    assert raised.value.field == "measure_id"
    with pytest.raises(InvalidArgument) as raised:
        domain.check_observation(draft(), measure(), None, TODAY)
    assert raised.value.field == "site_id"
    elsewhere = SITE.model_copy(update={"project_id": "mhin-project-3"})
    with pytest.raises(InvalidArgument, match="not of the measure's project") as raised:
        domain.check_observation(draft(), measure(), elsewhere, TODAY)
    assert raised.value.field == "site_id"


def test_a_resubmission_corrects_and_an_identical_one_changes_nothing():
    defined = measure()
    checked = domain.check_observation(draft(), defined, SITE, TODAY)
    first, outcome = domain.record(checked, None, SITE, defined, GM_MEMBER, NOW)
    assert (outcome, first.version, first.arc, first.project_id) == (
        Outcome.RECORDED, 1, GM, "mhin-project-1")
    same, outcome = domain.record(checked, first, SITE, defined, GM_MEMBER, NOW)
    assert (outcome, same) == (Outcome.UNCHANGED, first)
    corrected = checked.model_copy(update={"numerator": 13})
    second, outcome = domain.record(corrected, first, SITE, defined, NATIONAL, NOW)
    assert (outcome, second.version, second.numerator, second.recorded_by) == (
        Outcome.CORRECTED, 2, 13, "national")


def test_only_a_newer_project_snapshot_replaces_the_sites():
    snapshot = ProjectSites(project_id="p", version=3, sites=(SITE,))
    assert domain.is_newer(snapshot, None) and domain.is_newer(snapshot, 2)
    assert not domain.is_newer(snapshot, 3) and not domain.is_newer(snapshot, 4)


def row(level=Level.SITE, unit="oldham", owner=GM, numerator=3.0, denominator=40.0,
        period="2026-01") -> AggregateRow:
    return AggregateRow(measure_id="pcref-minority-referrals", level=level, unit=unit,
                        period=period, stratum="", owner_arc=owner, numerator=numerator,
                        denominator=denominator, observation_count=1, computed_at=NOW)


def view(aggregate: AggregateRow, defined: domain.Measure,
         principal: Principal) -> domain.AggregateView:
    """As the service shows it: with the disclosure pattern of its period."""
    marks = suppression.patterns([aggregate], defined, 5)
    return domain.view(aggregate, defined, principal, suppression.marks_of(marks, aggregate))


def test_the_owning_arc_and_the_national_team_see_small_counts_others_do_not():
    defined = measure()
    for principal in (GM_MEMBER, NATIONAL):
        seen = view(row(), defined, principal)
        assert seen.in_full and seen.shown.numerator == 3 and seen.shown.value == 7.5
    for principal in (YH_MEMBER, GM_VIEWER):
        seen = view(row(), defined, principal)
        assert not seen.in_full
        assert seen.shown.numerator is None and seen.shown.numerator_suppressed
        assert seen.shown.value is None and seen.shown.value_suppressed
        # withheld with it: 40 shown beside a hidden numerator would give its complement
        assert seen.shown.denominator is None and seen.shown.denominator_secondary
    above = view(row(level=Level.PROJECT, unit="mhin-project-1", owner=None), defined,
                 GM_MEMBER)
    assert not above.in_full and above.shown.numerator_suppressed
    large = view(row(numerator=12), defined, YH_MEMBER)
    assert large.shown.numerator == 12 and not large.shown.suppressed


def test_units_are_canonical_per_level():
    assert domain.canonical_unit(Level.ARC, "Greater Manchester") == "GREATER_MANCHESTER"
    assert domain.canonical_unit(Level.NATIONAL, "") == "national"
    with pytest.raises(InvalidArgument) as raised:
        domain.canonical_unit(Level.ARC, "Atlantis")
    assert raised.value.field == "unit"
    with pytest.raises(InvalidArgument):
        domain.canonical_unit(Level.SITE, " ")


def test_spc_flags_a_known_special_cause_and_leaves_suppressed_values_out():
    defined = measure()
    values = [40, 42, 41, 39, 40, 41, 42, 40, 39, 41, 40, 90]
    rows = [row(numerator=v, denominator=100, period=f"2025-{i + 1:02d}")
            for i, v in enumerate(values)]
    rows.insert(3, row(numerator=2, denominator=100, period="2024-12"))  # small: suppressed
    views = [view(r, defined, YH_MEMBER) for r in rows]
    chart = domain.spc_chart(views, defined)
    assert [p.period for p in chart.points][:2] == ["2024-12", "2025-01"]
    assert chart.points[0].suppressed and chart.points[0].analysed is None
    assert len(chart.result.points) == 12
    last = chart.points[-1].analysed
    assert last is not None and SpcRule.POINT_BEYOND_LIMIT in last.rules
    assert chart.verdict is Variation.IMPROVEMENT
    concern = domain.spc_chart(views, measure(direction="down"))
    assert concern.verdict is Variation.CONCERN


def test_a_pattern_is_kept_while_its_aggregates_stay_the_same():
    defined = measure()
    rows = [row(numerator=3, denominator=40).model_copy(update={"stratum": "ethnicity=Black"}),
            row(numerator=12, denominator=40).model_copy(update={"stratum": "ethnicity=Asian"}),
            row(numerator=15, denominator=80)]
    kept = suppression.Patterns(5)
    first = kept(rows, defined)
    assert first == suppression.patterns(rows, defined, 5) and len(first) == 2
    assert kept(rows, defined) == first
    # a correction (Black 3 -> 6) changes the aggregates, so the pattern is chosen again
    corrected = [rows[0].model_copy(update={"numerator": 6.0}), rows[1],
                 rows[2].model_copy(update={"numerator": 18.0})]
    assert kept(corrected, defined) == {} == suppression.patterns(corrected, defined, 5)
