"""The solutions of the three MHIN projects (``mhin_platform.reference``: their ids,
names and priority areas), catalogued at start if missing, with what the catalogue
holds about them beside."""

from __future__ import annotations

from typing import Any

from mhin_catalogue.domain import (
    Evidence,
    EvidenceLevel,
    Readiness,
    SolutionDraft,
    Study,
)
from mhin_platform.reference import (
    ALCOHOL_ASSERTIVE_OUTREACH,
    PARENT_LED_CBT,
    PCREF,
    ReferenceSolution,
)


def _draft(solution: ReferenceSolution, **details: Any) -> SolutionDraft:
    return SolutionDraft(name=solution.name, priority_areas=[solution.priority_area],
                         **details)


REFERENCE_SOLUTIONS: dict[str, SolutionDraft] = {
    PCREF.id: _draft(
        PCREF,
        description="An organisational competency framework for anti-racist mental health "
                    "care, co-produced with patients and carers: improving access, experience "
                    "and outcomes for people from minority ethnic communities.",
        evidence=Evidence(level=EvidenceLevel.SERVICE_EVALUATION,
                          summary="NHS England's framework, piloted in mental health trusts."),
        readiness=Readiness.READY, setting="mental health trusts",
        target_population="people from minority ethnic communities and their carers"),
    PARENT_LED_CBT.id: _draft(
        PARENT_LED_CBT,
        description="Brief guided parent-delivered cognitive behavioural therapy: parents "
                    "learn to help their child overcome anxiety, supported by a clinician.",
        evidence=Evidence(
            level=EvidenceLevel.RANDOMISED_TRIAL,
            studies=[Study(citation="Creswell et al. 2017, Lancet Psychiatry", year=2017)]),
        readiness=Readiness.READY, setting="CAMHS and schools",
        target_population="children with anxiety problems and their parents"),
    ALCOHOL_ASSERTIVE_OUTREACH.id: _draft(
        ALCOHOL_ASSERTIVE_OUTREACH,
        description="Assertive outreach for people with alcohol dependence who attend "
                    "hospital often: engagement, joint care for substance use, mental and "
                    "physical health, and fewer unplanned admissions.",
        evidence=Evidence(level=EvidenceLevel.SERVICE_EVALUATION,
                          summary="Evaluations of hospital alcohol care and outreach teams."),
        readiness=Readiness.READY, setting="acute hospitals and community services",
        target_population="alcohol-dependent frequent attenders of A&E"),
}
