"""The measure definitions shipped for the three MHIN projects (DESIGN.md section 1,
"Suggested measure definitions"), loaded once at first start with stable ids.

Projects are project-tracking's reference projects: mhin-project-1 PCREF,
mhin-project-2 parent-led CBT for child anxiety, mhin-project-3 Alcohol Assertive
Outreach Treatment. Rare events (detentions, recovery at end of treatment, fidelity
assessments, schools) are reported quarterly so that a period's counts are not all
below the disclosure threshold.
"""

from __future__ import annotations

from typing import Any

from mhin_evaluation.domain import MeasureDraft
from mhin_platform.validation import build

PCREF = "mhin-project-1"
PARENT_LED_CBT = "mhin-project-2"
AAOT = "mhin-project-3"

PERCENT = 100.0

_DEFINITIONS: tuple[dict[str, Any], ...] = (
    {
        "id": "pcref-minority-referrals", "project_id": PCREF,
        "title": "Referrals from minority ethnic communities",
        "tag": {"re_aim": "Reach"}, "type": "proportion",
        "numerator": "Referrals of people from minority ethnic groups",
        "denominator": "All referrals", "multiplier": PERCENT, "direction": "up",
        "frequency": "monthly", "stratifiers": ["ethnicity"],
    },
    {
        "id": "pcref-mha-detentions", "project_id": PCREF,
        "title": "Mental Health Act detentions per 100,000 population",
        "tag": {"re_aim": "Effectiveness"}, "type": "ratio",
        "numerator": "Detentions under the Mental Health Act",
        "denominator": "Resident population of the catchment", "multiplier": 100_000.0,
        "direction": "down", "frequency": "quarterly", "stratifiers": ["ethnicity"],
    },
    {
        "id": "pcref-restrictive-practice", "project_id": PCREF,
        "title": "Restrictive practice per 1,000 occupied bed days",
        "tag": {"re_aim": "Effectiveness"}, "type": "ratio",
        "numerator": "Restraint incidents", "denominator": "Occupied bed days",
        "multiplier": 1_000.0, "direction": "down", "frequency": "monthly",
        "stratifiers": ["ethnicity"],
    },
    {
        "id": "pcref-ethnicity-recorded", "project_id": PCREF,
        "title": "Ethnicity recorded",
        "tag": {"re_aim": "Implementation"}, "type": "proportion",
        "numerator": "Records with a valid ethnicity code", "denominator": "All records",
        "multiplier": PERCENT, "direction": "up", "frequency": "monthly",
    },
    {
        "id": "cbt-schools-delivering", "project_id": PARENT_LED_CBT,
        "title": "Schools delivering parent-led CBT",
        "tag": {"re_aim": "Adoption"}, "type": "proportion",
        "numerator": "Schools delivering", "denominator": "Schools approached",
        "multiplier": PERCENT, "direction": "up", "frequency": "quarterly",
    },
    {
        "id": "cbt-children-starting", "project_id": PARENT_LED_CBT,
        "title": "Children starting treatment",
        "tag": {"re_aim": "Reach"}, "type": "proportion",
        "numerator": "Children starting treatment", "denominator": "Children referred",
        "multiplier": PERCENT, "direction": "up", "frequency": "monthly",
        "stratifiers": ["sex", "age_band", "ethnicity"],
    },
    {
        "id": "cbt-dropout", "project_id": PARENT_LED_CBT,
        "title": "Dropout from treatment",
        "tag": {"re_aim": "Implementation"}, "type": "proportion",
        "numerator": "Families not completing treatment",
        "denominator": "Families starting treatment", "multiplier": PERCENT,
        "direction": "down", "frequency": "monthly",
    },
    {
        "id": "cbt-recovery", "project_id": PARENT_LED_CBT,
        "title": "Recovery at end of treatment (CGI-I)",
        "tag": {"re_aim": "Effectiveness"}, "type": "proportion",
        "numerator": "Children recovered at end of treatment (CGI-I much or very much improved)",
        "denominator": "Children completing treatment", "multiplier": PERCENT,
        "direction": "up", "frequency": "quarterly", "stratifiers": ["sex", "age_band"],
    },
    {
        "id": "cbt-clinician-time", "project_id": PARENT_LED_CBT,
        "title": "Clinician time per family (hours)",
        "tag": {"proctor": "Implementation cost"}, "type": "mean",
        "numerator": "Total clinician hours", "denominator": "Families treated",
        "multiplier": 1.0, "direction": "down", "frequency": "monthly",
    },
    {
        "id": "aaot-engagement", "project_id": AAOT,
        "title": "Engagement of eligible patients",
        "tag": {"re_aim": "Reach"}, "type": "proportion",
        "numerator": "Patients engaged with the outreach team",
        "denominator": "Eligible frequent attenders", "multiplier": PERCENT,
        "direction": "up", "frequency": "monthly",
    },
    {
        "id": "aaot-ae-attendances", "project_id": AAOT,
        "title": "Alcohol-related A&E attendances",
        "tag": {"re_aim": "Effectiveness"}, "type": "count",
        "numerator": "Alcohol-related A&E attendances of the cohort",
        "direction": "down", "frequency": "monthly",
    },
    {
        "id": "aaot-unplanned-bed-days", "project_id": AAOT,
        "title": "Unplanned bed days",
        "tag": {"re_aim": "Effectiveness"}, "type": "count",
        "numerator": "Bed days of unplanned admissions of the cohort",
        "direction": "down", "frequency": "monthly",
    },
    {
        "id": "aaot-fidelity", "project_id": AAOT,
        "title": "Fidelity to the AAOT service model",
        "tag": {"re_aim": "Implementation"}, "type": "mean",
        "numerator": "Sum of fidelity scale scores", "denominator": "Fidelity assessments",
        "multiplier": 1.0, "direction": "up", "frequency": "quarterly",
    },
)


def reference_measures() -> list[MeasureDraft]:
    return [build(MeasureDraft, definition, definition["id"]) for definition in _DEFINITIONS]
