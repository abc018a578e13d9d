"""Translation between mhin.governance.v1 messages and the domain, both ways.

Requests become domain models through ``mhin_platform.validation.build``, so any
bad value is reported as INVALID_ARGUMENT naming the request field.
"""

from __future__ import annotations

from typing import Any

from mhin.common.v1 import arc_pb2, ids_pb2
from mhin.governance.v1 import decision_events_pb2, governance_pb2
from mhin.projects.v1 import selection_events_pb2
from mhin_governance import domain
from mhin_platform.protoconv import (
    date_from_proto,
    date_to_proto,
    enum_from_proto,
    enum_to_proto,
    timestamp,
)
from mhin_platform.reference import Arc
from mhin_platform.validation import build

ARC = arc_pb2.Arc
BODY_KIND = decision_events_pb2.BodyKind
OUTCOME = decision_events_pb2.DecisionOutcome
ROLE = governance_pb2.MemberRole
WEEKDAY = governance_pb2.Weekday
MEETING_STATUS = governance_pb2.MeetingStatus
INVOLVEMENT_KIND = governance_pb2.InvolvementKind


# -------------------------------------------------------------------- requests


def body_draft_from_proto(request: governance_pb2.CreateBodyRequest) -> domain.BodyDraft:
    data: dict[str, Any] = {
        "name": request.name,
        "kind": enum_from_proto(domain.BodyKind, BODY_KIND, request.kind, "kind"),
        "description": request.description,
        "project_id": request.project_id,
    }
    if request.HasField("schedule_rule"):
        data["schedule_rule"] = _rule_from_proto(request.schedule_rule, "schedule_rule")
    return build(domain.BodyDraft, data)


def _rule_from_proto(rule: governance_pb2.ScheduleRule, field: str) -> dict[str, Any]:
    return {
        "interval_months": rule.interval_months,
        "first_month": rule.first_month,
        "week_of_month": rule.week_of_month,
        "weekday": enum_from_proto(domain.Weekday, WEEKDAY, rule.weekday, f"{field}.weekday"),
    }


def member_draft_from_proto(request: governance_pb2.AddMemberRequest) -> domain.MemberDraft:
    return build(domain.MemberDraft, {
        "name": request.name,
        "role": enum_from_proto(domain.MemberRole, ROLE, request.role, "role"),
        "term_start": date_from_proto(request.term_start, "term_start"),
        "term_end": date_from_proto(request.term_end, "term_end", required=False),
    })


def subject_from_proto(ref: ids_pb2.AggregateRef, field: str) -> domain.AggregateRef | None:
    """None when neither part is set; both must be set otherwise."""
    if not ref.aggregate_type and not ref.aggregate_id:
        return None
    return build(domain.AggregateRef, _ref_data(ref), field)


def _ref_data(ref: ids_pb2.AggregateRef) -> dict[str, str]:
    return {"aggregate_type": ref.aggregate_type, "aggregate_id": ref.aggregate_id}


def agenda_draft_from_proto(
    request: governance_pb2.AddAgendaItemRequest,
) -> domain.AgendaItemDraft:
    data: dict[str, Any] = {"title": request.title, "description": request.description}
    if request.subject.aggregate_type or request.subject.aggregate_id:
        data["subject"] = _ref_data(request.subject)
    return build(domain.AgendaItemDraft, data)


def decision_draft_from_proto(
    request: governance_pb2.RecordDecisionRequest,
) -> domain.DecisionDraft:
    return build(domain.DecisionDraft, {
        "motion": request.motion,
        "outcome": enum_from_proto(domain.DecisionOutcome, OUTCOME, request.outcome, "outcome"),
    })


def involvement_draft_from_proto(message: governance_pb2.InvolvementDraft,
                                 prefix: str = "activity") -> domain.InvolvementDraft:
    return build(domain.InvolvementDraft, {
        "project_id": message.project_id,
        "arc": enum_from_proto(Arc, ARC, message.arc, f"{prefix}.arc", required=False),
        "kind": enum_from_proto(domain.InvolvementKind, INVOLVEMENT_KIND, message.kind,
                                f"{prefix}.kind"),
        "title": message.title,
        "activity_date": date_from_proto(message.activity_date, f"{prefix}.activity_date"),
        "people": message.people,
        "experts_by_experience": message.experts_by_experience,
        "hours": message.hours,
        "notes": message.notes,
    }, prefix)


def proposal_from_event(
    message: selection_events_pb2.SelectionProposed,
) -> domain.SelectionProposal:
    return build(domain.SelectionProposal, {
        "proposal_id": message.proposal_id,
        "call_id": message.call_id,
        "solution_id": message.solution_id,
        "proposed_arcs": [enum_from_proto(Arc, ARC, arc, f"proposed_arcs.{index}")
                          for index, arc in enumerate(message.proposed_arcs)],
        "rationale": message.rationale,
    })


# -------------------------------------------------------------------- responses


def body_to_proto(body: domain.Body) -> governance_pb2.Body:
    return governance_pb2.Body(
        id=body.id,
        name=body.name,
        kind=enum_to_proto(body.kind, BODY_KIND),
        description=body.description,
        project_id=body.project_id,
        schedule_rule=_rule_to_proto(body.schedule_rule),
        members=[member_to_proto(member) for member in body.members],
        created_at=timestamp(body.created_at),
        updated_at=timestamp(body.updated_at),
        version=body.version,
    )


def _rule_to_proto(rule: domain.ScheduleRule | None) -> governance_pb2.ScheduleRule | None:
    if rule is None:
        return None
    return governance_pb2.ScheduleRule(
        interval_months=rule.interval_months, first_month=rule.first_month,
        week_of_month=rule.week_of_month, weekday=enum_to_proto(rule.weekday, WEEKDAY))


def member_to_proto(member: domain.Member) -> governance_pb2.Member:
    return governance_pb2.Member(
        id=member.id, name=member.name, role=enum_to_proto(member.role, ROLE),
        term_start=date_to_proto(member.term_start),
        term_end=date_to_proto(member.term_end) if member.term_end else None)


def _ref_to_proto(ref: domain.AggregateRef | None) -> ids_pb2.AggregateRef | None:
    if ref is None:
        return None
    return ids_pb2.AggregateRef(aggregate_type=ref.aggregate_type, aggregate_id=ref.aggregate_id)


def meeting_to_proto(meeting: domain.Meeting) -> governance_pb2.Meeting:
    return governance_pb2.Meeting(
        id=meeting.id,
        body_id=meeting.body_id,
        body_kind=enum_to_proto(meeting.body_kind, BODY_KIND),
        title=meeting.title,
        date=date_to_proto(meeting.date),
        status=enum_to_proto(meeting.status, MEETING_STATUS),
        attendee_member_ids=meeting.attendee_member_ids,
        quorum=governance_pb2.Quorum(**meeting.quorum.model_dump()) if meeting.quorum else None,
        agenda=[agenda_item_to_proto(item) for item in meeting.agenda],
        created_at=timestamp(meeting.created_at),
        updated_at=timestamp(meeting.updated_at),
        version=meeting.version,
    )


def agenda_item_to_proto(item: domain.AgendaItem) -> governance_pb2.AgendaItem:
    return governance_pb2.AgendaItem(
        id=item.id, position=item.position, title=item.title, description=item.description,
        subject=_ref_to_proto(item.subject), decision_id=item.decision_id,
        outcome=enum_to_proto(item.outcome, OUTCOME))


def _decision_fields(decision: domain.Decision) -> dict[str, Any]:
    return {
        "body_id": decision.body_id,
        "body_kind": enum_to_proto(decision.body_kind, BODY_KIND),
        "meeting_id": decision.meeting_id,
        "meeting_date": date_to_proto(decision.meeting_date),
        "agenda_item_id": decision.agenda_item_id,
        "motion": decision.motion,
        "outcome": enum_to_proto(decision.outcome, OUTCOME),
        "subject": _ref_to_proto(decision.subject),
        "decided_at": timestamp(decision.decided_at),
        "version": decision.version,
    }


def decision_to_proto(decision: domain.Decision) -> governance_pb2.Decision:
    return governance_pb2.Decision(id=decision.id, **_decision_fields(decision))


def decision_recorded(decision: domain.Decision) -> decision_events_pb2.DecisionRecorded:
    return decision_events_pb2.DecisionRecorded(decision_id=decision.id,
                                                **_decision_fields(decision))


def activity_to_proto(activity: domain.InvolvementActivity) -> governance_pb2.InvolvementActivity:
    return governance_pb2.InvolvementActivity(
        id=activity.id,
        project_id=activity.project_id,
        arc=enum_to_proto(activity.arc, ARC),
        kind=enum_to_proto(activity.kind, INVOLVEMENT_KIND),
        title=activity.title,
        activity_date=date_to_proto(activity.activity_date),
        people=activity.people,
        experts_by_experience=activity.experts_by_experience,
        hours=float(activity.hours),
        notes=activity.notes,
        recorded_at=timestamp(activity.recorded_at),
        version=activity.version,
    )


def _totals_to_proto(totals: domain.InvolvementTotals) -> governance_pb2.InvolvementTotals:
    return governance_pb2.InvolvementTotals(
        activities=totals.activities, people=totals.people,
        experts_by_experience=totals.experts_by_experience, hours=float(totals.hours))


def report_to_proto(report: domain.InvolvementReport) -> governance_pb2.InvolvementReport:
    return governance_pb2.InvolvementReport(
        project_id=report.project_id,
        arc=enum_to_proto(report.arc, ARC),
        from_date=date_to_proto(report.from_date),
        to_date=date_to_proto(report.to_date),
        totals=_totals_to_proto(report.totals),
        by_kind=[governance_pb2.InvolvementKindTotals(
            kind=enum_to_proto(kind, INVOLVEMENT_KIND), totals=_totals_to_proto(totals))
            for kind, totals in report.by_kind.items()],
    )
