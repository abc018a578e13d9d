"""Reporting periods and their canonical text ids.

A period is a calendar month, quarter or year. Its id is what keys carry (Kafka
record keys, table keys, exports) and maps one-to-one to ``mhin.common.v1.Period``:

- month: ``"2024-03"``
- quarter: ``"2024-Q1"`` (Q1 = January to March)
- year: ``"2024"``

Anything else (``"2024-3"``, ``"2024-q1"``, ``"2024-13"``) is rejected rather than
normalised, so that one period never has two keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import total_ordering


class Granularity(StrEnum):
    """Length of a period; member names equal ``PeriodGranularity`` value suffixes."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Frequency(StrEnum):
    """How often a measure is reported; names equal the proto enum suffixes."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


GRANULARITY_OF: dict[Frequency, Granularity] = {
    Frequency.MONTHLY: Granularity.MONTH,
    Frequency.QUARTERLY: Granularity.QUARTER,
    Frequency.YEARLY: Granularity.YEAR,
}

_MONTHS_IN = {Granularity.MONTH: 1, Granularity.QUARTER: 3, Granularity.YEAR: 12}
_PATTERN = re.compile(r"(?P<year>\d{4})(?:-(?:Q(?P<quarter>\d)|(?P<month>\d{2})))?", re.ASCII)
_FIRST_YEAR, _LAST_YEAR = 1900, 2999


@total_ordering
@dataclass(frozen=True)
class Period:
    """One calendar period. Ordered by start date, then shorter first (so a month
    sorts before the quarter and the year that start on the same day)."""

    start: date
    granularity: Granularity

    def __post_init__(self) -> None:
        months = _MONTHS_IN[self.granularity]
        if self.start.day != 1 or (self.start.month - 1) % months:
            raise ValueError(
                f"{self.start.isoformat()} is not the first day of a {self.granularity}"
            )

    @property
    def id(self) -> str:
        """The canonical id: ``"2024-03"``, ``"2024-Q1"`` or ``"2024"``."""
        year = f"{self.start.year:04d}"
        match self.granularity:
            case Granularity.MONTH:
                return f"{year}-{self.start.month:02d}"
            case Granularity.QUARTER:
                return f"{year}-Q{(self.start.month - 1) // 3 + 1}"
            case Granularity.YEAR:
                return year

    @property
    def end(self) -> date:
        """Last day of the period."""
        return self.next().start - timedelta(days=1)

    def next(self) -> Period:
        return Period(_add_months(self.start, _MONTHS_IN[self.granularity]), self.granularity)

    def previous(self) -> Period:
        return Period(_add_months(self.start, -_MONTHS_IN[self.granularity]), self.granularity)

    def fits(self, frequency: Frequency) -> bool:
        """Whether this is a period a measure of ``frequency`` is reported for."""
        return self.granularity is GRANULARITY_OF[Frequency(frequency)]

    def __lt__(self, other: Period) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self._rank() < other._rank()

    def _rank(self) -> tuple[date, int]:
        return self.start, _MONTHS_IN[self.granularity]

    def __str__(self) -> str:
        return self.id


def parse_period(period_id: str) -> Period:
    """The period an id names; ValueError says what is wrong with a bad one."""
    if not isinstance(period_id, str):
        raise ValueError(f"a period id must be text, not {type(period_id).__name__}")
    found = _PATTERN.fullmatch(period_id)
    if found is None:
        raise ValueError(
            f"{period_id!r} is not a period id: expected YYYY-MM (month), "
            "YYYY-QN (quarter) or YYYY (year), e.g. '2024-03', '2024-Q1', '2024'"
        )
    year = int(found["year"])
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise ValueError(f"{period_id!r}: year {year} is outside {_FIRST_YEAR}-{_LAST_YEAR}")
    if found["quarter"] is not None:
        quarter = int(found["quarter"])
        if not 1 <= quarter <= 4:
            raise ValueError(f"{period_id!r}: quarter {quarter} is not 1 to 4")
        return Period(date(year, 3 * quarter - 2, 1), Granularity.QUARTER)
    if found["month"] is not None:
        month = int(found["month"])
        if not 1 <= month <= 12:
            raise ValueError(f"{period_id!r}: month {month} is not 01 to 12")
        return Period(date(year, month, 1), Granularity.MONTH)
    return Period(date(year, 1, 1), Granularity.YEAR)


def validate_period(period_id: str, frequency: Frequency | None = None) -> str:
    """Return ``period_id`` if it is canonical (and, given ``frequency``, fits it);
    ValueError names the problem otherwise."""
    period = parse_period(period_id)
    if frequency is not None and not period.fits(frequency):
        expected = GRANULARITY_OF[Frequency(frequency)]
        raise ValueError(
            f"{period_id!r} is a {period.granularity}, but the measure is reported "
            f"{Frequency(frequency)} (one period per {expected})"
        )
    return period_id


def fits(period_id: str, frequency: Frequency) -> bool:
    """Whether ``period_id`` is a valid id of a period of ``frequency``'s length.
    False (not an error) for a malformed id."""
    try:
        return parse_period(period_id).fits(frequency)
    except ValueError:
        return False


def sort_key(period_id: str) -> Period:
    """Key that orders period ids chronologically (``sorted(ids, key=sort_key)``)."""
    return parse_period(period_id)


def _add_months(start: date, months: int) -> date:
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
