"""Complementary suppression: the pattern, and a differencing attack that finds nothing."""

from __future__ import annotations

import os
import random

import pytest
from disclosure_audit import (
    attack,
    audience_own_data,
    audience_shares,
    random_table,
    seen_by,
)

from mhin_measures.complementary import (
    Cell,
    CellKey,
    Mark,
    Marks,
    disclosed,
    protect,
    relations,
)
from mhin_measures.rates import MeasureType

COUNT, PROPORTION, MEAN = MeasureType.COUNT, MeasureType.PROPORTION, MeasureType.MEAN
P, S = Mark.PRIMARY, Mark.SECONDARY

PARENTS = {
    ("site", "a1"): ("arc", "A"), ("site", "b1"): ("arc", "B"), ("site", "c1"): ("arc", "C"),
    ("arc", "A"): ("project", "p"), ("arc", "B"): ("project", "p"),
    ("arc", "C"): ("project", "p"), ("project", "p"): ("national", "national"),
}


def count_table(values: dict[tuple[str, str, str], float]) -> dict[CellKey, Cell]:
    owners = {"a1": "A", "b1": "B", "c1": "C", "A": "A", "B": "B", "C": "C"}
    return {CellKey(*key): Cell(number, 0.0, owners.get(key[1], ""))
            for key, number in values.items()}


def hidden(marks: dict[CellKey, Marks]) -> dict[tuple[str, str, str], Mark]:
    return {tuple(key): mark.numerator for key, mark in marks.items()}


def test_a_breakdown_hides_its_next_smallest_group_not_the_whole_table():
    cells = count_table({
        ("site", "a1", ""): 35, ("site", "a1", "sex=F"): 3, ("site", "a1", "sex=M"): 20,
        ("site", "a1", "sex=Not stated"): 12,
    })
    marks = protect(COUNT, cells, {})
    # 35 - 20 - 12 would give the 3 away; 12 is the smallest other group
    assert hidden(marks) == {("site", "a1", "sex=F"): P, ("site", "a1", "sex=Not stated"): S}


def test_the_hierarchy_is_protected_against_each_arc_knowing_its_own_figures():
    cells = count_table({
        ("site", "a1", ""): 3, ("arc", "A", ""): 3, ("site", "b1", ""): 40,
        ("arc", "B", ""): 40, ("site", "c1", ""): 10, ("arc", "C", ""): 10,
        ("project", "p", ""): 53, ("national", "national", ""): 53,
    })
    marks = protect(COUNT, cells, PARENTS)
    # an outsider could subtract B and C from the project, so C (the next-smallest) is
    # hidden, and its ARC's only site with it; but C knows its own 10, so B goes too
    assert hidden(marks) == {
        ("site", "a1", ""): P, ("arc", "A", ""): P,
        ("site", "c1", ""): S, ("arc", "C", ""): S,
        ("site", "b1", ""): S, ("arc", "B", ""): S,
    }


def test_no_small_count_no_suppression():
    cells = count_table({("site", "a1", ""): 0, ("arc", "A", ""): 0,
                         ("site", "b1", ""): 9, ("arc", "B", ""): 9,
                         ("project", "p", ""): 9, ("national", "national", ""): 9})
    assert protect(COUNT, cells, PARENTS) == {}


def test_the_pattern_does_not_depend_on_the_order_the_table_was_built_in():
    table = random_table(random.Random(7), COUNT)
    items = list(table.cells.items())
    random.Random(1).shuffle(items)
    assert protect(COUNT, dict(items), table.parents) == protect(COUNT, table.cells,
                                                                 table.parents)


def test_a_proportion_withholds_numerator_and_denominator_together():
    cells = {
        CellKey("site", "a1", ""): Cell(30, 70, "A"),
        CellKey("site", "a1", "sex=F"): Cell(2, 20, "A"),  # small numerator
        CellKey("site", "a1", "sex=M"): Cell(20, 30, "A"),
        CellKey("site", "a1", "sex=Not stated"): Cell(8, 20, "A"),
    }
    marks = protect(PROPORTION, cells, {})
    # the denominators go too: with one shown, the numerator would give the complement
    assert marks == {CellKey("site", "a1", "sex=F"): Marks(P, S),
                     CellKey("site", "a1", "sex=Not stated"): Marks(S, S)}


def test_a_mean_hides_its_sum_of_values_where_it_hides_its_cases():
    cells = {
        CellKey("site", "a1", ""): Cell(100.0, 30, "A"),
        CellKey("site", "a1", "sex=F"): Cell(5.5, 2, "A"),
        CellKey("site", "a1", "sex=M"): Cell(80.0, 20, "A"),
        CellKey("site", "a1", "sex=Not stated"): Cell(14.5, 8, "A"),
    }
    assert protect(MEAN, cells, {}) == {CellKey("site", "a1", "sex=F"): Marks(P, P),
                                        CellKey("site", "a1", "sex=Not stated"): Marks(S, S)}


def test_relations_are_the_hierarchy_and_the_strata_of_each_stratifier():
    keys = [CellKey("site", "a1", s) for s in ("", "sex=F", "sex=M")] + [
        CellKey("arc", "A", s) for s in ("", "sex=F", "sex=M")]
    found = {(tuple(total), tuple(map(tuple, parts)))
             for total, parts in relations(keys, PARENTS)}
    assert (("arc", "A", "sex=F"), (("site", "a1", "sex=F"),)) in found
    assert (("site", "a1", ""), (("site", "a1", "sex=F"), ("site", "a1", "sex=M"))) in found
    assert len(found) == 5


def test_disclosed_figures_carry_the_reason():
    shown = disclosed(PROPORTION, 40, 50, 100.0, Marks(S, Mark.SHOWN), in_full=False)
    assert (shown.numerator, shown.denominator, shown.value) == (None, 50, None)
    assert shown.numerator_secondary and shown.value_secondary
    assert not shown.denominator_suppressed
    primary = disclosed(PROPORTION, 2, 50, 100.0, Marks(P, Mark.SHOWN), in_full=False)
    assert primary.numerator_suppressed and not primary.value_secondary
    full = disclosed(PROPORTION, 2, 50, 100.0, Marks(P, Mark.SHOWN), in_full=True)
    assert (full.numerator, full.value, full.suppressed) == (2, 4.0, False)


# ----------------------------------------------------------------- the attack

TABLES = int(os.environ.get("MHIN_SUPPRESSION_AUDIT_TABLES", "3"))
"""Random tables per measure type; `MHIN_SUPPRESSION_AUDIT_TABLES=100` for a long run."""


@pytest.mark.parametrize("measure_type", list(MeasureType))
def test_no_audience_recovers_or_narrows_a_hidden_figure(measure_type):
    rng = random.Random(f"complementary-{measure_type}")
    judged = 0
    for _ in range(TABLES):
        table = random_table(rng, measure_type)
        marks = protect(measure_type, table.cells, table.parents)
        for arc in ["", *table.arcs]:
            seen = seen_by(table.cells, marks, arc)
            own = audience_own_data(measure_type, table.cells, table.parents, arc)
            shares = audience_shares(table.cells, table.parents, arc)
            audit = attack(measure_type, seen, table.parents, 5, own, shares, table.cells)
            assert audit.findings == [], (arc, audit.findings[:3])
            judged += audit.hidden
    assert judged > 0
