"""What every section of governance shares: the reference bodies' ids, limits,
value types and decision outcomes."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints

from mhin_platform.errors import InvalidArgument

EXECUTIVE_ID = "executive"
ADVISORY_BOARD_ID = "advisory-board"
SELECTION_PROPOSAL = "mhin.projects.v1.SelectionProposal"
MAX_SCHEDULE_YEARS = 5
MAX_REPORT_YEARS = 10

Papers = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10000)]
ProjectId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                              max_length=200)]
AggregateType = Annotated[str, StringConstraints(
    pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\.[A-Z][A-Za-z0-9]*$", max_length=200)]


class DecisionOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    DEFERRED = "deferred"


def check_range(from_date: date, to_date: date, max_years: int | None = None) -> None:
    """A range of days given as request fields ``from_date`` and ``to_date``."""
    if to_date < from_date:
        raise InvalidArgument("to_date", f"{to_date} is before from_date {from_date}")
    if max_years is not None and (to_date - from_date).days > 366 * max_years:
        raise InvalidArgument("to_date", f"the range may span at most {max_years} years")
