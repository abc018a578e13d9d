"""needs-intake domain rules: pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mhin_needs import domain
from mhin_needs.domain import AlignmentKind, NeedDraft, NeedStatus
from mhin_platform.errors import FailedPrecondition, InvalidArgument
from mhin_platform.reference import Arc, PriorityArea
from mhin_platform.validation import build

NOW = datetime(2026, 3, 1, tzinfo=UTC)
LATER = datetime(2026, 3, 2, tzinfo=UTC)


def draft(**changes) -> NeedDraft:
    data = {
        "submitter": {"name": "Pennine Care NHS FT", "type": "NHS trust"},
        "arc": "Greater Manchester",
        "title": "Crisis support for young people out of hours",
        "description": "No out-of-hours crisis line for under-18s.",
        "priority_area": "Uncategorised",
        "sources": [{"kind": "scoping_exercise", "response_ref": "SE-2021-017"}],
    }
    return build(NeedDraft, {**data, **changes}, "need")


def test_an_uncategorised_need_is_submitted_and_a_categorised_one_is_categorised():
    assert domain.submit(draft(), "n1", NOW).status is NeedStatus.SUBMITTED
    placed = domain.submit(draft(priority_area="Inequalities"), "n2", NOW)
    assert placed.status is NeedStatus.CATEGORISED
    assert placed.version == 1 and placed.submitted_at == NOW


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": ""}, "need.title"),
        ({"title": "x" * 201}, "need.title"),
        ({"description": "   "}, "need.description"),
        ({"sources": []}, "need.sources"),
        ({"sources": [{"kind": "prior_study", "citation": "Smith 2019", "year": 2010}]},
         "need.sources.0.prior_study.year"),
        ({"sources": [{"kind": "prior_study", "year": 2019}]},
         "need.sources.0.prior_study.citation"),
        ({"sources": [{"kind": "policy_document", "title": "", "year": 2019}]},
         "need.sources.0.policy_document.title"),
        ({"sources": [{"kind": "telepathy"}]}, "need.sources.0"),
        ({"arc": "Atlantis"}, "need.arc"),
    ],
)
def test_bad_drafts_name_the_field(changes, field):
    with pytest.raises(InvalidArgument) as raised:
        draft(**changes)
    assert raised.value.field == field


def test_categorise_moves_status_and_version_and_is_a_no_op_when_unchanged():
    need = domain.submit(draft(), "n1", NOW)
    moved = domain.categorise(need, PriorityArea.SUICIDE_AND_SELF_HARM, LATER)
    assert moved.status is NeedStatus.CATEGORISED
    assert (moved.version, moved.updated_at) == (2, LATER)
    assert domain.categorise(moved, PriorityArea.SUICIDE_AND_SELF_HARM, LATER) is None
    with pytest.raises(InvalidArgument, match="seven areas"):
        domain.categorise(need, PriorityArea.UNCATEGORISED, LATER)


def test_alignment_is_recorded_on_both_sides_once():
    a = domain.submit(draft(), "a", NOW)
    b = domain.submit(draft(arc="Yorkshire and Humber"), "b", NOW)
    a2, b2 = domain.align(a, b, AlignmentKind.SAME_NEED, "same ask", LATER)
    assert [x.need_id for x in a2.alignments] == ["b"]
    assert [x.need_id for x in b2.alignments] == ["a"]
    assert domain.align(a2, b2, AlignmentKind.SAME_NEED, "", LATER) is None
    with pytest.raises(InvalidArgument) as raised:
        domain.align(a, a, AlignmentKind.RELATED, "", LATER)
    assert raised.value.field == "aligned_need_id"


def test_a_withdrawn_need_cannot_change():
    need = domain.withdraw(domain.submit(draft(), "n1", NOW), "raised twice", LATER)
    assert need.status is NeedStatus.WITHDRAWN and need.withdrawal_reason == "raised twice"
    other = domain.submit(draft(), "n2", NOW)
    for change in (
        lambda: domain.categorise(need, PriorityArea.INEQUALITIES, LATER),
        lambda: domain.align(other, need, AlignmentKind.RELATED, "", LATER),
        lambda: domain.withdraw(need, "again", LATER),
    ):
        with pytest.raises(FailedPrecondition, match="withdrawn"):
            change()
    with pytest.raises(InvalidArgument):
        domain.withdraw(other, "  ", LATER)


def test_the_stored_document_round_trips():
    need = domain.submit(draft(sources=[
        {"kind": "prior_study", "citation": "Smith et al. 2019", "year": 2019},
        {"kind": "policy_document", "title": "NHS Long Term Plan", "year": 2019},
    ]), "n1", NOW)
    assert domain.Need.model_validate_json(need.model_dump_json()) == need
    assert need.arc is Arc.GREATER_MANCHESTER
