"""The reporting hierarchy every figure is keyed by, in one vocabulary for the stream
processors that compute aggregates, evaluation that stores and serves them, the web
that shows them, and every test of theirs.

A site's figures count towards its ARC, its project and the nation. An aggregate is
one measure at one level's unit (a site id, an ARC code, a project id, or the nation's
one unit) for one period and stratum; a series is the same over its periods. Their
record keys on the topics are the fields joined by ``|``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

NATIONAL_UNIT = "national"
"""The one unit of the national level."""


class Level(StrEnum):
    """Levels of the hierarchy; names equal ``mhin.evaluation.v1.Level`` suffixes."""

    SITE = "site"
    ARC = "arc"
    PROJECT = "project"
    NATIONAL = "national"


class SeriesKey(NamedTuple):
    """One series: an aggregate over its periods."""

    measure_id: str
    level: Level
    unit: str
    stratum: str

    @property
    def text(self) -> str:
        """The record key of its SPC signals: ``<measure>|<level>|<unit>|<stratum>``."""
        return "|".join(self)

    def at(self, period: str) -> AggregateKey:
        """The aggregate of this series in ``period``."""
        return AggregateKey(self.measure_id, self.level, self.unit, period, self.stratum)


class AggregateKey(NamedTuple):
    """One aggregate: a measure at one level's unit, for a period and stratum."""

    measure_id: str
    level: Level
    unit: str
    period: str
    stratum: str

    @property
    def text(self) -> str:
        """The record key of its aggregate records:
        ``<measure>|<level>|<unit>|<period>|<stratum>``."""
        return "|".join(self)

    @property
    def series(self) -> SeriesKey:
        return SeriesKey(self.measure_id, self.level, self.unit, self.stratum)


def cell_key(measure_id: str, site_id: str, period: str, stratum: str) -> str:
    """One site's figures for a measure, period and stratum (the latest version of an
    observation): ``<measure>|<site>|<period>|<stratum>``, the subject of its events
    and the stream processors' table key."""
    return f"{measure_id}|{site_id}|{period}|{stratum}"
