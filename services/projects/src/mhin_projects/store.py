"""project-tracking persistence. Each aggregate (selection call, project) is
stored as its JSON document plus the columns that lists filter on; each write
checks the version it read (optimistic locking). Status reports live beside their
project; known solutions are the read model of catalogue events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.orm import Session

from mhin_platform.db.documents import ChildRows, Documents, after_keyset, document_table
from mhin_platform.reference import Arc
from mhin_projects.domain import (
    CallFilter,
    KnownSolution,
    Phase,
    Project,
    ProjectFilter,
    SelectionCall,
    StatusReport,
)

metadata = MetaData()

selection_calls = document_table(
    "selection_calls",
    metadata,
    Column("solution_id", String(64), nullable=False, index=True),
    Column("status", String(20), nullable=False, index=True),
    Column("opened_at", DateTime(timezone=True), nullable=False, index=True),
    id_length=64,
)

# Which call holds a proposal: governance decisions name only the proposal.
selection_proposals = Table(
    "selection_proposals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("call_id", String(64), ForeignKey("selection_calls.id"), nullable=False),
)

projects = document_table(
    "projects",
    metadata,
    Column("solution_id", String(64), nullable=False, index=True),
    Column("priority_area", String(60), nullable=False, index=True),
    Column("phase", String(20), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    id_length=64,
)

project_arcs = Table(
    "project_arcs",
    metadata,
    Column("project_id", String(64), ForeignKey("projects.id"), primary_key=True),
    Column("arc", String(40), primary_key=True),
)

status_reports = document_table(
    "status_reports",
    metadata,
    Column("project_id", String(64), ForeignKey("projects.id"), nullable=False, index=True),
    Column("arc", String(40), nullable=True),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    id_length=64, versioned=False,
)

known_solutions = document_table(
    "known_solutions",
    metadata,
    Column("retired", Boolean, nullable=False),
    id_length=64,
)

Keyset = tuple[datetime, str]


# ------------------------------------------------------------------ selection calls


def _call_columns(call: SelectionCall) -> dict[str, Any]:
    return {"solution_id": call.solution_id, "opened_at": call.opened_at,
            "status": call.status.name}


calls = Documents(selection_calls, SelectionCall, "selection call", _call_columns, children=(
    ChildRows(selection_proposals, "call_id",
              lambda call: [{"id": proposal.id} for proposal in call.proposals]),
))


def call_of_proposal(session: Session, proposal_id: str) -> SelectionCall | None:
    call_id = session.execute(select(selection_proposals.c.call_id).where(
        selection_proposals.c.id == proposal_id)).scalar_one_or_none()
    return None if call_id is None else calls.get(session, call_id)


def list_calls(session: Session, where: CallFilter, after: Keyset | None,
               limit: int) -> list[SelectionCall]:
    order = (selection_calls.c.opened_at, selection_calls.c.id)
    query = after_keyset(calls.select().order_by(*order).limit(limit), order, after)
    if where.status is not None:
        query = query.where(selection_calls.c.status == where.status.name)
    if where.solution_id:
        query = query.where(selection_calls.c.solution_id == where.solution_id)
    return calls.all(session, query)


# ------------------------------------------------------------------ projects


def _project_columns(project: Project) -> dict[str, Any]:
    return {"solution_id": project.solution_id, "created_at": project.created_at,
            "priority_area": project.priority_area.name, "phase": project.phase.name}


project_documents = Documents(projects, Project, "project", _project_columns, children=(
    ChildRows(project_arcs, "project_id",
              lambda project: [{"arc": arc.name} for arc in project.arcs]),
))


def active_project_for(session: Session, solution_id: str) -> Project | None:
    """The oldest project implementing ``solution_id`` that is not closed."""
    return project_documents.first(session, project_documents.select()
        .where(projects.c.solution_id == solution_id, projects.c.phase != Phase.CLOSED.name)
        .order_by(projects.c.created_at, projects.c.id).limit(1))


def list_projects(session: Session, where: ProjectFilter, after: Keyset | None,
                  limit: int) -> list[Project]:
    order = (projects.c.created_at, projects.c.id)
    query = after_keyset(project_documents.select().order_by(*order).limit(limit), order, after)
    for column, value in ((projects.c.phase, where.phase),
                          (projects.c.priority_area, where.priority_area)):
        if value is not None:
            query = query.where(column == value.name)
    if where.solution_id:
        query = query.where(projects.c.solution_id == where.solution_id)
    if where.arc is not None:
        query = query.where(projects.c.id.in_(
            select(project_arcs.c.project_id).where(project_arcs.c.arc == where.arc.name)))
    return project_documents.all(session, query)


reports = Documents(status_reports, StatusReport, "status report", lambda report: {
    "project_id": report.project_id, "arc": report.arc.name if report.arc else None,
    "submitted_at": report.submitted_at})


def list_reports(session: Session, project_id: str, arc: Arc | None, after: Keyset | None,
                 limit: int) -> list[StatusReport]:
    order = (status_reports.c.submitted_at, status_reports.c.id)
    query = after_keyset(reports.select().where(status_reports.c.project_id == project_id)
                         .order_by(*order).limit(limit), order, after)
    if arc is not None:
        query = query.where(status_reports.c.arc == arc.name)
    return reports.all(session, query)


# ------------------------------------------------------------------ known solutions


solutions = Documents(known_solutions, KnownSolution, "solution",
                      lambda solution: {"retired": solution.retired})


def list_solutions(session: Session, after_id: str, limit: int) -> list[KnownSolution]:
    return solutions.all(session, solutions.select().where(known_solutions.c.id > after_id)
                         .order_by(known_solutions.c.id).limit(limit))
