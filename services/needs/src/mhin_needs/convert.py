"""Translation between mhin.needs.v1 messages and the domain, both ways.

Requests become domain models through ``mhin_platform.validation.build``, so any
bad value is reported as INVALID_ARGUMENT naming the request field.
"""

from __future__ import annotations

from typing import Any

from mhin.common.v1 import arc_pb2, organisation_pb2, priority_area_pb2
from mhin.needs.v1 import needs_pb2
from mhin_needs import domain
from mhin_platform.errors import InvalidArgument
from mhin_platform.protoconv import enum_from_proto, enum_to_proto, timestamp
from mhin_platform.reference import Arc, OrganisationType, PriorityArea
from mhin_platform.validation import build

ARC = arc_pb2.Arc
AREA = priority_area_pb2.PriorityArea
ORG_TYPE = organisation_pb2.OrganisationType
AGE_GROUP = needs_pb2.AgeGroup
STATUS = needs_pb2.NeedStatus
SOURCE_KIND = needs_pb2.SourceKind
ALIGNMENT_KIND = needs_pb2.AlignmentKind


def draft_from_proto(message: needs_pb2.NeedDraft, prefix: str = "need") -> domain.NeedDraft:
    data: dict[str, Any] = {
        "submitter": {
            "name": message.submitter.name,
            "type": enum_from_proto(OrganisationType, ORG_TYPE, message.submitter.type,
                                    f"{prefix}.submitter.type"),
        },
        "arc": enum_from_proto(Arc, ARC, message.arc, f"{prefix}.arc"),
        "title": message.title,
        "description": message.description,
        "population": message.population,
        "age_group": enum_from_proto(domain.AgeGroup, AGE_GROUP, message.age_group,
                                     f"{prefix}.age_group", required=False),
        "priority_area": enum_from_proto(PriorityArea, AREA, message.priority_area,
                                         f"{prefix}.priority_area"),
        "sources": [_source_from_proto(source, f"{prefix}.sources.{index}")
                    for index, source in enumerate(message.sources)],
        "evidence_of_unmet_need": message.evidence_of_unmet_need,
    }
    return build(domain.NeedDraft, data, prefix)


def _source_from_proto(message: needs_pb2.NeedSource, field: str) -> dict[str, Any]:
    kind = message.WhichOneof("kind")
    if kind is None:
        raise InvalidArgument(field, "set one of scoping_exercise, prior_study, policy_document")
    detail = getattr(message, kind)
    fields = {descriptor.name: value for descriptor, value in detail.ListFields()}
    return {"kind": kind, **fields}


def need_to_proto(need: domain.Need) -> needs_pb2.Need:
    return needs_pb2.Need(
        id=need.id,
        submitter=needs_pb2.Organisation(
            name=need.submitter.name, type=enum_to_proto(need.submitter.type, ORG_TYPE)
        ),
        arc=enum_to_proto(need.arc, ARC),
        title=need.title,
        description=need.description,
        population=need.population,
        age_group=enum_to_proto(need.age_group, AGE_GROUP),
        priority_area=enum_to_proto(need.priority_area, AREA),
        sources=[_source_to_proto(source) for source in need.sources],
        evidence_of_unmet_need=need.evidence_of_unmet_need,
        status=enum_to_proto(need.status, STATUS),
        alignments=[alignment_to_proto(alignment) for alignment in need.alignments],
        withdrawal_reason=need.withdrawal_reason,
        submitted_at=timestamp(need.submitted_at),
        updated_at=timestamp(need.updated_at),
        version=need.version,
    )


def alignment_to_proto(alignment: domain.Alignment) -> needs_pb2.Alignment:
    return needs_pb2.Alignment(need_id=alignment.need_id, note=alignment.note,
                               kind=enum_to_proto(alignment.kind, ALIGNMENT_KIND))


def _source_to_proto(source: domain.NeedSource) -> needs_pb2.NeedSource:
    fields = source.model_dump(exclude={"kind"})
    detail = {
        domain.SourceKind.SCOPING_EXERCISE: needs_pb2.ScopingExerciseResponse,
        domain.SourceKind.PRIOR_STUDY: needs_pb2.PriorStudy,
        domain.SourceKind.POLICY_DOCUMENT: needs_pb2.PolicyDocument,
    }[source.kind](**fields)
    return needs_pb2.NeedSource(**{source.kind.value: detail})
