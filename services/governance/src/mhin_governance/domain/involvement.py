"""Patient and public involvement activities and their reports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from mhin_governance.domain.common import ProjectId, check_range
from mhin_platform.errors import InvalidArgument
from mhin_platform.models import Model, Name, Text
from mhin_platform.paging import Filter
from mhin_platform.reference import Arc


class InvolvementKind(StrEnum):
    ADVISORY_GROUP_MEETING = "advisory group meeting"
    CO_DESIGN_WORKSHOP = "co-design workshop"
    DOCUMENT_REVIEW = "document review"
    RECRUITMENT = "recruitment"
    DISSEMINATION = "dissemination"
    OTHER = "other"


def _quarter_hours(hours: Decimal) -> Decimal:
    if (hours * 4) % 1:
        raise ValueError(f"{hours} is not in quarter hours (e.g. 1.25, 7.5)")
    return hours


Hours = Annotated[Decimal, Field(gt=0, le=1_000_000), AfterValidator(_quarter_hours)]


class InvolvementDraft(Model):
    project_id: ProjectId
    arc: Arc | None = None  # None: the national team's activity
    kind: InvolvementKind
    title: Name
    activity_date: date
    people: int = Field(ge=1, le=100_000)
    experts_by_experience: int = Field(ge=0)
    hours: Hours
    notes: Text = ""

    @field_validator("experts_by_experience")
    @classmethod
    def _among_the_people(cls, experts: int, info: ValidationInfo) -> int:
        people = info.data.get("people")
        if people is not None and experts > people:
            raise ValueError(f"{experts} is more than the {people} people involved")
        return experts


class InvolvementActivity(InvolvementDraft):
    id: str
    recorded_at: datetime
    version: int = 1


def log_involvement(draft: InvolvementDraft, activity_id: str, now: datetime,
                    field: str = "activity.activity_date") -> InvolvementActivity:
    if draft.activity_date > now.date():
        raise InvalidArgument(field, f"{draft.activity_date} is in the future: log "
                                     "activities that have taken place")
    return InvolvementActivity(**draft.model_dump(), id=activity_id, recorded_at=now)


class InvolvementTotals(Model):
    activities: int = 0
    people: int = 0
    experts_by_experience: int = 0
    hours: Decimal = Decimal(0)

    def plus(self, activity: InvolvementActivity) -> InvolvementTotals:
        return InvolvementTotals(activities=self.activities + 1,
                                 people=self.people + activity.people,
                                 experts_by_experience=(self.experts_by_experience
                                                        + activity.experts_by_experience),
                                 hours=self.hours + activity.hours)


class InvolvementReport(Model):
    project_id: str
    arc: Arc | None
    from_date: date
    to_date: date
    totals: InvolvementTotals
    by_kind: dict[InvolvementKind, InvolvementTotals]


def involvement_report(activities: Iterable[InvolvementActivity], from_date: date,
                       to_date: date, project_id: str = "",
                       arc: Arc | None = None) -> InvolvementReport:
    """Totals of the activities of ``project_id`` (all if empty) and ``arc`` (all if
    None) from ``from_date`` to ``to_date`` inclusive, overall and per kind (the
    kinds that occurred, in InvolvementKind order). People are counted per activity:
    someone at two workshops counts twice."""
    check_range(from_date, to_date)
    totals = InvolvementTotals()
    by_kind: dict[InvolvementKind, InvolvementTotals] = {}
    for activity in activities:
        if not (from_date <= activity.activity_date <= to_date
                and project_id in ("", activity.project_id)
                and arc in (None, activity.arc)):
            continue
        totals = totals.plus(activity)
        by_kind[activity.kind] = by_kind.get(activity.kind, InvolvementTotals()).plus(activity)
    ordered = {kind: by_kind[kind] for kind in InvolvementKind if kind in by_kind}
    return InvolvementReport(project_id=project_id, arc=arc, from_date=from_date,
                             to_date=to_date, totals=totals, by_kind=ordered)


@dataclass(frozen=True)
class InvolvementFilter(Filter):
    project_id: str = ""
    arc: Arc | None = None
    kind: InvolvementKind | None = None
    from_date: date | None = None
    to_date: date | None = None
