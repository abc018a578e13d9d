"""``mhin governance``: bodies, members, meetings, agendas, decisions and the
involvement (PPI) log of the governance service."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import click
from google.protobuf.message import Message

from mhin.common.v1 import arc_pb2, ids_pb2
from mhin.governance.v1 import decision_events_pb2 as dpb
from mhin.governance.v1 import governance_pb2 as pb
from mhin.governance.v1 import governance_pb2_grpc
from mhin_cli.choices import enum_number, enum_word, enum_words, reference_number
from mhin_cli.client import ServiceCommand, all_pages, connect, message_dict
from mhin_platform.protoconv import date_to_proto
from mhin_platform.reference import Arc

SELECTION_PROPOSAL = "mhin.projects.v1.SelectionProposal"

service = ServiceCommand("governance")
day_type = click.DateTime(formats=["%Y-%m-%d"])


def _stub(address: str, token: str) -> governance_pb2_grpc.GovernanceServiceStub:
    return governance_pb2_grpc.GovernanceServiceStub(connect(address, token))


KINDS = dpb.BodyKind
ROLES = pb.MemberRole
STATUSES = pb.MeetingStatus
OUTCOMES = dpb.DecisionOutcome
INVOLVEMENT = pb.InvolvementKind


def _day(value: datetime | None) -> Any:
    return date_to_proto(value.date()) if value else None


def _text(message: Any) -> str:
    """A mhin.common.v1.Date as YYYY-MM-DD, or "-" when unset."""
    if not message.year:
        return "-"
    return date(message.year, message.month, message.day).isoformat()


def _arc(text: str | None) -> arc_pb2.Arc.ValueType:
    return reference_number(Arc.parse, arc_pb2.Arc, "--arc", text)


def _subject(text: str | None) -> ids_pb2.AggregateRef | None:
    """``proposal:<id>`` or ``<fully.qualified.Type>:<id>``."""
    if not text:
        return None
    kind, _, aggregate_id = text.partition(":")
    if not aggregate_id:
        raise click.BadParameter(f"{text!r}: use proposal:ID or TYPE:ID", param_hint="--about")
    return ids_pb2.AggregateRef(aggregate_type=SELECTION_PROPOSAL if kind == "proposal" else kind,
                                aggregate_id=aggregate_id)


def _emit(message: Message, as_json: bool, line: Callable[[Any], str]) -> None:
    click.echo(json.dumps(message_dict(message)) if as_json else line(message))


def _body_line(body: pb.Body) -> str:
    kind = enum_word(KINDS, body.kind, "-")
    return f"{body.id:<36}  {kind:<15} {len(body.members):>3} members  {body.name}"


def _member_line(member: pb.Member) -> str:
    role = enum_word(ROLES, member.role, "-")
    return (f"{member.id}  {role:<21} {_text(member.term_start)} to "
            f"{_text(member.term_end) if member.HasField('term_end') else 'open':<10}  "
            f"{member.name}")


def _meeting_line(meeting: pb.Meeting) -> str:
    status = enum_word(STATUSES, meeting.status, "-")
    quorate = " quorate" if meeting.quorum.quorate else ""
    return (f"{meeting.id}  {_text(meeting.date)}  {status:<9}{quorate:<8} "
            f"{len(meeting.agenda):>2} items  {meeting.title}")


def _item_line(item: pb.AgendaItem) -> str:
    outcome = enum_word(OUTCOMES, item.outcome, "-") if item.decision_id else "undecided"
    about = f"  [{item.subject.aggregate_type}:{item.subject.aggregate_id}]" if (
        item.HasField("subject")) else ""
    return f"{item.position:>2}. {item.id}  {outcome:<9}  {item.title}{about}"


def _decision_line(decision: pb.Decision) -> str:
    outcome = enum_word(OUTCOMES, decision.outcome, "-")
    return (f"{decision.id}  {_text(decision.meeting_date)}  {decision.body_id:<15} "
            f"{outcome:<8}  {decision.motion}")


def _activity_line(activity: pb.InvolvementActivity) -> str:
    kind = enum_word(INVOLVEMENT, activity.kind, "-")
    arc = arc_pb2.Arc.Name(activity.arc).removeprefix("ARC_") if activity.arc else "national"
    return (f"{activity.id}  {_text(activity.activity_date)}  {activity.project_id:<16} "
            f"{arc:<24} {kind:<22} {activity.people:>4} people {activity.hours:>7g} h  "
            f"{activity.title}")


@click.group()
def governance() -> None:
    """Governance bodies, meetings, decisions and the involvement log (governance)."""


# -------------------------------------------------------------------- bodies


@governance.group()
def bodies() -> None:
    """The Executive committee ("executive"), the Advisory Board ("advisory-board")
    and advisory groups."""


@bodies.command("list")
@click.option("--kind", type=click.Choice(enum_words(KINDS, "-")))
@service
def list_bodies(kind: str | None, address: str, token: str, as_json: bool) -> None:
    """List bodies."""
    stub = _stub(address, token)
    for body in all_pages(stub.ListBodies, pb.ListBodiesRequest(
            kind=enum_number(KINDS, kind, "-")), "bodies"):
        _emit(body, as_json, _body_line)


@bodies.command("show")
@click.argument("body_id")
@service
def show_body(body_id: str, address: str, token: str, as_json: bool) -> None:
    """Show BODY_ID with every member's terms."""
    body = _stub(address, token).GetBody(pb.GetBodyRequest(body_id=body_id)).body
    _emit(body, as_json, lambda b: "\n".join([_body_line(b), *map(_member_line, b.members)]))


@bodies.command("create")
@click.option("--name", required=True)
@click.option("--description", default="")
@click.option("--project", "project_id", default="", help="Project the group supports.")
@service
def create_body(name: str, description: str, project_id: str, address: str, token: str,
                as_json: bool) -> None:
    """Create an advisory group (of Experts by Experience, for a project)."""
    request = pb.CreateBodyRequest(name=name, kind=dpb.BODY_KIND_ADVISORY_GROUP,
                                   description=description, project_id=project_id)
    _emit(_stub(address, token).CreateBody(request).body, as_json, _body_line)


# -------------------------------------------------------------------- members


@governance.group()
def members() -> None:
    """Members' terms on a body."""


@members.command("add")
@click.argument("body_id")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(enum_words(ROLES, "-")))
@click.option("--from", "term_start", required=True, type=day_type, help="First day of the term.")
@click.option("--to", "term_end", type=day_type, help="Last day of the term (optional).")
@service
def add_member(body_id: str, name: str, role: str, term_start: datetime,
               term_end: datetime | None, address: str, token: str, as_json: bool) -> None:
    """Start a member's term on BODY_ID."""
    request = pb.AddMemberRequest(body_id=body_id, name=name, role=enum_number(ROLES, role, "-"),
                                  term_start=_day(term_start), term_end=_day(term_end))
    _emit(_stub(address, token).AddMember(request).member, as_json, _member_line)


@members.command("end")
@click.argument("body_id")
@click.argument("member_id")
@click.option("--on", "term_end", required=True, type=day_type, help="Last day of the term.")
@service
def end_term(body_id: str, member_id: str, term_end: datetime, address: str, token: str,
             as_json: bool) -> None:
    """End MEMBER_ID's term on BODY_ID."""
    request = pb.EndMemberTermRequest(body_id=body_id, member_id=member_id,
                                      term_end=_day(term_end))
    body = _stub(address, token).EndMemberTerm(request).body
    _emit(next(m for m in body.members if m.id == member_id), as_json, _member_line)


@members.command("list")
@click.argument("body_id")
@service
def list_members(body_id: str, address: str, token: str, as_json: bool) -> None:
    """List every term of BODY_ID's members."""
    body = _stub(address, token).GetBody(pb.GetBodyRequest(body_id=body_id)).body
    for member in body.members:
        _emit(member, as_json, _member_line)


# -------------------------------------------------------------------- meetings


@governance.group()
def meetings() -> None:
    """Meetings: schedule them, list them, record who attended."""


@meetings.command("schedule")
@click.argument("body_id")
@click.option("--date", "day", required=True, type=day_type)
@click.option("--title", default="", help="Default: '<body name>, <date>'.")
@service
def schedule(body_id: str, day: datetime, title: str, address: str, token: str,
             as_json: bool) -> None:
    """Schedule a meeting of BODY_ID."""
    request = pb.ScheduleMeetingRequest(body_id=body_id, date=_day(day), title=title)
    _emit(_stub(address, token).ScheduleMeeting(request).meeting, as_json, _meeting_line)


@meetings.command("generate")
@click.argument("body_id", default="executive")
@click.option("--from", "from_date", required=True, type=day_type)
@click.option("--to", "to_date", required=True, type=day_type)
@service
def generate(body_id: str, from_date: datetime, to_date: datetime, address: str, token: str,
             as_json: bool) -> None:
    """Schedule BODY_ID's meetings (default: the Executive's bi-monthly ones) in a
    range by its schedule rule; safe to repeat."""
    request = pb.GenerateScheduleRequest(body_id=body_id, from_date=_day(from_date),
                                         to_date=_day(to_date))
    response = _stub(address, token).GenerateSchedule(request)
    if as_json:
        click.echo(json.dumps(message_dict(response)))
        return
    for meeting in response.meetings:
        click.echo(_meeting_line(meeting))
    click.echo(f"{response.created} created, {len(response.meetings) - response.created} "
               "already scheduled", err=True)


@meetings.command("list")
@click.option("--body", "body_id", default="")
@click.option("--status", type=click.Choice(enum_words(STATUSES, "-")))
@click.option("--from", "from_date", type=day_type)
@click.option("--to", "to_date", type=day_type)
@service
def list_meetings(body_id: str, status: str | None, from_date: datetime | None,
                  to_date: datetime | None, address: str, token: str, as_json: bool) -> None:
    """List meetings by date."""
    request = pb.ListMeetingsRequest(body_id=body_id, status=enum_number(STATUSES, status, "-"),
                                     from_date=_day(from_date), to_date=_day(to_date))
    stub = _stub(address, token)
    for meeting in all_pages(stub.ListMeetings, request, "meetings"):
        _emit(meeting, as_json, _meeting_line)


def _meeting_details(meeting: pb.Meeting) -> str:
    lines = [_meeting_line(meeting)]
    if meeting.status == pb.MEETING_STATUS_HELD:
        quorum = meeting.quorum
        lines.append(f"attended: {', '.join(meeting.attendee_member_ids)}")
        lines.append(f"quorum: {quorum.voting_members_present} of {quorum.voting_members} "
                     f"voting members ({quorum.required} needed), chair or deputy "
                     f"{'present' if quorum.chair_present else 'absent'}: "
                     f"{'quorate' if quorum.quorate else 'NOT quorate'}")
    lines += [_item_line(item) for item in meeting.agenda]
    return "\n".join(lines)


@meetings.command("show")
@click.argument("meeting_id")
@service
def show_meeting(meeting_id: str, address: str, token: str, as_json: bool) -> None:
    """Show MEETING_ID with its attendance, quorum and agenda."""
    meeting = _stub(address, token).GetMeeting(pb.GetMeetingRequest(
        meeting_id=meeting_id)).meeting
    _emit(meeting, as_json, _meeting_details)


@meetings.command("attendance")
@click.argument("meeting_id")
@click.argument("member_ids", nargs=-1, required=True)
@service
def attendance(meeting_id: str, member_ids: tuple[str, ...], address: str, token: str,
               as_json: bool) -> None:
    """Record that MEMBER_IDS attended MEETING_ID (the meeting is then held)."""
    request = pb.RecordAttendanceRequest(meeting_id=meeting_id, member_ids=member_ids)
    meeting = _stub(address, token).RecordAttendance(request).meeting
    _emit(meeting, as_json, _meeting_details)


# -------------------------------------------------------------------- agenda


@governance.group()
def agenda() -> None:
    """Agenda items of a meeting."""


@agenda.command("add")
@click.argument("meeting_id")
@click.option("--title", required=True)
@click.option("--description", default="")
@click.option("--about", help="What it is about: proposal:ID, or TYPE:ID.")
@service
def add_item(meeting_id: str, title: str, description: str, about: str | None, address: str,
             token: str, as_json: bool) -> None:
    """Add an item at the end of MEETING_ID's agenda."""
    request = pb.AddAgendaItemRequest(meeting_id=meeting_id, title=title,
                                      description=description, subject=_subject(about))
    _emit(_stub(address, token).AddAgendaItem(request).item, as_json, _item_line)


@agenda.command("list")
@click.argument("meeting_id")
@service
def list_items(meeting_id: str, address: str, token: str, as_json: bool) -> None:
    """List MEETING_ID's agenda."""
    meeting = _stub(address, token).GetMeeting(pb.GetMeetingRequest(
        meeting_id=meeting_id)).meeting
    for item in meeting.agenda:
        _emit(item, as_json, _item_line)


# -------------------------------------------------------------------- decisions


@governance.group()
def decisions() -> None:
    """Decisions taken on agenda items."""


@decisions.command("record")
@click.argument("meeting_id")
@click.argument("agenda_item_id")
@click.option("--motion", required=True)
@click.option("--outcome", required=True, type=click.Choice(enum_words(OUTCOMES, "-")))
@service
def record_decision(meeting_id: str, agenda_item_id: str, motion: str, outcome: str,
                    address: str, token: str, as_json: bool) -> None:
    """Record the decision on AGENDA_ITEM_ID at MEETING_ID (held and quorate)."""
    request = pb.RecordDecisionRequest(meeting_id=meeting_id, agenda_item_id=agenda_item_id,
                                       motion=motion, outcome=enum_number(OUTCOMES, outcome, "-"))
    _emit(_stub(address, token).RecordDecision(request).decision, as_json, _decision_line)


@decisions.command("list")
@click.option("--body", "body_id", default="")
@click.option("--about", help="Only decisions about proposal:ID, or TYPE:ID.")
@service
def list_decisions(body_id: str, about: str | None, address: str, token: str,
                   as_json: bool) -> None:
    """List decisions in the order they were recorded."""
    request = pb.ListDecisionsRequest(body_id=body_id, subject=_subject(about))
    stub = _stub(address, token)
    for decision in all_pages(stub.ListDecisions, request, "decisions"):
        _emit(decision, as_json, _decision_line)


# -------------------------------------------------------------------- involvement


@governance.group()
def involvement() -> None:
    """The patient and public involvement log, and its report."""


@involvement.command("log")
@click.option("--project", "project_id", required=True, help="e.g. mhin-project-1.")
@click.option("--arc", help="ARC that ran it; omit for the national team.")
@click.option("--kind", required=True, type=click.Choice(enum_words(INVOLVEMENT, "-")))
@click.option("--title", required=True)
@click.option("--date", "day", required=True, type=day_type)
@click.option("--people", required=True, type=click.IntRange(min=1))
@click.option("--experts", "experts_by_experience", default=0, show_default=True,
              type=click.IntRange(min=0), help="Of them, Experts by Experience.")
@click.option("--hours", required=True, type=float, help="Person-hours, in quarter hours.")
@click.option("--notes", default="")
@click.option("--idempotency-key", default="", help="Makes a retried log safe.")
@service
def log_involvement(project_id: str, arc: str | None, kind: str, title: str, day: datetime,
                    people: int, experts_by_experience: int, hours: float, notes: str,
                    idempotency_key: str, address: str, token: str, as_json: bool) -> None:
    """Log an involvement activity."""
    draft = pb.InvolvementDraft(
        project_id=project_id, arc=_arc(arc), kind=enum_number(INVOLVEMENT, kind, "-"), title=title,
        activity_date=_day(day), people=people, experts_by_experience=experts_by_experience,
        hours=hours, notes=notes)
    request = pb.LogInvolvementRequest(activity=draft, idempotency_key=idempotency_key)
    _emit(_stub(address, token).LogInvolvement(request).activity, as_json, _activity_line)


@involvement.command("list")
@click.option("--project", "project_id", default="")
@click.option("--arc")
@click.option("--kind", type=click.Choice(enum_words(INVOLVEMENT, "-")))
@click.option("--from", "from_date", type=day_type)
@click.option("--to", "to_date", type=day_type)
@service
def list_involvement(project_id: str, arc: str | None, kind: str | None,
                     from_date: datetime | None, to_date: datetime | None, address: str,
                     token: str, as_json: bool) -> None:
    """List involvement activities by date."""
    request = pb.ListInvolvementRequest(
        project_id=project_id, arc=_arc(arc), kind=enum_number(INVOLVEMENT, kind, "-"),
        from_date=_day(from_date), to_date=_day(to_date))
    stub = _stub(address, token)
    for activity in all_pages(stub.ListInvolvement, request, "activities"):
        _emit(activity, as_json, _activity_line)


def _report_text(report: pb.InvolvementReport) -> str:
    def row(label: str, totals: pb.InvolvementTotals) -> str:
        return (f"{label:<24} {totals.activities:>10} {totals.people:>7} "
                f"{totals.experts_by_experience:>7} {totals.hours:>9g}")

    scope = report.project_id or "all projects"
    if report.arc:
        scope += f", ARC {arc_pb2.Arc.Name(report.arc).removeprefix('ARC_')}"
    lines = [f"Involvement of {scope}, {_text(report.from_date)} to {_text(report.to_date)}",
             f"{'kind':<24} {'activities':>10} {'people':>7} {'experts':>7} {'hours':>9}"]
    lines += [row(enum_word(INVOLVEMENT, k.kind, "-"), k.totals) for k in report.by_kind]
    lines.append(row("total", report.totals))
    return "\n".join(lines)


@involvement.command("report")
@click.option("--project", "project_id", default="", help="Omit for all projects.")
@click.option("--arc", help="Only this ARC's activities.")
@click.option("--from", "from_date", required=True, type=day_type)
@click.option("--to", "to_date", required=True, type=day_type)
@service
def report(project_id: str, arc: str | None, from_date: datetime, to_date: datetime,
           address: str, token: str, as_json: bool) -> None:
    """Totals of activities, people, Experts by Experience and hours, by kind, over a
    period (e.g. a financial year: --from 2025-04-01 --to 2026-03-31)."""
    request = pb.GetInvolvementReportRequest(project_id=project_id, arc=_arc(arc),
                                             from_date=_day(from_date), to_date=_day(to_date))
    result = _stub(address, token).GetInvolvementReport(request).report
    _emit(result, as_json, _report_text)
