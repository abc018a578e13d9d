"""MCDA calculations and round rules: pure, hand-worked examples, exact arithmetic."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from fractions import Fraction as F

import pytest

from mhin_catalogue import mcda
from mhin_catalogue.mcda import RoundDraft
from mhin_platform.errors import FailedPrecondition, InvalidArgument
from mhin_platform.validation import build

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def scores(table: dict[str, dict[str, int | str]]) -> dict[str, dict[str, F]]:
    return {option: {c: F(v) for c, v in row.items()} for option, row in table.items()}


def weights(**named: int | str) -> dict[str, F]:
    return {name: F(value) for name, value in named.items()}


# ------------------------------------------------------------------ totals and ranks


def test_total_is_weighted_sum_over_100_with_the_published_weights():
    published = {name: F(weight) for name, weight in mcda.MHIN_CRITERIA}
    assert sum(published.values()) == 100
    table = scores({"PCREF": dict(zip(published, [80, 90, 100, 60, 70], strict=True))})
    # (21.5·80 + 16.7·90 + 19·100 + 23.8·60 + 19·70) / 100 = 7881 / 100
    assert mcda.totals(published, table) == {"PCREF": F("78.81")}


def test_ties_share_a_rank_and_the_next_rank_is_skipped():
    ranked = mcda.ranking({"a": F(50), "b": F(70), "c": F(70), "d": F(10)})
    assert [(r.option, r.rank) for r in ranked] == [("b", 1), ("c", 1), ("a", 3), ("d", 4)]


def test_equal_totals_reached_by_different_sums_are_a_real_tie():
    # 0.1 + 0.2 != 0.3 in binary floats; as decimals it is exact.
    w = weights(x="33.3", y="33.3", z="33.4")
    table = scores({"a": {"x": "0.1", "y": "0.2", "z": 0}, "b": {"x": "0.3", "y": 0, "z": 0}})
    assert [r.rank for r in mcda.ranking(mcda.totals(w, table))] == [1, 1]


# ------------------------------------------------------------------ weight ranges


TWO_BY_TWO = scores({"X": {"A": 80, "B": 40}, "Y": {"A": 40, "B": 70}})


def test_two_criteria_by_hand():
    # Weight x on A, 100 - x on B: X = 40 + 0.4x, Y = 70 - 0.3x, equal at x = 300/7.
    w = weights(A=50, B=50)
    assert mcda.totals(w, TWO_BY_TWO) == {"X": 60, "Y": 55}
    assert mcda.weight_range(w, TWO_BY_TWO, "A", "X") == (F(300, 7), F(100))
    assert mcda.weight_range(w, TWO_BY_TWO, "B", "X") == (F(0), F(400, 7))


def test_three_criteria_others_rescaled_in_proportion_by_hand():
    w = weights(A=40, B=30, C=30)
    table = scores({"X": {"A": 90, "B": 50, "C": 50},
                    "Y": {"A": 50, "B": 80, "C": 70},
                    "Z": {"A": 60, "B": 60, "C": 60}})
    assert mcda.totals(w, table) == {"X": 66, "Y": 65, "Z": 60}
    # A at x, B and C at (100 - x)/2 each: X = 50 + 0.4x, Y = 75 - 0.25x, Z = 60.
    # X beats Y from x = 25/0.65 = 500/13 and Z from x = 25: the larger bound holds.
    assert mcda.weight_range(w, table, "A", "X") == (F(500, 13), F(100))
    # B at y, A and C at (100 - y)·4/7 and ·3/7: X = 510/7 - (160/7)y/100,
    # Y = 410/7 + (150/7)y/100, equal at y = 1000/31; X falls to Z's 60 only at 56.25.
    assert mcda.weight_range(w, table, "B", "X") == (F(0), F(1000, 31))


def test_an_option_best_on_every_criterion_is_top_at_any_weight():
    w = weights(A="21.5", B="16.7", C="19.0", D="23.8", E="19.0")
    table = scores({"best": dict.fromkeys(w, 90), "good": dict.fromkeys(w, 80),
                    "mixed": {"A": 90, "B": 10, "C": 90, "D": 10, "E": 90}})
    for result in mcda.sensitivity(w, table):
        assert (result.option, result.lower, result.upper) == ("best", 0, 100)


def test_crossings_outside_0_to_100_are_clipped():
    # X = 60 - 0.1x and Y = 30 + 0.1x (weight x on A): they would cross at x = 150.
    w = weights(A=50, B=50)
    table = scores({"X": {"A": 50, "B": 60}, "Y": {"A": 40, "B": 30}})
    assert mcda.weight_range(w, table, "A", "X") == (F(0), F(100))
    # B gives X a lead at every weight too, the crossing being at -50.
    assert mcda.weight_range(w, table, "B", "X") == (F(0), F(100))


def test_tied_leaders_each_get_the_side_where_they_stay_top():
    w = weights(A=50, B=50)
    table = scores({"X": {"A": 80, "B": 40}, "Y": {"A": 40, "B": 80}, "Z": {"A": 10, "B": 10}})
    ranges = {(r.criterion, r.option): (r.lower, r.upper) for r in mcda.sensitivity(w, table)}
    assert ranges == {("A", "X"): (50, 100), ("A", "Y"): (0, 50),
                      ("B", "X"): (0, 50), ("B", "Y"): (50, 100)}


def test_identical_leaders_share_one_range():
    w = weights(A=30, B=70)
    table = scores({"X": {"A": 80, "B": 40}, "Y": {"A": 80, "B": 40}, "Z": {"A": 0, "B": 50}})
    # x on A: X = Y = 40 + 0.4x, Z = 50 - 0.5x, so X and Y lead from x = 100/9;
    # y on B: X = Y = 80 - 0.4y, Z = 0.5y, so they lead up to y = 800/9.
    ranges = {(r.criterion, r.option): (r.lower, r.upper) for r in mcda.sensitivity(w, table)}
    assert ranges == {("A", "X"): (F(100, 9), 100), ("A", "Y"): (F(100, 9), 100),
                      ("B", "X"): (0, F(800, 9)), ("B", "Y"): (0, F(800, 9))}


def test_the_range_only_exists_for_a_top_option_and_a_movable_weight():
    w = weights(A=50, B=50)
    with pytest.raises(ValueError, match="not a top option"):
        mcda.weight_range(w, TWO_BY_TWO, "A", "Y")
    with pytest.raises(ValueError, match="less than 100"):
        mcda.weight_range(weights(A=100, B=0), TWO_BY_TWO, "A", "X")


@pytest.mark.parametrize("seed", range(25))
def test_random_rounds_the_leader_holds_exactly_inside_its_range(seed):
    """Brute force against the closed form: the leader is top at both bounds and in
    between, and just beyond a bound that is not 0 or 100 another option leads."""
    rng = random.Random(seed)
    criteria = [f"c{i}" for i in range(rng.randint(2, 6))]
    cuts = sorted(rng.sample(range(1, 100), len(criteria) - 1))
    w = {c: F(b - a) for c, a, b in zip(criteria, [0, *cuts], [*cuts, 100], strict=True)}
    table = {f"o{i}": {c: F(rng.randint(0, 100)) for c in criteria}
             for i in range(rng.randint(2, 8))}
    step = F(1, 10**6)
    for result in mcda.sensitivity(w, table):
        for x, holds in ((result.lower, True), (result.upper, True),
                         ((result.lower + result.upper) / 2, True),
                         (result.lower - step, result.lower == 0),
                         (result.upper + step, result.upper == 100)):
            if 0 <= x <= 100:
                shifted = _with_weight(w, result.criterion, x)
                best = max(mcda.totals(shifted, table).values())
                assert (mcda.totals(shifted, table)[result.option] == best) is holds


def _with_weight(w: dict[str, F], criterion: str, x: F) -> dict[str, F]:
    scale = (100 - x) / (100 - w[criterion])
    return {c: x if c == criterion else v * scale for c, v in w.items()}


# ------------------------------------------------------------------ stakeholder groups


def round_data(**changes) -> dict:
    data = {
        "title": "MHIN decision conference 2022",
        "criteria": [{"name": "Effective", "weight": 60}, {"name": "Implementable", "weight": 40}],
        "options": [{"name": "PCREF"}, {"name": "Parent-led CBT"}],
        "scores": [
            {"option": "PCREF", "criterion": "Effective", "value": 70},
            {"option": "PCREF", "criterion": "Implementable", "value": 50},
            {"option": "Parent-led CBT", "criterion": "Effective", "value": 60},
            {"option": "Parent-led CBT", "criterion": "Implementable", "value": 80},
        ],
    }
    return {**data, **changes}


def grouped_scores(service_users: tuple, clinicians: tuple) -> list[dict]:
    cells = [("PCREF", "Effective"), ("PCREF", "Implementable"),
             ("Parent-led CBT", "Effective"), ("Parent-led CBT", "Implementable")]
    return [{"option": option, "criterion": criterion, "stakeholder_group": group, "value": value}
            for group, values in (("Service users", service_users), ("Clinicians", clinicians))
            for (option, criterion), value in zip(cells, values, strict=True)]


def test_groups_combined_by_the_mean():
    draft = build(RoundDraft, round_data(
        stakeholder_groups=[{"name": "Service users"}, {"name": "Clinicians"}],
        combination="mean", scores=grouped_scores((80, 40, 60, 90), (60, 60, 60, 70))))
    assert mcda.combined_scores(draft) == {"PCREF": {"Effective": 70, "Implementable": 50},
                                           "Parent-led CBT": {"Effective": 60,
                                                              "Implementable": 80}}


def test_groups_combined_by_weighted_mean():
    draft = build(RoundDraft, round_data(
        stakeholder_groups=[{"name": "Service users", "weight": 75},
                            {"name": "Clinicians", "weight": 25}],
        combination="weighted mean", scores=grouped_scores((80, 40, 60, 90), (60, 60, 60, 70))))
    assert mcda.combined_scores(draft)["PCREF"] == {"Effective": 75, "Implementable": 45}
    assert mcda.combined_scores(draft)["Parent-led CBT"] == {"Effective": 60,
                                                             "Implementable": 85}


def test_a_round_ranks_and_explains_its_top_option():
    round_ = mcda.record(build(RoundDraft, round_data()), "r1", NOW)
    results = round_.results()
    # PCREF 0.6·70 + 0.4·50 = 62; CBT 0.6·60 + 0.4·80 = 68.
    assert [(r.option, r.total, r.rank) for r in results.ranking] == [
        ("Parent-led CBT", 68, 1), ("PCREF", 62, 2)]
    # Effective at x: CBT = 80 - 0.2x, PCREF = 50 + 0.2x: equal at 75.
    assert [(r.criterion, r.weight, r.option, r.lower, r.upper) for r in results.sensitivity] == [
        ("Effective", 60, "Parent-led CBT", 0, 75),
        ("Implementable", 40, "Parent-led CBT", 25, 100)]


def test_scores_name_options_and_criteria_regardless_of_case_and_spacing():
    data = round_data()
    data["scores"][0] = {"option": " pcref ", "criterion": "EFFECTIVE", "value": 70}
    assert mcda.combined_scores(build(RoundDraft, data))["PCREF"]["Effective"] == 70


# ------------------------------------------------------------------ bad rounds


def _scores_without_last() -> list[dict]:
    return round_data()["scores"][:-1]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": " "}, "round.title", "at least 1 character"),
        ({"criteria": [{"name": "Effective", "weight": 60},
                       {"name": "Implementable", "weight": "39.9"}]}, "round.criteria",
         "sum to 99.9"),
        ({"criteria": [{"name": "Effective", "weight": 60},
                       {"name": "effective", "weight": 40}]}, "round.criteria", "more than once"),
        ({"criteria": [{"name": "Effective", "weight": 100}]}, "round.criteria", "at least 2"),
        ({"criteria": [{"name": "Effective", "weight": 100},
                       {"name": "Implementable", "weight": 0}]}, "round.criteria.1.weight",
         "greater than 0"),
        ({"options": [{"name": "PCREF"}, {"name": "PCREF"}]}, "round.options", "more than once"),
        ({"options": [{"name": "A", "solution_id": "s1"}, {"name": "B", "solution_id": "s1"}]},
         "round.options", "solution s1"),
        ({"scores": _scores_without_last()}, "round.scores",
         "no score for option 'Parent-led CBT' on criterion 'Implementable'"),
        ({"scores": [*_scores_without_last(),
                     {"option": "PCREF", "criterion": "Effective", "value": 1}]},
         "round.scores", "score 3 repeats"),
        ({"scores": [*_scores_without_last(),
                     {"option": "Nobody", "criterion": "Implementable", "value": 1}]},
         "round.scores", "score 3 names option 'Nobody'"),
        ({"scores": [*_scores_without_last(),
                     {"option": "Parent-led CBT", "criterion": "Implementable",
                      "value": "100.5"}]}, "round.scores.3.value", "less than or equal to 100"),
        ({"scores": [*_scores_without_last(),
                     {"option": "Parent-led CBT", "criterion": "Implementable", "value": -1}]},
         "round.scores.3.value", "greater than or equal to 0"),
        ({"combination": "mean"}, "round.combination", "only a round with stakeholder groups"),
        ({"stakeholder_groups": [{"name": "Service users"}]}, "round.combination",
         "say how"),
        ({"stakeholder_groups": [{"name": "Service users", "weight": 60},
                                 {"name": "Clinicians", "weight": 30}],
          "combination": "weighted mean"}, "round.combination", "sum to 90"),
        ({"stakeholder_groups": [{"name": "Service users"}, {"name": "Clinicians"}],
          "combination": "weighted mean"}, "round.combination", "a weight for every"),
        ({"stakeholder_groups": [{"name": "Service users", "weight": 100}],
          "combination": "mean"}, "round.combination", "ignores group weights"),
        ({"stakeholder_groups": [{"name": "Service users"}, {"name": "service users"}],
          "combination": "mean"}, "round.stakeholder_groups", "more than once"),
        ({"stakeholder_groups": [{"name": "Service users"}], "combination": "mean"},
         "round.scores", "score 0 names stakeholder_group ''"),
    ],
)
def test_bad_rounds_name_the_field(changes, field, message):
    with pytest.raises(InvalidArgument) as raised:
        build(RoundDraft, round_data(**changes), "round")
    assert raised.value.field == field
    assert message in raised.value.message


def test_a_closed_round_cannot_close_again_and_the_document_round_trips():
    round_ = mcda.record(build(RoundDraft, round_data()), "r1", NOW)
    assert mcda.Round.model_validate_json(round_.model_dump_json()) == round_
    closed = mcda.close(round_, NOW)
    assert (closed.status, closed.version) == (mcda.RoundStatus.CLOSED, 2)
    with pytest.raises(FailedPrecondition, match="already closed"):
        mcda.close(closed, NOW)
