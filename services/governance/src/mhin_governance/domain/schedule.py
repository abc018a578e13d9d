"""Meeting schedules: a body's rule for the days it meets."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import Field

from mhin_platform.models import Model


class Weekday(StrEnum):
    # In date.weekday() order: the position is the weekday number.
    MONDAY = "Monday"
    TUESDAY = "Tuesday"
    WEDNESDAY = "Wednesday"
    THURSDAY = "Thursday"
    FRIDAY = "Friday"
    SATURDAY = "Saturday"
    SUNDAY = "Sunday"


def _add_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


class ScheduleRule(Model):
    """Meets in every ``interval_months``-th month counted from ``first_month``, on the
    ``week_of_month``-th ``weekday`` of the month."""

    interval_months: Literal[1, 2, 3, 4, 6, 12]
    first_month: int = Field(ge=1, le=12)
    week_of_month: int = Field(ge=1, le=4)
    weekday: Weekday

    def meets_in(self, month: int) -> bool:
        return (month - self.first_month) % self.interval_months == 0

    def day_in(self, year: int, month: int) -> date:
        first = date(year, month, 1)
        offset = (list(Weekday).index(self.weekday) - first.weekday()) % 7
        return first + timedelta(days=offset + 7 * (self.week_of_month - 1))

    def days_between(self, start: date, end: date) -> list[date]:
        days = []
        year, month = start.year, start.month
        while date(year, month, 1) <= end:
            if self.meets_in(month) and start <= (day := self.day_in(year, month)) <= end:
                days.append(day)
            year, month = _add_month(year, month)
        return days

    def next_day(self, on_or_after: date) -> date:
        # Meetings are at most 12 months apart, so 13 months always hold the next one.
        return self.days_between(on_or_after, on_or_after + timedelta(days=400))[0]


def next_free_day(rule: ScheduleRule, on_or_after: date, taken: Collection[date]) -> date:
    """The first day of the rule on or after ``on_or_after`` with no meeting yet."""
    day = rule.next_day(on_or_after)
    while day in taken:
        day = rule.next_day(day + timedelta(days=1))
    return day


# The Executive meets bi-monthly: January, March, ..., November, second Tuesday.
EXECUTIVE_RULE = ScheduleRule(interval_months=2, first_month=1, week_of_month=2,
                              weekday=Weekday.TUESDAY)
