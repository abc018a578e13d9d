"""Reference data loaded at every start, idempotently (DESIGN.md section 1.3): the
three MHIN projects with their ARC pairs, and the solutions they implement.

The ids are stable so that other services and tests can name them. A reference
solution enters the read model at version 0, so the catalogue's first event about
the same id (version 1 or more) replaces it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from mhin_platform.db import Database
from mhin_platform.reference import (
    ALCOHOL_ASSERTIVE_OUTREACH,
    PARENT_LED_CBT,
    PCREF,
    REFERENCE_SOLUTIONS,
    Arc,
)
from mhin_platform.usecases import utc_now
from mhin_projects import domain, events, store
from mhin_projects.domain import KnownSolution, ProjectDraft

KNOWN_SOLUTIONS = tuple(
    KnownSolution(id=solution.id, name=solution.name,
                  priority_areas=[solution.priority_area], version=0)
    for solution in REFERENCE_SOLUTIONS
)

REFERENCE_PROJECTS = {
    "mhin-project-1": ProjectDraft(
        name="Improving access to mental health services for minority ethnic communities: "
             "PCREF",
        solution_id=PCREF.id, priority_area=PCREF.priority_area,
        arcs=[Arc.GREATER_MANCHESTER, Arc.YORKSHIRE_AND_HUMBER]),
    "mhin-project-2": ProjectDraft(
        name="Children and young people's mental health: parent-led CBT for child anxiety",
        solution_id=PARENT_LED_CBT.id, priority_area=PARENT_LED_CBT.priority_area,
        arcs=[Arc.EAST_OF_ENGLAND, Arc.NORTH_WEST_COAST]),
    "mhin-project-3": ProjectDraft(
        name="Integrated care for substance use, mental and physical health: Alcohol "
             "Assertive Outreach Treatment",
        solution_id=ALCOHOL_ASSERTIVE_OUTREACH.id,
        priority_area=ALCOHOL_ASSERTIVE_OUTREACH.priority_area,
        arcs=[Arc.GREATER_MANCHESTER, Arc.YORKSHIRE_AND_HUMBER]),
}


def load_reference_data(database: Database, clock: Callable[[], datetime] = utc_now) -> None:
    """Add what is missing (publishing ProjectCreated for each project added);
    never touch what exists, so changes made since survive a restart."""
    with database.transaction() as session:
        for solution in KNOWN_SOLUTIONS:
            store.solutions.keep_latest(session, solution)
        for project_id, draft in REFERENCE_PROJECTS.items():
            if store.project_documents.find(session, project_id) is None:
                project = domain.new_project(draft, project_id, clock())
                store.project_documents.add(session, project)
                events.project_created(session, project)
