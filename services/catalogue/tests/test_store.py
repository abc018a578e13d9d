"""Catalogue storage on real SQLite and PostgreSQL databases: the migration builds
what the store uses, the reference data is seeded once, and the queries behind
search, the copy of needs and unmet needs behave the same on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from mhin_catalogue import domain, store
from mhin_catalogue.app import seed_reference_data
from mhin_catalogue.domain import KnownNeed, NeedStatus, SolutionDraft
from mhin_catalogue.main import DEFINITION
from mhin_catalogue.reference import REFERENCE_SOLUTIONS
from mhin_devkit.harness import migrated_database
from mhin_platform.events.outbox import pending_count
from mhin_platform.reference import Arc, PriorityArea
from mhin_platform.validation import build

solutions = store.solution_documents
known_needs = store.need_documents

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def database(database_url):
    with migrated_database(DEFINITION, database_url) as database:
        yield database


def solution(solution_id: str, name: str, description: str = "A solution.",
             areas: tuple[str, ...] = ("Inequalities",)) -> domain.Solution:
    draft = build(SolutionDraft, {"name": name, "description": description,
                                  "priority_areas": list(areas),
                                  "evidence": {"level": "observational"}, "readiness": "ready"})
    return domain.catalogue(draft, solution_id, NOW)


def need(need_id: str, version: int = 1, status: NeedStatus = NeedStatus.CATEGORISED,
         area: PriorityArea = PriorityArea.INEQUALITIES, minutes: int = 0) -> KnownNeed:
    return KnownNeed(id=need_id, title=f"need {need_id}", arc=Arc.WEST, priority_area=area,
                     status=status, submitted_at=NOW + timedelta(minutes=minutes),
                     version=version)


def test_reference_data_is_seeded_once(database):
    seed_reference_data(database)
    seed_reference_data(database)
    with database.read() as session:
        criteria = store.list_default_criteria(session)
        seeded = [solutions.find(session, id_) for id_ in REFERENCE_SOLUTIONS]
        events = pending_count(session)
    assert [(c.name, str(c.weight)) for c in criteria] == [
        ("Clinically effective", "21.5"), ("Patients involved", "16.7"),
        ("Reduces inequalities", "19.0"), ("Implementable", "23.8"), ("Sustainable", "19.0")]
    assert [(s.name, s.version) for s in seeded] == [
        ("Patient and Carer Race Equality Framework (PCREF)", 1),
        ("Parent-led CBT for child anxiety", 1), ("Alcohol Assertive Outreach Treatment (AAOT)", 1)]
    assert events == 3, "one SolutionCatalogued each, in the outbox"


def test_a_reference_solution_catalogued_by_hand_before_the_seed_is_not_added_again(database):
    with database.transaction() as session:
        solutions.add(session, solution("hand-made", "PARENT-LED CBT for child anxiety"))
    seed_reference_data(database)  # does not fail the start: the others are added
    with database.read() as session:
        assert solutions.find(session, "solution-parent-led-cbt") is None
        assert solutions.find(session, "solution-pcref") is not None


def test_search_is_case_blind_and_takes_wildcards_literally(database):
    with database.transaction() as session:
        solutions.add(session, solution("s1", "PCREF", "Race equality: 100% of trusts"))
        solutions.add(session, solution("s2", "Parent-led CBT", "Child_anxiety support"))
        solutions.add(session, solution("s3", "Outreach", "Alcohol care teams"))

    def names(text):
        with database.read() as session:
            return [s.name for s in store.list_solutions(
                session, domain.SolutionFilter(text=text), None, 10)]

    assert names("RACE equality") == ["PCREF"]
    assert names("0%") == ["PCREF"]
    assert names("d_a") == ["Parent-led CBT"]
    assert names("%") == ["PCREF"]
    assert names("_") == ["Parent-led CBT"]
    assert names("") == ["Outreach", "Parent-led CBT", "PCREF"]


def test_the_database_refuses_two_active_solutions_of_one_name(database):
    with database.transaction() as session:
        solutions.add(session, solution("s1", "PCREF"))
    with pytest.raises(IntegrityError), database.transaction() as session:
        solutions.add(session, solution("s2", "  pcref"))
    with database.transaction() as session:
        retired = domain.retire(solutions.get(session, "s1"), "renamed", NOW)
        solutions.replace(session, retired)
        solutions.add(session, solution("s2", "pcref"))


def test_the_copy_of_a_need_only_moves_forward(database):
    with database.transaction() as session:
        assert known_needs.keep_latest(session, need("n1", version=2))
        assert not known_needs.keep_latest(session, need("n1", version=1,
                                                       area=PriorityArea.COMORBIDITIES))
        assert not known_needs.keep_latest(session, need("n1", version=2))
        assert known_needs.keep_latest(session, need("n1", version=3, status=NeedStatus.WITHDRAWN))
    with database.read() as session:
        kept = known_needs.find(session, "n1")
    assert (kept.version, kept.status, kept.priority_area) == (
        3, NeedStatus.WITHDRAWN, PriorityArea.INEQUALITIES)


def test_unmet_needs_are_open_needs_no_active_solution_addresses(database):
    with database.transaction() as session:
        for index, area in enumerate((PriorityArea.INEQUALITIES, PriorityArea.INEQUALITIES,
                                      PriorityArea.COMORBIDITIES, PriorityArea.UNCATEGORISED)):
            known_needs.keep_latest(session, need(f"n{index}", area=area, minutes=index))
        known_needs.keep_latest(session, need("gone", status=NeedStatus.WITHDRAWN, minutes=9))
        active = domain.link(solution("s1", "PCREF"), need("n0"), NOW)
        solutions.add(session, active)
        retired = domain.retire(domain.link(solution("s2", "Old"), need("n1"), NOW), "old", NOW)
        solutions.add(session, retired)

    def unmet(area=None, after=None, limit=10):
        with database.read() as session:
            return [n.id for n in store.list_unmet_needs(session, area, after, limit)]

    assert unmet() == ["n1", "n2", "n3"]
    assert unmet(PriorityArea.INEQUALITIES) == ["n1"]
    assert unmet(PriorityArea.UNCATEGORISED) == ["n3"]
    assert unmet(limit=2) == ["n1", "n2"]
    assert unmet(after=(NOW + timedelta(minutes=2), "n2")) == ["n3"]
    with database.read() as session:
        assert [s.id for s in store.active_solutions_linked_to(session, "n0")] == ["s1"]
        assert store.active_solutions_linked_to(session, "n1") == []
