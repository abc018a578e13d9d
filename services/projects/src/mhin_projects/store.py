"""project-tracking persistence. Each aggregate (selection call, project) is
stored as its JSON document plus the columns that lists filter on; each write
checks the version it read (optimistic locking). Status reports live beside their
project; known solutions are the read model of catalogue events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from mhin_platform.errors import FailedPrecondition, NotFound
from mhin_platform.reference import Arc, PriorityArea
from mhin_projects.domain import (
    CallStatus,
    KnownSolution,
    Phase,
    Project,
    SelectionCall,
    StatusReport,
)

metadata = MetaData()

selection_calls = Table(
    "selection_calls",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("solution_id", String(64), nullable=False, index=True),
    Column("status", String(20), nullable=False, index=True),
    Column("opened_at", DateTime(timezone=True), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),
)

# Which call holds a proposal: governance decisions name only the proposal.
selection_proposals = Table(
    "selection_proposals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("call_id", String(64), ForeignKey("selection_calls.id"), nullable=False),
)

projects = Table(
    "projects",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("solution_id", String(64), nullable=False, index=True),
    Column("priority_area", String(60), nullable=False, index=True),
    Column("phase", String(20), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),
)

project_arcs = Table(
    "project_arcs",
    metadata,
    Column("project_id", String(64), ForeignKey("projects.id"), primary_key=True),
    Column("arc", String(40), primary_key=True),
)

status_reports = Table(
    "status_reports",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), ForeignKey("projects.id"), nullable=False, index=True),
    Column("arc", String(40), nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("document", Text, nullable=False),
)

known_solutions = Table(
    "known_solutions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("retired", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),
)

Keyset = tuple[datetime, str]


def _after(query: Select[Any], at: Any, key: Any, keyset: Keyset | None) -> Select[Any]:
    """Rows after the (time, id) keyset, in that order."""
    if keyset is None:
        return query
    when, last_id = keyset
    return query.where(or_(at > when, and_(at == when, key > last_id)))


def _replace(session: Session, table: Table, aggregate_id: str, version: int,
             values: dict[str, Any], what: str) -> None:
    result = session.execute(
        update(table).where(table.c.id == aggregate_id, table.c.version == version - 1)
        .values(**values)
    )
    if result.rowcount != 1:
        raise FailedPrecondition(f"{what} {aggregate_id} was changed concurrently; retry")


# ------------------------------------------------------------------ selection calls


@dataclass(frozen=True)
class CallFilter:
    status: CallStatus | None = None
    solution_id: str = ""

    def as_dict(self) -> dict[str, str | None]:
        return {"status": self.status.name if self.status else None,
                "solution_id": self.solution_id}


def _call_columns(call: SelectionCall) -> dict[str, Any]:
    return {"status": call.status.name, "version": call.version,
            "document": call.model_dump_json()}


def add_call(session: Session, call: SelectionCall) -> None:
    session.execute(insert(selection_calls).values(
        id=call.id, solution_id=call.solution_id, opened_at=call.opened_at,
        **_call_columns(call)))


def replace_call(session: Session, call: SelectionCall) -> None:
    """Store a changed call (and index any new proposal of it)."""
    _replace(session, selection_calls, call.id, call.version, _call_columns(call), "call")
    known = set(session.execute(select(selection_proposals.c.id).where(
        selection_proposals.c.call_id == call.id)).scalars())
    new = [{"id": p.id, "call_id": call.id} for p in call.proposals if p.id not in known]
    if new:
        session.execute(insert(selection_proposals), new)


def get_call(session: Session, call_id: str) -> SelectionCall:
    document = session.execute(
        select(selection_calls.c.document).where(selection_calls.c.id == call_id)
    ).scalar_one_or_none()
    if document is None:
        raise NotFound(f"selection call {call_id!r} does not exist")
    return SelectionCall.model_validate_json(document)


def call_of_proposal(session: Session, proposal_id: str) -> SelectionCall | None:
    call_id = session.execute(select(selection_proposals.c.call_id).where(
        selection_proposals.c.id == proposal_id)).scalar_one_or_none()
    return None if call_id is None else get_call(session, call_id)


def list_calls(session: Session, where: CallFilter, after: Keyset | None,
               limit: int) -> list[SelectionCall]:
    query = select(selection_calls.c.document).order_by(
        selection_calls.c.opened_at, selection_calls.c.id).limit(limit)
    if where.status is not None:
        query = query.where(selection_calls.c.status == where.status.name)
    if where.solution_id:
        query = query.where(selection_calls.c.solution_id == where.solution_id)
    query = _after(query, selection_calls.c.opened_at, selection_calls.c.id, after)
    return [SelectionCall.model_validate_json(doc) for doc in session.execute(query).scalars()]


# ------------------------------------------------------------------ projects


@dataclass(frozen=True)
class ProjectFilter:
    arc: Arc | None = None
    phase: Phase | None = None
    solution_id: str = ""
    priority_area: PriorityArea | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"arc": self.arc.name if self.arc else None,
                "phase": self.phase.name if self.phase else None,
                "solution_id": self.solution_id,
                "priority_area": self.priority_area.name if self.priority_area else None}


def _project_columns(project: Project) -> dict[str, Any]:
    return {"priority_area": project.priority_area.name, "phase": project.phase.name,
            "version": project.version, "document": project.model_dump_json()}


def _store_arcs(session: Session, project: Project) -> None:
    session.execute(delete(project_arcs).where(project_arcs.c.project_id == project.id))
    if project.arcs:
        session.execute(insert(project_arcs),
                        [{"project_id": project.id, "arc": arc.name} for arc in project.arcs])


def add_project(session: Session, project: Project) -> None:
    session.execute(insert(projects).values(
        id=project.id, solution_id=project.solution_id, created_at=project.created_at,
        **_project_columns(project)))
    _store_arcs(session, project)


def replace_project(session: Session, project: Project) -> None:
    _replace(session, projects, project.id, project.version, _project_columns(project),
             "project")
    _store_arcs(session, project)


def find_project(session: Session, project_id: str) -> Project | None:
    document = session.execute(
        select(projects.c.document).where(projects.c.id == project_id)
    ).scalar_one_or_none()
    return None if document is None else Project.model_validate_json(document)


def get_project(session: Session, project_id: str) -> Project:
    project = find_project(session, project_id)
    if project is None:
        raise NotFound(f"project {project_id!r} does not exist")
    return project


def active_project_for(session: Session, solution_id: str) -> Project | None:
    """The oldest project implementing ``solution_id`` that is not closed."""
    document = session.execute(
        select(projects.c.document)
        .where(projects.c.solution_id == solution_id, projects.c.phase != Phase.CLOSED.name)
        .order_by(projects.c.created_at, projects.c.id).limit(1)
    ).scalar_one_or_none()
    return None if document is None else Project.model_validate_json(document)


def list_projects(session: Session, where: ProjectFilter, after: Keyset | None,
                  limit: int) -> list[Project]:
    query = select(projects.c.document).order_by(projects.c.created_at, projects.c.id).limit(limit)
    for column, value in ((projects.c.phase, where.phase),
                          (projects.c.priority_area, where.priority_area)):
        if value is not None:
            query = query.where(column == value.name)
    if where.solution_id:
        query = query.where(projects.c.solution_id == where.solution_id)
    if where.arc is not None:
        query = query.where(projects.c.id.in_(
            select(project_arcs.c.project_id).where(project_arcs.c.arc == where.arc.name)))
    query = _after(query, projects.c.created_at, projects.c.id, after)
    return [Project.model_validate_json(doc) for doc in session.execute(query).scalars()]


def add_report(session: Session, report: StatusReport) -> None:
    session.execute(insert(status_reports).values(
        id=report.id, project_id=report.project_id,
        arc=report.arc.name if report.arc else None,
        submitted_at=report.submitted_at, document=report.model_dump_json()))


def list_reports(session: Session, project_id: str, arc: Arc | None, after: Keyset | None,
                 limit: int) -> list[StatusReport]:
    query = (select(status_reports.c.document)
             .where(status_reports.c.project_id == project_id)
             .order_by(status_reports.c.submitted_at, status_reports.c.id).limit(limit))
    if arc is not None:
        query = query.where(status_reports.c.arc == arc.name)
    query = _after(query, status_reports.c.submitted_at, status_reports.c.id, after)
    return [StatusReport.model_validate_json(doc) for doc in session.execute(query).scalars()]


# ------------------------------------------------------------------ known solutions


def find_solution(session: Session, solution_id: str) -> KnownSolution | None:
    document = session.execute(
        select(known_solutions.c.document).where(known_solutions.c.id == solution_id)
    ).scalar_one_or_none()
    return None if document is None else KnownSolution.model_validate_json(document)


def keep_solution(session: Session, solution: KnownSolution) -> bool:
    """Store ``solution`` unless a snapshot of the same or a newer version is
    already stored (events may arrive again or out of order); True if stored."""
    stored = session.execute(select(known_solutions.c.version).where(
        known_solutions.c.id == solution.id)).scalar_one_or_none()
    values = {"retired": solution.retired, "version": solution.version,
              "document": solution.model_dump_json()}
    if stored is None:
        session.execute(insert(known_solutions).values(id=solution.id, **values))
        return True
    if solution.version <= stored:
        return False
    session.execute(update(known_solutions).where(known_solutions.c.id == solution.id)
                    .values(**values))
    return True


def list_solutions(session: Session, after_id: str, limit: int) -> list[KnownSolution]:
    query = (select(known_solutions.c.document).where(known_solutions.c.id > after_id)
             .order_by(known_solutions.c.id).limit(limit))
    return [KnownSolution.model_validate_json(doc) for doc in session.execute(query).scalars()]
