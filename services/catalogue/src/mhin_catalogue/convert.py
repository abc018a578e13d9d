"""Translation between mhin.catalogue.v1 (and mhin.needs.v1 events) and the domain.

Requests become domain models through ``mhin_platform.validation.build``, so any
bad value is reported as INVALID_ARGUMENT naming the request field.
"""

from __future__ import annotations

from typing import Any

from mhin.catalogue.v1 import catalogue_pb2, prioritisation_pb2, solution_pb2
from mhin.common.v1 import arc_pb2, priority_area_pb2
from mhin.needs.v1 import needs_pb2
from mhin_catalogue import domain, mcda
from mhin_platform.protoconv import enum_from_proto, enum_to_proto, from_timestamp, timestamp
from mhin_platform.reference import Arc, PriorityArea
from mhin_platform.validation import build

ARC = arc_pb2.Arc
AREA = priority_area_pb2.PriorityArea
READINESS = solution_pb2.Readiness
EVIDENCE_LEVEL = solution_pb2.EvidenceLevel
SOLUTION_STATUS = solution_pb2.SolutionStatus
NEED_STATUS = needs_pb2.NeedStatus
COMBINATION = prioritisation_pb2.ScoreCombination
ROUND_STATUS = prioritisation_pb2.RoundStatus


# ------------------------------------------------------------------ solutions


def draft_from_proto(message: catalogue_pb2.SolutionDraft,
                     prefix: str = "solution") -> domain.SolutionDraft:
    evidence = message.evidence
    data: dict[str, Any] = {
        "name": message.name,
        "description": message.description,
        "priority_areas": [enum_from_proto(PriorityArea, AREA, area,
                                           f"{prefix}.priority_areas.{index}")
                           for index, area in enumerate(message.priority_areas)],
        "evidence": {
            "nice_guidance": list(evidence.nice_guidance),
            "studies": [{"citation": s.citation, "year": s.year, "url": s.url}
                        for s in evidence.studies],
            "level": enum_from_proto(domain.EvidenceLevel, EVIDENCE_LEVEL, evidence.level,
                                     f"{prefix}.evidence.level"),
            "summary": evidence.summary,
        },
        "readiness": enum_from_proto(domain.Readiness, READINESS, message.readiness,
                                     f"{prefix}.readiness"),
        "setting": message.setting,
        "target_population": message.target_population,
    }
    return build(domain.SolutionDraft, data, prefix)


def solution_to_proto(solution: domain.Solution) -> solution_pb2.Solution:
    evidence = solution.evidence
    return solution_pb2.Solution(
        id=solution.id,
        name=solution.name,
        description=solution.description,
        priority_areas=[enum_to_proto(area, AREA) for area in solution.priority_areas],
        evidence=solution_pb2.Evidence(
            nice_guidance=evidence.nice_guidance,
            studies=[solution_pb2.Study(**study.model_dump()) for study in evidence.studies],
            level=enum_to_proto(evidence.level, EVIDENCE_LEVEL),
            summary=evidence.summary,
        ),
        readiness=enum_to_proto(solution.readiness, READINESS),
        setting=solution.setting,
        target_population=solution.target_population,
        need_ids=solution.need_ids,
        status=enum_to_proto(solution.status, SOLUTION_STATUS),
        retirement_reason=solution.retirement_reason,
        created_at=timestamp(solution.created_at),
        updated_at=timestamp(solution.updated_at),
        version=solution.version,
    )


# ------------------------------------------------------------------ needs (from events)


def known_need_from_proto(need: needs_pb2.Need) -> domain.KnownNeed:
    data = {
        "id": need.id,
        "title": need.title,
        "arc": enum_from_proto(Arc, ARC, need.arc, "need.arc"),
        "priority_area": enum_from_proto(PriorityArea, AREA, need.priority_area,
                                         "need.priority_area"),
        "status": enum_from_proto(domain.NeedStatus, NEED_STATUS, need.status, "need.status"),
        "submitted_at": from_timestamp(need.submitted_at),
        "version": need.version,
    }
    return build(domain.KnownNeed, data, "need")


def need_summary_to_proto(need: domain.KnownNeed) -> catalogue_pb2.NeedSummary:
    return catalogue_pb2.NeedSummary(
        id=need.id,
        title=need.title,
        arc=enum_to_proto(need.arc, ARC),
        priority_area=enum_to_proto(need.priority_area, AREA),
        status=enum_to_proto(need.status, NEED_STATUS),
        submitted_at=timestamp(need.submitted_at),
        version=need.version,
    )


# ------------------------------------------------------------------ prioritisation rounds


def round_draft_from_proto(message: prioritisation_pb2.RoundDraft,
                           prefix: str = "round") -> mcda.RoundDraft:
    data: dict[str, Any] = {
        "title": message.title,
        "source": message.source,
        "criteria": [{"name": c.name, "weight": c.weight, "description": c.description}
                     for c in message.criteria],
        "options": [{"name": o.name, "solution_id": o.solution_id} for o in message.options],
        "stakeholder_groups": [{"name": g.name, "weight": g.weight or None}
                               for g in message.stakeholder_groups],
        "combination": enum_from_proto(mcda.Combination, COMBINATION, message.combination,
                                       f"{prefix}.combination", required=False),
        "scores": [{"option": s.option, "criterion": s.criterion,
                    "stakeholder_group": s.stakeholder_group, "value": s.value}
                   for s in message.scores],
    }
    return build(mcda.RoundDraft, data, prefix)


def criterion_to_proto(criterion: mcda.Criterion) -> prioritisation_pb2.Criterion:
    return prioritisation_pb2.Criterion(name=criterion.name, weight=float(criterion.weight),
                                        description=criterion.description)


def round_to_proto(round_: mcda.Round) -> prioritisation_pb2.PrioritisationRound:
    solution_ids = {option.name: option.solution_id for option in round_.options}
    results = round_.results()
    return prioritisation_pb2.PrioritisationRound(
        id=round_.id,
        title=round_.title,
        source=round_.source,
        criteria=[criterion_to_proto(c) for c in round_.criteria],
        options=[prioritisation_pb2.RoundOption(name=o.name, solution_id=o.solution_id)
                 for o in round_.options],
        stakeholder_groups=[prioritisation_pb2.StakeholderGroup(name=g.name,
                                                                weight=float(g.weight or 0))
                            for g in round_.stakeholder_groups],
        combination=enum_to_proto(round_.combination, COMBINATION),
        scores=[prioritisation_pb2.Score(option=s.option, criterion=s.criterion,
                                         stakeholder_group=s.stakeholder_group,
                                         value=float(s.value))
                for s in round_.scores],
        results=prioritisation_pb2.RoundResults(
            ranking=[prioritisation_pb2.OptionResult(option=r.option, total=float(r.total),
                                                     rank=r.rank,
                                                     solution_id=solution_ids[r.option])
                     for r in results.ranking],
            sensitivity=[prioritisation_pb2.WeightRange(
                criterion=w.criterion, weight=float(w.weight), option=w.option,
                lower_weight=float(w.lower), upper_weight=float(w.upper))
                for w in results.sensitivity],
        ),
        status=enum_to_proto(round_.status, ROUND_STATUS),
        created_at=timestamp(round_.created_at),
        updated_at=timestamp(round_.updated_at),
        version=round_.version,
    )
