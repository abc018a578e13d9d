"""Solution catalogue: the pure rules for solutions and for the catalogue's copy of
needs-intake's needs. No I/O; unit-tested on their own. Prioritisation rounds are
in ``mcda``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field, StringConstraints

from mhin_platform.errors import FailedPrecondition, InvalidArgument
from mhin_platform.models import Model, Name, RequiredText, Text, Versioned
from mhin_platform.paging import Filter
from mhin_platform.reference import Arc, PriorityArea

FIRST_STUDY_YEAR = 1900
MAX_REASON_LENGTH = 1000

Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
# NICE guidance ids: a product prefix and a number, e.g. NG225, CG159, QS53, PH16.
NiceReference = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True,
                                                 pattern=r"^[A-Za-z]{2,4}[0-9]{1,4}$")]


def name_key(text: str) -> str:
    """What makes two names one name: case and spacing aside."""
    return " ".join(text.split()).casefold()


class EvidenceLevel(StrEnum):
    NICE_RECOMMENDED = "NICE recommended"
    SYSTEMATIC_REVIEW = "systematic review"
    RANDOMISED_TRIAL = "randomised trial"
    OBSERVATIONAL = "observational"
    SERVICE_EVALUATION = "service evaluation"


class Readiness(StrEnum):
    READY = "ready"
    NEEDS_ADAPTATION = "needs adaptation"
    EMERGING = "emerging"


class SolutionStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


def _published(year: int) -> int:
    if not FIRST_STUDY_YEAR <= year <= datetime.now(UTC).year:
        raise ValueError(f"must be between {FIRST_STUDY_YEAR} and this year, got {year}")
    return year


T = TypeVar("T")


def _distinct(items: list[T]) -> list[T]:
    if len(set(items)) != len(items):
        raise ValueError("lists the same value twice")
    return items


def _seven_areas(areas: list[PriorityArea]) -> list[PriorityArea]:
    if PriorityArea.UNCATEGORISED in areas:
        raise ValueError("a solution addresses one of the seven areas, not UNCATEGORISED")
    return _distinct(areas)


class Study(Model):
    citation: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=500)]
    year: Annotated[int, AfterValidator(_published)]
    url: Url = ""


class Evidence(Model):
    nice_guidance: Annotated[list[NiceReference], Field(max_length=20),
                             AfterValidator(_distinct)] = []
    studies: Annotated[list[Study], Field(max_length=50)] = []
    level: EvidenceLevel
    summary: Text = ""


class SolutionDraft(Model):
    """What the national team provides when cataloguing or revising a solution."""

    name: Name
    description: RequiredText
    priority_areas: Annotated[list[PriorityArea], Field(min_length=1),
                              AfterValidator(_seven_areas)]
    evidence: Evidence
    readiness: Readiness
    setting: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    target_population: Annotated[str, StringConstraints(strip_whitespace=True,
                                                        max_length=500)] = ""


class Solution(SolutionDraft, Versioned):
    id: str
    need_ids: list[str] = []
    status: SolutionStatus = SolutionStatus.ACTIVE
    retirement_reason: str = ""
    created_at: datetime

    def _require_active(self) -> None:
        if self.status is SolutionStatus.RETIRED:
            raise FailedPrecondition(f"solution {self.id} is retired and can no longer change")


def catalogue(draft: SolutionDraft, solution_id: str, now: datetime) -> Solution:
    return Solution(**draft.model_dump(), id=solution_id, created_at=now, updated_at=now)


def revise(solution: Solution, draft: SolutionDraft, now: datetime,
           expected_version: int | None = None) -> Solution | None:
    """The solution as ``draft`` describes it, or None when nothing changes.
    ``expected_version`` guards against overwriting a revision the caller has not seen."""
    solution._require_active()
    if expected_version is not None and expected_version != solution.version:
        raise FailedPrecondition(f"solution {solution.id} is at version {solution.version}, "
                                 f"not {expected_version}: read it again and retry")
    described = {name: getattr(solution, name) for name in SolutionDraft.model_fields}
    if described == dict(draft):
        return None
    return solution._changed(now, **dict(draft))


def retire(solution: Solution, reason: str, now: datetime) -> Solution:
    reason = reason.strip()
    if not reason:
        raise InvalidArgument("reason", "say why the solution is retired")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidArgument("reason", f"at most {MAX_REASON_LENGTH} characters")
    solution._require_active()
    return solution._changed(now, status=SolutionStatus.RETIRED, retirement_reason=reason)


class NeedStatus(StrEnum):
    """needs-intake's need statuses, as its events carry them."""

    SUBMITTED = "submitted"
    CATEGORISED = "categorised"
    WITHDRAWN = "withdrawn"


class KnownNeed(Model):
    """The catalogue's copy of a need, kept from needs-intake's events: what linking
    and the unmet-needs queries use."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    title: str
    arc: Arc
    priority_area: PriorityArea
    status: NeedStatus
    submitted_at: datetime
    version: Annotated[int, Field(ge=1)]


def link(solution: Solution, need: KnownNeed, now: datetime) -> Solution | None:
    """The solution recorded as addressing ``need``, or None when it already is."""
    solution._require_active()
    if need.status is NeedStatus.WITHDRAWN:
        raise FailedPrecondition(f"need {need.id} is withdrawn: link solutions to open needs")
    if need.id in solution.need_ids:
        return None
    return solution._changed(now, need_ids=[*solution.need_ids, need.id])


def unlink(solution: Solution, need_id: str, now: datetime) -> Solution | None:
    """The solution no longer addressing ``need_id``, or None when it did not."""
    solution._require_active()
    if need_id not in solution.need_ids:
        return None
    return solution._changed(now, need_ids=[n for n in solution.need_ids if n != need_id])


# ------------------------------------------------------------------ list filters


@dataclass(frozen=True)
class SolutionFilter(Filter):
    text: str = ""
    priority_area: PriorityArea | None = None
    readiness: Readiness | None = None
    evidence_level: EvidenceLevel | None = None
    status: SolutionStatus | None = None
