"""Solution catalogue domain rules: pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mhin_catalogue import domain
from mhin_catalogue.domain import KnownNeed, NeedStatus, SolutionDraft, SolutionStatus
from mhin_platform.errors import FailedPrecondition, InvalidArgument
from mhin_platform.reference import Arc, PriorityArea
from mhin_platform.validation import build

NOW = datetime(2026, 3, 1, tzinfo=UTC)
LATER = datetime(2026, 3, 2, tzinfo=UTC)


def draft(**changes) -> SolutionDraft:
    data = {
        "name": "Parent-led CBT for child anxiety",
        "description": "Guided parent-delivered cognitive behavioural therapy.",
        "priority_areas": ["Children and young people"],
        "evidence": {"nice_guidance": ["cg159"], "level": "randomised trial",
                     "studies": [{"citation": "Creswell et al. 2017", "year": 2017}]},
        "readiness": "ready",
    }
    return build(SolutionDraft, {**data, **changes}, "solution")


def need(**changes) -> KnownNeed:
    data = {"id": "n1", "title": "Anxiety support", "arc": Arc.EAST_OF_ENGLAND,
            "priority_area": PriorityArea.CHILDREN_AND_YOUNG_PEOPLE,
            "status": NeedStatus.CATEGORISED, "submitted_at": NOW, "version": 2}
    return KnownNeed(**{**data, **changes})


def test_a_catalogued_solution_is_active_at_version_1_with_normalised_references():
    solution = domain.catalogue(draft(), "s1", NOW)
    assert (solution.status, solution.version, solution.need_ids) == (SolutionStatus.ACTIVE, 1, [])
    assert solution.evidence.nice_guidance == ["CG159"]
    assert domain.Solution.model_validate_json(solution.model_dump_json()) == solution


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "solution.name"),
        ({"name": "x" * 201}, "solution.name"),
        ({"description": " "}, "solution.description"),
        ({"priority_areas": []}, "solution.priority_areas"),
        ({"priority_areas": ["Uncategorised"]}, "solution.priority_areas"),
        ({"priority_areas": ["Inequalities", "Inequalities"]}, "solution.priority_areas"),
        ({"evidence": {"level": "randomised trial", "nice_guidance": ["guideline 7"]}},
         "solution.evidence.nice_guidance.0"),
        ({"evidence": {"level": "randomised trial",
                       "studies": [{"citation": "Old", "year": 1850}]}},
         "solution.evidence.studies.0.year"),
        ({"evidence": {"nice_guidance": ["NG225"]}}, "solution.evidence.level"),
        ({"setting": "x" * 201}, "solution.setting"),
        ({"target_population": "x" * 501}, "solution.target_population"),
    ],
)
def test_bad_drafts_name_the_field(changes, field):
    with pytest.raises(InvalidArgument) as raised:
        draft(**changes)
    assert raised.value.field == field


def test_revise_changes_version_is_a_no_op_when_unchanged_and_checks_the_expected_version():
    solution = domain.catalogue(draft(), "s1", NOW)
    assert domain.revise(solution, draft(), LATER) is None
    revised = domain.revise(solution, draft(readiness="needs adaptation"), LATER, 1)
    assert (revised.readiness, revised.version, revised.updated_at) == (
        domain.Readiness.NEEDS_ADAPTATION, 2, LATER)
    assert revised.evidence.level is domain.EvidenceLevel.RANDOMISED_TRIAL
    assert domain.Solution.model_validate_json(revised.model_dump_json()) == revised
    with pytest.raises(FailedPrecondition, match="at version 2, not 1"):
        domain.revise(revised, draft(), LATER, expected_version=1)


def test_links_are_recorded_once_and_only_to_open_needs():
    solution = domain.catalogue(draft(), "s1", NOW)
    linked = domain.link(solution, need(), LATER)
    assert (linked.need_ids, linked.version) == (["n1"], 2)
    assert domain.link(linked, need(), LATER) is None
    with pytest.raises(FailedPrecondition, match="withdrawn"):
        domain.link(solution, need(status=NeedStatus.WITHDRAWN), LATER)
    unlinked = domain.unlink(linked, "n1", LATER)
    assert (unlinked.need_ids, unlinked.version) == ([], 3)
    assert domain.unlink(unlinked, "n1", LATER) is None


def test_a_retired_solution_cannot_change():
    retired = domain.retire(domain.catalogue(draft(), "s1", NOW), "superseded by NG225", LATER)
    assert (retired.status, retired.retirement_reason) == (SolutionStatus.RETIRED,
                                                           "superseded by NG225")
    for change in (lambda: domain.revise(retired, draft(name="Other"), LATER),
                   lambda: domain.link(retired, need(), LATER),
                   lambda: domain.unlink(retired, "n1", LATER),
                   lambda: domain.retire(retired, "again", LATER)):
        with pytest.raises(FailedPrecondition, match="retired"):
            change()
    with pytest.raises(InvalidArgument) as raised:
        domain.retire(domain.catalogue(draft(), "s2", NOW), "  ", LATER)
    assert raised.value.field == "reason"


def test_names_are_the_same_whatever_their_case_and_spacing():
    assert domain.name_key("  Parent-led  CBT ") == domain.name_key("parent-led cbt")
