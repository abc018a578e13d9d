"""The solutions of the three MHIN projects (DESIGN.md section 1.3), catalogued at
start if missing.

Their ids are fixed because project-tracking's reference projects name them
(``mhin_projects.reference``): catalogued under these ids, their SolutionCatalogued
events replace project-tracking's placeholders instead of adding look-alikes.
"""

from __future__ import annotations

from mhin_catalogue.domain import (
    Evidence,
    EvidenceLevel,
    Readiness,
    SolutionDraft,
    Study,
)
from mhin_platform.reference import PriorityArea

REFERENCE_SOLUTIONS: dict[str, SolutionDraft] = {
    "solution-pcref": SolutionDraft(
        name="Patient and Carer Race Equality Framework (PCREF)",
        description="An organisational competency framework for anti-racist mental health "
                    "care, co-produced with patients and carers: improving access, experience "
                    "and outcomes for people from minority ethnic communities.",
        priority_areas=[PriorityArea.INEQUALITIES],
        evidence=Evidence(level=EvidenceLevel.SERVICE_EVALUATION,
                          summary="NHS England's framework, piloted in mental health trusts."),
        readiness=Readiness.READY, setting="mental health trusts",
        target_population="people from minority ethnic communities and their carers"),
    "solution-parent-led-cbt": SolutionDraft(
        name="Parent-led CBT for child anxiety",
        description="Brief guided parent-delivered cognitive behavioural therapy: parents "
                    "learn to help their child overcome anxiety, supported by a clinician.",
        priority_areas=[PriorityArea.CHILDREN_AND_YOUNG_PEOPLE],
        evidence=Evidence(
            level=EvidenceLevel.RANDOMISED_TRIAL,
            studies=[Study(citation="Creswell et al. 2017, Lancet Psychiatry", year=2017)]),
        readiness=Readiness.READY, setting="CAMHS and schools",
        target_population="children with anxiety problems and their parents"),
    "solution-alcohol-assertive-outreach": SolutionDraft(
        name="Alcohol Assertive Outreach Treatment (AAOT)",
        description="Assertive outreach for people with alcohol dependence who attend "
                    "hospital often: engagement, joint care for substance use, mental and "
                    "physical health, and fewer unplanned admissions.",
        priority_areas=[PriorityArea.COMORBIDITIES],
        evidence=Evidence(level=EvidenceLevel.SERVICE_EVALUATION,
                          summary="Evaluations of hospital alcohol care and outreach teams."),
        readiness=Readiness.READY, setting="acute hospitals and community services",
        target_population="alcohol-dependent frequent attenders of A&E"),
}
