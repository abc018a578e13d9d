"""Catalogue use cases: each one transaction that loads, applies a domain rule,
stores the result and records its event in the outbox.

Solutions and rounds are national: only a national_admin changes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from mhin_catalogue import domain, events, mcda, store
from mhin_catalogue.domain import KnownNeed, Solution, SolutionDraft
from mhin_catalogue.mcda import Round, RoundDraft, RoundStatus
from mhin_catalogue.reference import REFERENCE_SOLUTIONS
from mhin_platform.auth import Principal, require_national
from mhin_platform.db import Database
from mhin_platform.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
)
from mhin_platform.reference import PriorityArea
from mhin_platform.usecases import UseCases, time_keyset, utc_now
from mhin_platform.validation import build

MAX_KEY_LENGTH = 200
MAX_SEARCH_LENGTH = 200

log = logging.getLogger(__name__)

T = TypeVar("T")


class CatalogueApp(UseCases):
    max_id_length = 36

    def catalogue(self, principal: Principal, draft: SolutionDraft) -> Solution:
        require_national(principal, "catalogue solutions")
        with self._db.transaction() as session:
            return _catalogue(session, draft, self._new_id(), self._clock())

    def revise(self, principal: Principal, solution_id: str, draft: SolutionDraft,
               expected_version: int | None) -> Solution:
        self._check_id(solution_id, "solution_id")
        require_national(principal, "revise solutions")
        with self._db.transaction() as session:
            solution = store.solution_documents.get(session, solution_id)
            changed = domain.revise(solution, draft, self._clock(), expected_version)
            if changed is None:
                return solution
            _require_unique_name(session, changed.name, solution_id)
            store.solution_documents.replace(session, changed)
            events.solution_revised(session, changed)
        return changed

    def retire(self, principal: Principal, solution_id: str, reason: str) -> Solution:
        require_national(principal, "retire solutions")
        return self._change(store.solution_documents, solution_id, "solution_id",
                            lambda solution: domain.retire(solution, reason, self._clock()),
                            events.solution_retired)

    def get(self, solution_id: str) -> Solution:
        return self._one(store.solution_documents, solution_id, "solution_id")

    def list_solutions(self, where: domain.SolutionFilter, page_size: int,
             page_token: str) -> tuple[list[Solution], str]:
        if len(where.text) > MAX_SEARCH_LENGTH:
            raise InvalidArgument("text", f"at most {MAX_SEARCH_LENGTH} characters")
        return self._page(lambda session, after, limit: store.list_solutions(
            session, where, after, limit), page_size, page_token, where.as_dict(),
            lambda last: [domain.name_key(last.name), last.id], _name_keyset)

    def link(self, principal: Principal, solution_id: str, need_id: str) -> Solution:
        self._check_id(solution_id, "solution_id")
        self._check_id(need_id, "need_id")
        require_national(principal, "link solutions to needs")
        with self._db.transaction() as session:
            solution = store.solution_documents.get(session, solution_id)
            need = store.need_documents.find(session, need_id)
            if need is None:
                raise FailedPrecondition(
                    f"need {need_id} is not known to the catalogue: needs-intake has not "
                    "published it, or the catalogue has not caught up yet; retry shortly")
            changed = domain.link(solution, need, self._clock())
            if changed is None:
                return solution
            store.solution_documents.replace(session, changed)
            events.solution_linked(session, changed, need_id)
        return changed

    def unlink(self, principal: Principal, solution_id: str, need_id: str) -> Solution:
        self._check_id(solution_id, "solution_id")
        self._check_id(need_id, "need_id")
        require_national(principal, "unlink solutions from needs")
        with self._db.transaction() as session:
            solution = store.solution_documents.get(session, solution_id)
            changed = domain.unlink(solution, need_id, self._clock())
            if changed is None:
                return solution
            store.solution_documents.replace(session, changed)
            events.solution_unlinked(session, changed, need_id)
        return changed

    def candidates(self, need_id: str) -> tuple[KnownNeed, list[Solution], list[Solution]]:
        """The need, the active solutions linked to it, and the other active
        solutions in its area."""
        self._check_id(need_id, "need_id")
        with self._db.read() as session:
            need = store.need_documents.find(session, need_id)
            if need is None:
                raise NotFound(f"need {need_id} is not known to the catalogue (yet)")
            linked = store.active_solutions_linked_to(session, need_id)
            in_area = ([] if need.priority_area is PriorityArea.UNCATEGORISED
                       else store.active_solutions_in(session, need.priority_area))
        linked_ids = {solution.id for solution in linked}
        return need, linked, [s for s in in_area if s.id not in linked_ids]

    def unmet_needs(self, area: PriorityArea | None, page_size: int,
                    page_token: str) -> tuple[list[KnownNeed], str]:
        return self._page(lambda session, after, limit: store.list_unmet_needs(
            session, area, after, limit), page_size, page_token,
            {"priority_area": area.name if area else None},
            lambda last: [last.submitted_at.isoformat(), last.id], time_keyset)


class PrioritisationApp(UseCases):
    max_id_length = 36

    def record(self, principal: Principal, draft: RoundDraft, idempotency_key: str = "") -> Round:
        if len(idempotency_key) > MAX_KEY_LENGTH:
            raise InvalidArgument("idempotency_key", f"at most {MAX_KEY_LENGTH} characters")
        require_national(principal, "record prioritisation rounds")
        key = f"record:{idempotency_key}" if idempotency_key else ""
        with self._db.transaction() as session:
            if key and (earlier := store.round_keys.find(session, key)):
                return earlier
            round_ = mcda.record(_with_solutions(session, draft), self._new_id(), self._clock())
            store.round_documents.add(session, round_)
            if key:
                store.round_keys.remember(session, key, round_)
            events.round_recorded(session, round_)
        return round_

    def get(self, round_id: str) -> Round:
        return self._one(store.round_documents, round_id, "round_id")

    def list_rounds(self, status: RoundStatus | None, page_size: int,
             page_token: str) -> tuple[list[Round], str]:
        return self._page(lambda session, after, limit: store.list_rounds(
            session, status, after, limit), page_size, page_token,
            {"status": status.name if status else None},
            lambda last: [last.created_at.isoformat(), last.id], time_keyset)

    def close(self, principal: Principal, round_id: str) -> Round:
        require_national(principal, "close prioritisation rounds")
        return self._change(store.round_documents, round_id, "round_id",
                            lambda round_: mcda.close(round_, self._clock()), events.round_closed)

    def default_criteria(self) -> list[mcda.Criterion]:
        with self._db.read() as session:
            return store.list_default_criteria(session)


def seed_reference_data(database: Database, clock: Callable[[], datetime] = utc_now) -> None:
    """The network's default MCDA criteria and the MHIN projects' solutions, each
    added once (runs at every start): what exists is never touched, so revisions
    and retirements survive a restart."""
    with database.transaction() as session:
        store.add_missing_criteria(session, mcda.MHIN_CRITERIA)
        for solution_id, draft in REFERENCE_SOLUTIONS.items():
            if store.solution_documents.find(session, solution_id) is not None:
                continue
            try:
                _catalogue(session, draft, solution_id, clock())
            except AlreadyExists as clash:  # catalogued by hand before it was seeded
                log.warning("reference solution %s not added: %s", solution_id, clash)


def _catalogue(session: Session, draft: SolutionDraft, solution_id: str,
               now: datetime) -> Solution:
    _require_unique_name(session, draft.name)
    solution = domain.catalogue(draft, solution_id, now)
    store.solution_documents.add(session, solution)
    events.solution_catalogued(session, solution)
    return solution


def _with_solutions(session: Session, draft: RoundDraft) -> RoundDraft:
    """The draft with each option tied to its solution: the one it names by id
    (which must exist and be active), else the active solution of the same name."""
    options = []
    for index, option in enumerate(draft.options):
        if option.solution_id:
            _require_active_solution(session, option.solution_id,
                                     f"round.options.{index}.solution_id")
            options.append(option.model_dump())
        else:
            match = store.find_active_solution(session, option.name)
            options.append({**option.model_dump(), "solution_id": match.id if match else ""})
    # Validated again: a name match may make two options the same solution.
    return build(RoundDraft, {**draft.model_dump(), "options": options}, "round")


def _require_active_solution(session: Session, solution_id: str, field: str) -> None:
    try:
        solution = store.solution_documents.get(session, solution_id)
    except NotFound:
        raise InvalidArgument(field, f"no solution has the id {solution_id!r}") from None
    if solution.status is not domain.SolutionStatus.ACTIVE:
        raise FailedPrecondition(f"solution {solution_id} is retired: it cannot be an option")


def _require_unique_name(session: Session, name: str, own_id: str = "") -> None:
    same = store.find_active_solution(session, name)
    if same is not None and same.id != own_id:
        raise AlreadyExists(f"active solution {same.id} is already called {same.name!r}")


def _name_keyset(after: list[Any]) -> tuple[str, str]:
    """The (name key, id) a page token continues after."""
    return str(after[0]), str(after[1])


