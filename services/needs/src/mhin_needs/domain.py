"""Needs: the pure rules. No I/O; unit-tested on their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from mhin_platform.errors import FailedPrecondition, InvalidArgument
from mhin_platform.models import Model, Name, RequiredText, Text, Versioned
from mhin_platform.paging import Filter
from mhin_platform.reference import Arc, OrganisationType, PriorityArea

FIRST_PRIOR_STUDY_YEAR = 2015
FIRST_POLICY_YEAR = 1948  # the NHS



class AgeGroup(StrEnum):
    CHILDREN = "children"
    YOUNG_PEOPLE = "young people"
    ADULTS = "adults"
    OLDER_ADULTS = "older adults"
    ALL_AGES = "all ages"


class NeedStatus(StrEnum):
    SUBMITTED = "submitted"
    CATEGORISED = "categorised"
    WITHDRAWN = "withdrawn"


class SourceKind(StrEnum):
    # Values are the proto oneof names, so a validation error's path reads as the
    # request field (``need.sources.0.prior_study.year``).
    SCOPING_EXERCISE = "scoping_exercise"
    PRIOR_STUDY = "prior_study"
    POLICY_DOCUMENT = "policy_document"


class AlignmentKind(StrEnum):
    SAME_NEED = "same need"
    RELATED = "related"


class Organisation(Model):
    name: Name
    type: OrganisationType


def _year_between(first: int) -> AfterValidator:
    def check(year: int) -> int:
        this_year = datetime.now(UTC).year
        if not first <= year <= this_year:
            raise ValueError(f"must be between {first} and {this_year}, got {year}")
        return year

    return AfterValidator(check)


class ScopingExerciseSource(Model):
    kind: Literal[SourceKind.SCOPING_EXERCISE] = SourceKind.SCOPING_EXERCISE
    response_ref: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""


class PriorStudySource(Model):
    """A study in England since 2015 that found the same need."""

    kind: Literal[SourceKind.PRIOR_STUDY] = SourceKind.PRIOR_STUDY
    citation: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=500)]
    year: Annotated[int, _year_between(FIRST_PRIOR_STUDY_YEAR)]


class PolicyDocumentSource(Model):
    kind: Literal[SourceKind.POLICY_DOCUMENT] = SourceKind.POLICY_DOCUMENT
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    year: Annotated[int, _year_between(FIRST_POLICY_YEAR)]


NeedSource = Annotated[
    ScopingExerciseSource | PriorStudySource | PolicyDocumentSource, Field(discriminator="kind")
]


class NeedDraft(Model):
    """What a submitter provides."""

    submitter: Organisation
    arc: Arc
    title: Name
    description: RequiredText
    population: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    age_group: AgeGroup | None = None
    priority_area: PriorityArea = PriorityArea.UNCATEGORISED
    sources: Annotated[list[NeedSource], Field(min_length=1, max_length=20)]
    evidence_of_unmet_need: Text = ""


class Alignment(Model):
    need_id: str
    kind: AlignmentKind
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""


class Need(NeedDraft, Versioned):
    id: str
    status: NeedStatus
    alignments: list[Alignment] = []
    withdrawal_reason: str = ""
    submitted_at: datetime

    @property
    def source_kinds(self) -> set[SourceKind]:
        return {source.kind for source in self.sources}

    def _require_active(self) -> None:
        if self.status is NeedStatus.WITHDRAWN:
            raise FailedPrecondition(f"need {self.id} is withdrawn and can no longer change")


def submit(draft: NeedDraft, need_id: str, now: datetime) -> Need:
    status = (NeedStatus.SUBMITTED if draft.priority_area is PriorityArea.UNCATEGORISED
              else NeedStatus.CATEGORISED)
    return Need(**draft.model_dump(), id=need_id, status=status, submitted_at=now, updated_at=now)


def categorise(need: Need, area: PriorityArea, now: datetime) -> Need | None:
    """The need in ``area``, or None when it is already there (nothing to record)."""
    if area is PriorityArea.UNCATEGORISED:
        raise InvalidArgument("priority_area", "categorise into one of the seven areas")
    need._require_active()
    if need.priority_area is area:
        return None
    return need._changed(now, priority_area=area, status=NeedStatus.CATEGORISED)


def align(need: Need, other: Need, kind: AlignmentKind, note: str,
          now: datetime) -> tuple[Need, Need] | None:
    """Both needs with the alignment recorded on each side, or None if it already is."""
    if need.id == other.id:
        raise InvalidArgument("aligned_need_id", "a need cannot be aligned with itself")
    need._require_active()
    other._require_active()
    if any(a.need_id == other.id for a in need.alignments):
        return None
    return (
        need._changed(now, alignments=[*need.alignments,
                                       Alignment(need_id=other.id, kind=kind, note=note)]),
        other._changed(now, alignments=[*other.alignments,
                                        Alignment(need_id=need.id, kind=kind, note=note)]),
    )


def withdraw(need: Need, reason: str, now: datetime) -> Need:
    reason = reason.strip()
    if not reason:
        raise InvalidArgument("reason", "say why the need is withdrawn")
    if len(reason) > 1000:
        raise InvalidArgument("reason", "at most 1000 characters")
    need._require_active()
    return need._changed(now, status=NeedStatus.WITHDRAWN, withdrawal_reason=reason)


# ------------------------------------------------------------------ list filters


@dataclass(frozen=True)
class NeedFilter(Filter):
    priority_area: PriorityArea | None = None
    arc: Arc | None = None
    organisation_type: OrganisationType | None = None
    source_kind: SourceKind | None = None
    status: NeedStatus | None = None
