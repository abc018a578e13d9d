"""Projects: their ARCs, sites, phases, milestones and status reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from mhin_platform.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from mhin_platform.models import Id, Model, Name, RequiredText, Text, Versioned
from mhin_platform.paging import Filter
from mhin_platform.reference import Arc, OrganisationType, PriorityArea
from mhin_projects.domain.solutions import Arcs, Area, KnownSolution, Note, check_usable


class Phase(StrEnum):
    SET_UP = "set-up"
    IMPLEMENTATION = "implementation"
    SUSTAINMENT = "sustainment"
    CLOSED = "closed"


NEXT_PHASES: dict[Phase, tuple[Phase, ...]] = {
    Phase.SET_UP: (Phase.IMPLEMENTATION, Phase.CLOSED),
    Phase.IMPLEMENTATION: (Phase.SUSTAINMENT, Phase.CLOSED),
    Phase.SUSTAINMENT: (Phase.CLOSED,),
    Phase.CLOSED: (),
}


EARLY_CLOSE_FROM = (Phase.SET_UP, Phase.IMPLEMENTATION)


class MilestoneStatus(StrEnum):
    NOT_STARTED = "not started"
    IN_PROGRESS = "in progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


NEXT_MILESTONE_STATUSES: dict[MilestoneStatus, tuple[MilestoneStatus, ...]] = {
    MilestoneStatus.NOT_STARTED: (MilestoneStatus.NOT_STARTED, MilestoneStatus.IN_PROGRESS,
                                  MilestoneStatus.COMPLETED, MilestoneStatus.CANCELLED),
    MilestoneStatus.IN_PROGRESS: (MilestoneStatus.IN_PROGRESS, MilestoneStatus.COMPLETED,
                                  MilestoneStatus.CANCELLED),
    MilestoneStatus.COMPLETED: (),
    MilestoneStatus.CANCELLED: (),
}


class Rag(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class SiteDraft(Model):
    name: Name
    organisation_name: Name
    organisation_type: OrganisationType
    arc: Arc
    go_live_date: date | None = None


class Site(SiteDraft):
    id: str


class MilestoneDraft(Model):
    title: Name
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""
    arc: Arc | None = None  # None: a project-wide milestone
    planned_date: date
    rag: Rag = Rag.GREEN


class Milestone(MilestoneDraft):
    id: str
    status: MilestoneStatus = MilestoneStatus.NOT_STARTED
    actual_date: date | None = None
    note: Note = ""


class MilestoneUpdate(Model):
    status: MilestoneStatus
    rag: Rag
    actual_date: date | None = Field(default=None, validate_default=True)
    planned_date: date | None = None  # None keeps the current plan
    note: Note = ""

    @field_validator("actual_date")
    @classmethod
    def _set_exactly_when_completed(cls, actual: date | None, info: ValidationInfo) -> date | None:
        completed = info.data.get("status") is MilestoneStatus.COMPLETED
        if completed and actual is None:
            raise ValueError("is required when the milestone is completed")
        if not completed and actual is not None:
            raise ValueError("is set only when the milestone is completed")
        return actual


class ProjectDraft(Model):
    name: Name
    solution_id: Id
    priority_area: Area
    arcs: Arcs = []


class Project(ProjectDraft, Versioned):
    id: str
    sites: list[Site] = []
    phase: Phase = Phase.SET_UP
    milestones: list[Milestone] = []
    selection_call_id: str = ""
    closure_reason: str = ""
    created_at: datetime

    def site(self, site_id: str) -> Site:
        for site in self.sites:
            if site.id == site_id:
                return site
        raise NotFound(f"project {self.id} has no site {site_id!r}")

    def milestone(self, milestone_id: str) -> Milestone:
        for milestone in self.milestones:
            if milestone.id == milestone_id:
                return milestone
        raise NotFound(f"project {self.id} has no milestone {milestone_id!r}")

    def _require_open(self) -> None:
        if self.phase is Phase.CLOSED:
            raise FailedPrecondition(f"project {self.id} is closed and can no longer change")

    def _require_arc(self, arc: Arc | None, what: str) -> None:
        if arc is not None and arc not in self.arcs:
            arcs = ", ".join(a.name for a in self.arcs) or "none yet"
            raise FailedPrecondition(f"{what} of ARC {arc.name}: the ARC does not implement "
                                     f"project {self.id} (its ARCs: {arcs})")


class StatusReportDraft(Model):
    arc: Arc | None = None  # None: a report on the whole project
    period_start: date
    period_end: date
    rag: Rag
    summary: RequiredText
    risks: Text = ""
    next_steps: Text = ""

    @field_validator("period_end")
    @classmethod
    def _not_before_start(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("period_start")
        if start is not None and end < start:
            raise ValueError(f"{end} is before period_start {start}")
        return end


class StatusReport(StatusReportDraft):
    id: str
    project_id: str
    submitted_by: str
    submitted_at: datetime


def new_project(draft: ProjectDraft, project_id: str, now: datetime,
                selection_call_id: str = "") -> Project:
    return Project(**draft.model_dump(), id=project_id, selection_call_id=selection_call_id,
                   created_at=now, updated_at=now)


def create_project(draft: ProjectDraft, solution: KnownSolution | None, project_id: str,
                   now: datetime) -> Project:
    check_usable(solution, draft.solution_id, draft.priority_area, "project.priority_area")
    return new_project(draft, project_id, now)


def add_arcs(project: Project, arcs: list[Arc], selection_call_id: str,
             now: datetime) -> Project | None:
    """The project implemented by ``arcs`` too (partnerships are added, never removed:
    the sites of its ARCs stay valid), or None when nothing changes."""
    project._require_open()
    new = [arc for arc in arcs if arc not in project.arcs]
    if not new and project.selection_call_id == selection_call_id:
        return None
    return project._changed(now, arcs=[*project.arcs, *new], selection_call_id=selection_call_id)


def add_site(project: Project, draft: SiteDraft, site_id: str,
             now: datetime) -> tuple[Project, Site]:
    project._require_open()
    project._require_arc(draft.arc, "cannot add a site")
    _require_unique_site(project, draft, site_id)
    site = Site(**draft.model_dump(), id=site_id)
    return project._changed(now, sites=[*project.sites, site]), site


def update_site(project: Project, site_id: str, draft: SiteDraft,
                now: datetime) -> tuple[Project, Site] | None:
    earlier = project.site(site_id)
    project._require_open()
    project._require_arc(draft.arc, "cannot move a site to")
    _require_unique_site(project, draft, site_id)
    site = Site(**draft.model_dump(), id=site_id)
    if site == earlier:
        return None
    sites = [site if s.id == site_id else s for s in project.sites]
    return project._changed(now, sites=sites), site


def _require_unique_site(project: Project, draft: SiteDraft, site_id: str) -> None:
    for site in project.sites:
        if site.id != site_id and (site.arc, site.name) == (draft.arc, draft.name):
            raise AlreadyExists(f"project {project.id} already has a site {draft.name!r} "
                                f"of ARC {draft.arc.name} ({site.id})")


def change_phase(project: Project, phase: Phase, reason: str, now: datetime) -> Project | None:
    """The project in ``phase``, or None when it is already there. Closing early
    (from set-up or implementation) needs a reason."""
    if phase is project.phase:
        return None
    if phase not in NEXT_PHASES[project.phase]:
        allowed = NEXT_PHASES[project.phase]
        why = ("a closed project never reopens" if not allowed else
               f"from {project.phase.name} it can move to "
               f"{' or '.join(p.name for p in allowed)}")
        raise FailedPrecondition(f"project {project.id} cannot move from {project.phase.name} "
                                 f"to {phase.name}: {why}")
    reason = reason.strip()
    if phase is Phase.CLOSED and project.phase in EARLY_CLOSE_FROM and not reason:
        raise InvalidArgument("reason", f"say why project {project.id} closes early "
                                        f"(from {project.phase.name})")
    return project._changed(now, phase=phase,
                            closure_reason=reason if phase is Phase.CLOSED else "")


def add_milestone(project: Project, draft: MilestoneDraft, milestone_id: str,
                  now: datetime) -> tuple[Project, Milestone]:
    project._require_open()
    project._require_arc(draft.arc, "cannot add a milestone")
    milestone = Milestone(**draft.model_dump(), id=milestone_id)
    return project._changed(now, milestones=[*project.milestones, milestone]), milestone


def update_milestone(project: Project, milestone_id: str, update: MilestoneUpdate,
                     now: datetime) -> tuple[Project, Milestone] | None:
    """The milestone's progress recorded, or None when nothing changes. Completed
    and cancelled milestones are final; a completion date is never in the future."""
    earlier = project.milestone(milestone_id)
    project._require_open()
    if update.status not in NEXT_MILESTONE_STATUSES[earlier.status]:
        why = ("it is final" if earlier.status in (MilestoneStatus.COMPLETED,
                                                   MilestoneStatus.CANCELLED)
               else "a milestone never goes back")
        raise FailedPrecondition(f"milestone {milestone_id} is {earlier.status} and cannot "
                                 f"become {update.status}: {why}")
    if update.actual_date is not None and update.actual_date > now.date():
        raise InvalidArgument("actual_date", f"{update.actual_date} is in the future")
    milestone = earlier.model_copy(update={
        "status": update.status,
        "rag": update.rag,
        "actual_date": update.actual_date,
        "planned_date": update.planned_date or earlier.planned_date,
        "note": update.note,
    })
    if milestone == earlier:
        return None
    milestones = [milestone if m.id == milestone_id else m for m in project.milestones]
    return project._changed(now, milestones=milestones), milestone


def report_status(project: Project, draft: StatusReportDraft, report_id: str, submitted_by: str,
                  now: datetime) -> tuple[Project, StatusReport]:
    """A status report recorded; the project's version counts it (reports live
    beside the project, not in its snapshot)."""
    project._require_open()
    project._require_arc(draft.arc, "cannot report")
    if draft.period_end > now.date():
        raise InvalidArgument("report.period_end", f"{draft.period_end} is in the future")
    report = StatusReport(**draft.model_dump(), id=report_id, project_id=project.id,
                          submitted_by=submitted_by, submitted_at=now)
    return project._changed(now), report


@dataclass(frozen=True)
class ProjectFilter(Filter):
    arc: Arc | None = None
    phase: Phase | None = None
    solution_id: str = ""
    priority_area: PriorityArea | None = None
