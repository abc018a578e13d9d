"""The catalogue's solutions as project-tracking knows them, and the value types
selection and projects share."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from mhin_platform.errors import FailedPrecondition, InvalidArgument
from mhin_platform.models import Id, Model, Name
from mhin_platform.reference import Arc, PriorityArea

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]
Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]


def _distinct_arcs(arcs: list[Arc]) -> list[Arc]:
    if len(set(arcs)) != len(arcs):
        raise ValueError("name each ARC at most once")
    return arcs


def _categorised(area: PriorityArea) -> PriorityArea:
    if area is PriorityArea.UNCATEGORISED:
        raise ValueError("must be one of the seven priority areas")
    return area


Area = Annotated[PriorityArea, AfterValidator(_categorised)]
Arcs = Annotated[list[Arc], Field(max_length=len(Arc)), AfterValidator(_distinct_arcs)]


class KnownSolution(Model):
    """A catalogue solution as the last solution event (highest version) told it."""

    id: Id
    name: Name
    priority_areas: list[PriorityArea]
    retired: bool = False
    version: int = Field(ge=0)


def check_usable(solution: KnownSolution | None, solution_id: str, area: PriorityArea,
                 area_field: str) -> None:
    """New work may only be for a known, active solution, in one of its areas."""
    if solution is None:
        raise FailedPrecondition(
            f"solution {solution_id!r} is not in the catalogue as project-tracking knows it "
            "(no solution event about it has arrived)")
    if solution.retired:
        raise FailedPrecondition(f"solution {solution_id!r} is retired from the catalogue")
    if area not in solution.priority_areas:
        areas = ", ".join(a.name for a in solution.priority_areas)
        raise InvalidArgument(area_field, f"{area.name} is not an area of solution "
                                          f"{solution_id!r} (its areas: {areas})")
