"""Reference data every service shares (DESIGN.md section 1): the 15 ARCs, the
seven priority areas, the kinds of organisation, and the solutions of the three
MHIN projects.

Member names equal the protobuf enum value names without their prefix
(``Arc.SOUTH_LONDON`` is ``mhin.common.v1.ARC_SOUTH_LONDON``), which is what
``mhin_platform.protoconv`` relies on to translate between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Self


class ReferenceEnum(StrEnum):
    """A list of reference values people type: by code, name or slug."""

    @classmethod
    def parse(cls, text: str) -> Self:
        """Accept a code (``GREATER_MANCHESTER``), a name (``Greater Manchester``) or
        a slug (``greater-manchester``); ValueError names the choices otherwise."""
        wanted = _normalise(text)
        for member in cls:
            if wanted in (_normalise(member.name), _normalise(member.value)):
                return member
        choices = ", ".join(member.name for member in cls)
        raise ValueError(f"{text!r} is not one of: {choices}")


class Arc(ReferenceEnum):
    EAST_MIDLANDS = "East Midlands"
    EAST_OF_ENGLAND = "East of England"
    GREATER_MANCHESTER = "Greater Manchester"
    KENT_SURREY_AND_SUSSEX = "Kent, Surrey and Sussex"
    NORTH_EAST_AND_NORTH_CUMBRIA = "North East and North Cumbria"
    NORTH_THAMES = "North Thames"
    NORTH_WEST_COAST = "North West Coast"
    NORTH_WEST_LONDON = "North West London"
    OXFORD_AND_THAMES_VALLEY = "Oxford and Thames Valley"
    SOUTH_LONDON = "South London"
    SOUTH_WEST_PENINSULA = "South West Peninsula"
    WESSEX = "Wessex"
    WEST = "West"
    WEST_MIDLANDS = "West Midlands"
    YORKSHIRE_AND_HUMBER = "Yorkshire and Humber"


class PriorityArea(ReferenceEnum):
    CHILDREN_AND_YOUNG_PEOPLE = "Children and young people"
    COMORBIDITIES = "Comorbidities"
    INEQUALITIES = "Inequalities"
    MENTAL_HEALTH_SYSTEMS_STRENGTHENING = "Mental health systems strengthening"
    TALKING_THERAPIES = "Talking therapies"
    SUICIDE_AND_SELF_HARM = "Suicide / self-harm"
    SEVERE_MENTAL_ILLNESS = "Severe mental illness"
    UNCATEGORISED = "Uncategorised"


class OrganisationType(ReferenceEnum):
    NHS_TRUST = "NHS trust"
    VCSE = "VCSE / charity"
    SOCIAL_CARE = "Social care"
    EDUCATION = "Education"
    LOCAL_AUTHORITY = "Local authority"
    RESEARCH_ORGANISATION = "Research organisation"


@dataclass(frozen=True)
class ReferenceSolution:
    """A solution one of the three MHIN projects implements (DESIGN.md section 1.3).
    The catalogue catalogues it under this id and project-tracking's reference
    projects name it, so the catalogue's events about it replace project-tracking's
    placeholder instead of adding a look-alike."""

    id: str
    name: str
    priority_area: PriorityArea


PCREF = ReferenceSolution(
    "solution-pcref", "Patient and Carer Race Equality Framework (PCREF)",
    PriorityArea.INEQUALITIES)
PARENT_LED_CBT = ReferenceSolution(
    "solution-parent-led-cbt", "Parent-led CBT for child anxiety",
    PriorityArea.CHILDREN_AND_YOUNG_PEOPLE)
ALCOHOL_ASSERTIVE_OUTREACH = ReferenceSolution(
    "solution-alcohol-assertive-outreach", "Alcohol Assertive Outreach Treatment (AAOT)",
    PriorityArea.COMORBIDITIES)
REFERENCE_SOLUTIONS = (PCREF, PARENT_LED_CBT, ALCOHOL_ASSERTIVE_OUTREACH)


def _normalise(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())
