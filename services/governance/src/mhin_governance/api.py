"""gRPC servicer for mhin.governance.v1: translation only (requests to domain values,
results to responses); the rules live in domain, the transactions in app."""

from __future__ import annotations

import grpc

from mhin.governance.v1 import governance_pb2 as pb
from mhin.governance.v1 import governance_pb2_grpc
from mhin_governance import convert, domain
from mhin_governance.app import GovernanceApp
from mhin_platform.auth import current_principal
from mhin_platform.errors import InvalidArgument
from mhin_platform.paging import page_size
from mhin_platform.protoconv import date_from_proto, enum_from_proto
from mhin_platform.reference import Arc

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["GovernanceService"].full_name


class GovernanceServicer(governance_pb2_grpc.GovernanceServiceServicer):
    def __init__(self, app: GovernanceApp) -> None:
        self._app = app

    # -- bodies -----------------------------------------------------------------

    def CreateBody(self, request, context):
        body = self._app.create_body(current_principal(), convert.body_draft_from_proto(request))
        return pb.CreateBodyResponse(body=convert.body_to_proto(body))

    def GetBody(self, request, context):
        return pb.GetBodyResponse(body=convert.body_to_proto(self._app.get_body(request.body_id)))

    def ListBodies(self, request, context):
        kind = enum_from_proto(domain.BodyKind, convert.BODY_KIND, request.kind, "kind",
                               required=False)
        bodies, token = self._app.list_bodies(kind, page_size(request.page.page_size),
                                              request.page.page_token)
        return pb.ListBodiesResponse(bodies=[convert.body_to_proto(b) for b in bodies],
                                     page={"next_page_token": token})

    def AddMember(self, request, context):
        body, member = self._app.add_member(current_principal(), request.body_id,
                                            convert.member_draft_from_proto(request))
        return pb.AddMemberResponse(body=convert.body_to_proto(body),
                                    member=convert.member_to_proto(member))

    def EndMemberTerm(self, request, context):
        body = self._app.end_member_term(current_principal(), request.body_id,
                                         request.member_id,
                                         date_from_proto(request.term_end, "term_end"))
        return pb.EndMemberTermResponse(body=convert.body_to_proto(body))

    # -- meetings ---------------------------------------------------------------

    def ScheduleMeeting(self, request, context):
        meeting = self._app.schedule_meeting(current_principal(), request.body_id,
                                             date_from_proto(request.date, "date"),
                                             request.title)
        return pb.ScheduleMeetingResponse(meeting=convert.meeting_to_proto(meeting))

    def GenerateSchedule(self, request, context):
        meetings, created = self._app.generate_schedule(
            current_principal(), request.body_id,
            date_from_proto(request.from_date, "from_date"),
            date_from_proto(request.to_date, "to_date"))
        return pb.GenerateScheduleResponse(
            meetings=[convert.meeting_to_proto(m) for m in meetings], created=created)

    def GetMeeting(self, request, context):
        meeting = self._app.get_meeting(request.meeting_id)
        return pb.GetMeetingResponse(meeting=convert.meeting_to_proto(meeting))

    def ListMeetings(self, request, context):
        where = domain.MeetingFilter(
            body_id=request.body_id,
            status=enum_from_proto(domain.MeetingStatus, convert.MEETING_STATUS, request.status,
                                   "status", required=False),
            from_date=date_from_proto(request.from_date, "from_date", required=False),
            to_date=date_from_proto(request.to_date, "to_date", required=False),
        )
        meetings, token = self._app.list_meetings(where, page_size(request.page.page_size),
                                                  request.page.page_token)
        return pb.ListMeetingsResponse(meetings=[convert.meeting_to_proto(m) for m in meetings],
                                       page={"next_page_token": token})

    def RecordAttendance(self, request, context):
        meeting = self._app.record_attendance(current_principal(), request.meeting_id,
                                              list(request.member_ids))
        return pb.RecordAttendanceResponse(meeting=convert.meeting_to_proto(meeting))

    def AddAgendaItem(self, request, context):
        meeting, item = self._app.add_agenda_item(current_principal(), request.meeting_id,
                                                  convert.agenda_draft_from_proto(request))
        return pb.AddAgendaItemResponse(meeting=convert.meeting_to_proto(meeting),
                                        item=convert.agenda_item_to_proto(item))

    # -- decisions --------------------------------------------------------------

    def RecordDecision(self, request, context):
        decision, meeting = self._app.record_decision(
            current_principal(), request.meeting_id, request.agenda_item_id,
            convert.decision_draft_from_proto(request))
        return pb.RecordDecisionResponse(decision=convert.decision_to_proto(decision),
                                         meeting=convert.meeting_to_proto(meeting))

    def GetDecision(self, request, context):
        decision = self._app.get_decision(request.decision_id)
        return pb.GetDecisionResponse(decision=convert.decision_to_proto(decision))

    def ListDecisions(self, request, context):
        decisions, token = self._app.list_decisions(
            request.body_id, convert.subject_from_proto(request.subject, "subject"),
            page_size(request.page.page_size), request.page.page_token)
        return pb.ListDecisionsResponse(
            decisions=[convert.decision_to_proto(d) for d in decisions],
            page={"next_page_token": token})

    # -- involvement ------------------------------------------------------------

    def LogInvolvement(self, request, context):
        activity = self._app.log_involvement(
            current_principal(), convert.involvement_draft_from_proto(request.activity),
            request.idempotency_key)
        return pb.LogInvolvementResponse(activity=convert.activity_to_proto(activity))

    def ListInvolvement(self, request, context):
        where = domain.InvolvementFilter(
            project_id=_project_filter(request.project_id),
            arc=enum_from_proto(Arc, convert.ARC, request.arc, "arc", required=False),
            kind=enum_from_proto(domain.InvolvementKind, convert.INVOLVEMENT_KIND, request.kind,
                                 "kind", required=False),
            from_date=date_from_proto(request.from_date, "from_date", required=False),
            to_date=date_from_proto(request.to_date, "to_date", required=False),
        )
        activities, token = self._app.list_involvement(
            where, page_size(request.page.page_size), request.page.page_token)
        return pb.ListInvolvementResponse(
            activities=[convert.activity_to_proto(a) for a in activities],
            page={"next_page_token": token})

    def GetInvolvementReport(self, request, context):
        report = self._app.involvement_report(
            _project_filter(request.project_id),
            enum_from_proto(Arc, convert.ARC, request.arc, "arc", required=False),
            date_from_proto(request.from_date, "from_date"),
            date_from_proto(request.to_date, "to_date"))
        return pb.GetInvolvementReportResponse(report=convert.report_to_proto(report))


def _project_filter(project_id: str) -> str:
    if len(project_id) > 64:
        raise InvalidArgument("project_id", "is not a project id (at most 64 characters)")
    return project_id.strip()


def register(server: grpc.Server, app: GovernanceApp) -> list[str]:
    governance_pb2_grpc.add_GovernanceServiceServicer_to_server(GovernanceServicer(app), server)
    return [SERVICE_NAME]
