"""Catalogue persistence. Solutions and rounds are stored as their JSON documents
plus the columns that filters use; each write checks the version it read
(optimistic locking). Needs are the catalogue's copy, kept from need events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    text,
)
from sqlalchemy.orm import Session

from mhin_catalogue.domain import (
    KnownNeed,
    NeedStatus,
    Solution,
    SolutionFilter,
    SolutionStatus,
    name_key,
)
from mhin_catalogue.mcda import Criterion, Round, RoundStatus
from mhin_platform.db.documents import ChildRows, Documents, after_keyset, document_table
from mhin_platform.db.request_keys import RequestKeys
from mhin_platform.reference import PriorityArea

metadata = MetaData()

ACTIVE = SolutionStatus.ACTIVE.name

solutions = Table(
    "solutions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name_key", Text, nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("readiness", String(30), nullable=False, index=True),
    Column("evidence_level", String(30), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("search_text", Text, nullable=False),  # name and description, casefolded
    Column("document", Text, nullable=False),
    # Names are unique among active solutions (a retired name may be reused).
    Index("uq_solutions_active_name", "name_key", unique=True,
          sqlite_where=text(f"status = '{ACTIVE}'"), postgresql_where=text(f"status = '{ACTIVE}'")),
)

solution_areas = Table(
    "solution_areas",
    metadata,
    Column("solution_id", String(36), ForeignKey("solutions.id"), primary_key=True),
    Column("priority_area", String(60), primary_key=True),
)

solution_needs = Table(
    "solution_needs",
    metadata,
    Column("solution_id", String(36), ForeignKey("solutions.id"), primary_key=True),
    Column("need_id", String(36), primary_key=True, index=True),
)

known_needs = document_table(
    "known_needs",
    metadata,
    Column("priority_area", String(60), nullable=False, index=True),
    Column("status", String(20), nullable=False, index=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False, index=True),
)

rounds = document_table(
    "prioritisation_rounds",
    metadata,
    Column("status", String(20), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
)

# Reference data: the network's MCDA criteria, seeded at start-up. Weights are kept
# as decimal text so they stay exactly as published.
default_criteria = Table(
    "default_criteria",
    metadata,
    Column("position", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("weight", String(20), nullable=False),
)


# ------------------------------------------------------------------ solutions


def _solution_columns(solution: Solution) -> dict[str, object]:
    return {
        "name_key": name_key(solution.name),
        "status": solution.status.name,
        "readiness": solution.readiness.name,
        "evidence_level": solution.evidence.level.name,
        "created_at": solution.created_at,
        "search_text": f"{solution.name}\n{solution.description}".casefold(),
    }


solution_documents = Documents(solutions, Solution, "solution", _solution_columns, children=(
    ChildRows(solution_areas, "solution_id",
              lambda solution: [{"priority_area": a.name} for a in solution.priority_areas]),
    ChildRows(solution_needs, "solution_id",
              lambda solution: [{"need_id": need_id} for need_id in solution.need_ids]),
))


def find_active_solution(session: Session, name: str) -> Solution | None:
    """The active solution called ``name`` (ignoring case and spacing), if any."""
    return solution_documents.first(session, solution_documents.select().where(
        solutions.c.name_key == name_key(name), solutions.c.status == ACTIVE))


def _escape_like(text_: str) -> str:
    return text_.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_solutions(session: Session, where: SolutionFilter, after: tuple[str, str] | None,
                   limit: int | None) -> list[Solution]:
    """Solutions matching ``where`` by name, after the (name key, id) keyset."""
    order = (solutions.c.name_key, solutions.c.id)
    query = after_keyset(solution_documents.select().order_by(*order), order, after)
    for column, value in ((solutions.c.readiness, where.readiness),
                          (solutions.c.evidence_level, where.evidence_level),
                          (solutions.c.status, where.status)):
        if value is not None:
            query = query.where(column == value.name)
    if where.text:
        pattern = f"%{_escape_like(where.text.casefold())}%"
        query = query.where(solutions.c.search_text.like(pattern, escape="\\"))
    if where.priority_area is not None:
        query = query.where(solutions.c.id.in_(
            select(solution_areas.c.solution_id)
            .where(solution_areas.c.priority_area == where.priority_area.name)))
    return solution_documents.all(session, query.limit(limit))


def active_solutions_linked_to(session: Session, need_id: str) -> list[Solution]:
    return solution_documents.all(session, solution_documents.select()
        .join(solution_needs, solution_needs.c.solution_id == solutions.c.id)
        .where(solution_needs.c.need_id == need_id, solutions.c.status == ACTIVE)
        .order_by(solutions.c.name_key))


def active_solutions_in(session: Session, area: PriorityArea) -> list[Solution]:
    return list_solutions(session, SolutionFilter(priority_area=area,
                                                  status=SolutionStatus.ACTIVE), None, None)


# ------------------------------------------------------------------ the catalogue's copy of needs


need_documents = Documents(known_needs, KnownNeed, "need", lambda need: {
    "priority_area": need.priority_area.name, "status": need.status.name,
    "submitted_at": need.submitted_at})


def list_unmet_needs(session: Session, area: PriorityArea | None,
                     after: tuple[datetime, str] | None, limit: int) -> list[KnownNeed]:
    """Needs not withdrawn that no active solution is linked to, oldest first."""
    addressed = (select(solution_needs.c.need_id)
                 .join(solutions, solutions.c.id == solution_needs.c.solution_id)
                 .where(solutions.c.status == ACTIVE))
    order = (known_needs.c.submitted_at, known_needs.c.id)
    query = after_keyset(need_documents.select()
                         .where(known_needs.c.status != NeedStatus.WITHDRAWN.name,
                                known_needs.c.id.not_in(addressed))
                         .order_by(*order).limit(limit), order, after)
    if area is not None:
        query = query.where(known_needs.c.priority_area == area.name)
    return need_documents.all(session, query)


# ------------------------------------------------------------------ prioritisation rounds


round_documents = Documents(rounds, Round, "prioritisation round", lambda round_: {
    "status": round_.status.name, "created_at": round_.created_at})
# Client idempotency keys of RecordRound.
round_keys = RequestKeys(round_documents)


def list_rounds(session: Session, status: RoundStatus | None,
                after: tuple[datetime, str] | None, limit: int) -> list[Round]:
    order = (rounds.c.created_at, rounds.c.id)
    query = after_keyset(round_documents.select().order_by(*order).limit(limit), order, after)
    if status is not None:
        query = query.where(rounds.c.status == status.name)
    return round_documents.all(session, query)


# ------------------------------------------------------------------ reference data


def add_missing_criteria(session: Session, criteria: tuple[tuple[str, str], ...]) -> int:
    """Insert the default criteria not yet stored; the number inserted."""
    stored = set(session.execute(select(default_criteria.c.name)).scalars())
    missing = [{"position": position, "name": name, "weight": weight}
               for position, (name, weight) in enumerate(criteria) if name not in stored]
    if missing:
        session.execute(insert(default_criteria), missing)
    return len(missing)


def list_default_criteria(session: Session) -> list[Criterion]:
    rows = session.execute(select(default_criteria).order_by(default_criteria.c.position))
    return [Criterion(name=row.name, weight=Decimal(row.weight)) for row in rows]
