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
from mhin_platform.reference import Arc, PriorityArea
from mhin_projects import app, domain, events, store
from mhin_projects.domain import KnownSolution, ProjectDraft

REFERENCE_SOLUTIONS = (
    KnownSolution(id="solution-pcref", name="Patient and Carer Race Equality Framework (PCREF)",
                  priority_areas=[PriorityArea.INEQUALITIES], version=0),
    KnownSolution(id="solution-parent-led-cbt", name="Parent-led CBT for child anxiety",
                  priority_areas=[PriorityArea.CHILDREN_AND_YOUNG_PEOPLE], version=0),
    KnownSolution(id="solution-alcohol-assertive-outreach",
                  name="Alcohol Assertive Outreach Treatment (AAOT)",
                  priority_areas=[PriorityArea.COMORBIDITIES], version=0),
)

REFERENCE_PROJECTS = {
    "mhin-project-1": ProjectDraft(
        name="Improving access to mental health services for minority ethnic communities: "
             "PCREF",
        solution_id="solution-pcref", priority_area=PriorityArea.INEQUALITIES,
        arcs=[Arc.GREATER_MANCHESTER, Arc.YORKSHIRE_AND_HUMBER]),
    "mhin-project-2": ProjectDraft(
        name="Children and young people's mental health: parent-led CBT for child anxiety",
        solution_id="solution-parent-led-cbt",
        priority_area=PriorityArea.CHILDREN_AND_YOUNG_PEOPLE,
        arcs=[Arc.EAST_OF_ENGLAND, Arc.NORTH_WEST_COAST]),
    "mhin-project-3": ProjectDraft(
        name="Integrated care for substance use, mental and physical health: Alcohol "
             "Assertive Outreach Treatment",
        solution_id="solution-alcohol-assertive-outreach",
        priority_area=PriorityArea.COMORBIDITIES,
        arcs=[Arc.GREATER_MANCHESTER, Arc.YORKSHIRE_AND_HUMBER]),
}


def load_reference_data(database: Database, clock: Callable[[], datetime] = app.now) -> None:
    """Add what is missing (publishing ProjectCreated for each project added);
    never touch what exists, so changes made since survive a restart."""
    with database.transaction() as session:
        for solution in REFERENCE_SOLUTIONS:
            store.keep_solution(session, solution)
        for project_id, draft in REFERENCE_PROJECTS.items():
            if store.find_project(session, project_id) is None:
                project = domain.new_project(draft, project_id, clock())
                store.add_project(session, project)
                events.project_created(session, project)
