"""governance through a real gRPC server on a real port, a real broker and a real
database: every RPC, its events on the topics, bad input, permissions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import partial

import grpc
import pytest

from mhin.common.v1 import arc_pb2, ids_pb2
from mhin.governance.v1 import decision_events_pb2 as dpb
from mhin.governance.v1 import events_pb2
from mhin.governance.v1 import governance_pb2 as pb
from mhin_platform.protoconv import date_to_proto

pytestmark = pytest.mark.integration

TODAY = datetime.now(UTC).date()
GM = arc_pb2.ARC_GREATER_MANCHESTER
YH = arc_pb2.ARC_YORKSHIRE_AND_HUMBER
CHAIR, MEMBER = pb.MEMBER_ROLE_CHAIR, pb.MEMBER_ROLE_MEMBER
EXPERT, OBSERVER = pb.MEMBER_ROLE_EXPERT_BY_EXPERIENCE, pb.MEMBER_ROLE_OBSERVER


def day(value: date):
    return date_to_proto(value)


def failure(call, code: grpc.StatusCode) -> str:
    """The details of ``call()``, which must fail with ``code``."""
    with pytest.raises(grpc.RpcError) as raised:
        call()
    assert raised.value.code() == code, raised.value.details()
    return raised.value.details()


def staff(api, body_id: str, *roles: int) -> list[str]:
    """Add one member per role (terms from 2024); their ids, in order."""
    return [api.AddMember(pb.AddMemberRequest(
        body_id=body_id, name=f"Person {index}", role=role, term_start=day(date(2024, 1, 1)),
    )).member.id for index, role in enumerate(roles)]


def meeting_today(api, body_id: str = "executive") -> pb.Meeting:
    return api.ScheduleMeeting(pb.ScheduleMeetingRequest(body_id=body_id, date=day(TODAY))).meeting


def item(api, meeting_id: str, title: str = "Minutes of the last meeting", **fields):
    return api.AddAgendaItem(pb.AddAgendaItemRequest(meeting_id=meeting_id, title=title,
                                                     **fields)).item


def decide(api, meeting_id: str, item_id: str, outcome=dpb.DECISION_OUTCOME_APPROVED):
    return api.RecordDecision(pb.RecordDecisionRequest(
        meeting_id=meeting_id, agenda_item_id=item_id, motion="That the item be approved.",
        outcome=outcome))


def test_the_executive_and_the_advisory_board_are_seeded_once(start_governance, as_role,
                                                               topics):
    body_topic = topics("body")
    for _ in range(2):  # the second start finds them and adds nothing
        with start_governance(saga=False) as running:
            listed = as_role(running.channel, "viewer").ListBodies(pb.ListBodiesRequest()).bodies
    assert [(b.id, b.kind, b.version) for b in listed] == [
        ("advisory-board", dpb.BODY_KIND_ADVISORY_BOARD, 1),
        ("executive", dpb.BODY_KIND_EXECUTIVE, 1)]
    assert listed[1].schedule_rule == pb.ScheduleRule(
        interval_months=2, first_month=1, week_of_month=2, weekday=pb.WEEKDAY_TUESDAY)
    body_topic.wait_for_count(2)
    assert sorted(e.key for e in body_topic.settle()) == ["advisory-board", "executive"]


def test_bodies_and_member_terms_and_their_events(governance, as_role, topics):
    body_topic = topics("body")
    api = as_role(governance, "national_admin")
    group = api.CreateBody(pb.CreateBodyRequest(
        name="PCREF lived experience advisory group", kind=dpb.BODY_KIND_ADVISORY_GROUP,
        project_id="mhin-project-1", description="Experts by Experience advising PCREF")).body
    assert (group.kind, group.project_id, group.version) == (
        dpb.BODY_KIND_ADVISORY_GROUP, "mhin-project-1", 1)
    added = api.AddMember(pb.AddMemberRequest(
        body_id=group.id, name="Amara Okafor", role=EXPERT, term_start=day(date(2025, 1, 1))))
    assert added.member.role == EXPERT and not added.member.HasField("term_end")
    ended = api.EndMemberTerm(pb.EndMemberTermRequest(
        body_id=group.id, member_id=added.member.id, term_end=day(date(2025, 12, 31)))).body
    assert ended.members[0].term_end == day(date(2025, 12, 31)) and ended.version == 3
    assert api.GetBody(pb.GetBodyRequest(body_id=group.id)).body == ended

    groups = api.ListBodies(pb.ListBodiesRequest(kind=dpb.BODY_KIND_ADVISORY_GROUP)).bodies
    assert [b.id for b in groups] == [group.id]
    pages = api.ListBodies(pb.ListBodiesRequest(page={"page_size": 2}))
    rest = api.ListBodies(pb.ListBodiesRequest(
        page={"page_size": 2, "page_token": pages.page.next_page_token}))
    assert len(pages.bodies) == 2 and len(rest.bodies) == 1 and not rest.page.next_page_token

    events = body_topic.wait_for_count(3)
    mine = [e for e in events if e.key == group.id]
    assert [e.type.rsplit(".", 1)[1] for e in mine] == [
        "BodyCreated", "MemberAdded", "MemberTermEnded"]
    record = body_topic.records[events.index(mine[-1])]
    headers = dict(record.headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_source"] == b"/mhin/governance"
    assert headers["ce_subject"] == group.id.encode() and record.key == group.id.encode()
    assert headers["content-type"] == b"application/protobuf"
    assert mine[-1].decode(events_pb2.MemberTermEnded).body == ended

    assert "only advisory groups" in failure(lambda: api.CreateBody(pb.CreateBodyRequest(
        name="Second executive", kind=dpb.BODY_KIND_EXECUTIVE)),
        grpc.StatusCode.FAILED_PRECONDITION)
    staff(api, group.id, CHAIR)
    assert "one chair at a time" in failure(lambda: staff(api, group.id, CHAIR),
                                            grpc.StatusCode.FAILED_PRECONDITION)


def test_the_executive_bi_monthly_schedule_is_generated_once(governance, as_role, topics):
    meeting_topic = topics("meeting")
    api = as_role(governance, "national_admin")
    request = pb.GenerateScheduleRequest(body_id="executive", from_date=day(date(2025, 1, 1)),
                                         to_date=day(date(2025, 12, 31)))
    first = api.GenerateSchedule(request)
    expected = [day(date(2025, m, d)) for m, d in ((1, 14), (3, 11), (5, 13), (7, 8),
                                                   (9, 9), (11, 11))]
    assert first.created == 6 and [m.date for m in first.meetings] == expected
    assert first.meetings[0].title == "Executive Committee, 2025-01-14"
    again = api.GenerateSchedule(request)
    assert again.created == 0 and list(again.meetings) == list(first.meetings)

    def listed(**filters):
        found, token = [], ""
        while True:
            page = api.ListMeetings(pb.ListMeetingsRequest(
                page={"page_size": 4, "page_token": token}, **filters))
            found += page.meetings
            if not (token := page.page.next_page_token):
                return found

    assert [m.date for m in listed(body_id="executive")] == expected
    assert len(listed(from_date=day(date(2025, 3, 11)), to_date=day(date(2025, 7, 8)))) == 3
    assert listed(body_id="advisory-board") == []
    assert len(listed(status=pb.MEETING_STATUS_SCHEDULED)) == 6
    assert listed(status=pb.MEETING_STATUS_HELD) == []
    events = meeting_topic.wait_for_count(6)
    assert {e.type for e in meeting_topic.settle()} == {"mhin.governance.v1.MeetingScheduled"}
    assert sorted(e.key for e in events) == sorted(m.id for m in first.meetings)
    headers = dict(meeting_topic.records[0].headers)
    assert (headers["ce_specversion"], headers["content-type"]) == (b"1.0",
                                                                   b"application/protobuf")

    assert "already meets on 2025-03-11" in failure(lambda: api.ScheduleMeeting(
        pb.ScheduleMeetingRequest(body_id="executive", date=day(date(2025, 3, 11)))),
        grpc.StatusCode.FAILED_PRECONDITION)
    assert "no schedule rule" in failure(lambda: api.GenerateSchedule(
        pb.GenerateScheduleRequest(body_id="advisory-board", from_date=day(date(2025, 1, 1)),
                                   to_date=day(date(2025, 12, 31)))),
        grpc.StatusCode.FAILED_PRECONDITION)


def test_a_quorate_meeting_records_decisions_and_publishes_them(governance, as_role, topics):
    decision_topic, meeting_topic = topics("decision"), topics("meeting")
    api = as_role(governance, "national_admin")
    chair, member_a, member_b, observer = staff(api, "executive", CHAIR, MEMBER, EXPERT,
                                                OBSERVER)
    meeting = meeting_today(api)
    minutes = item(api, meeting.id)
    held = api.RecordAttendance(pb.RecordAttendanceRequest(
        meeting_id=meeting.id, member_ids=[chair, member_a, observer])).meeting
    assert held.status == pb.MEETING_STATUS_HELD
    assert held.quorum == pb.Quorum(voting_members=3, required=2, voting_members_present=2,
                                    chair_present=True, quorate=True)
    recorded = decide(api, meeting.id, minutes.id)
    decision = recorded.decision
    assert (decision.body_id, decision.body_kind, decision.meeting_date) == (
        "executive", dpb.BODY_KIND_EXECUTIVE, day(TODAY))
    assert recorded.meeting.agenda[0].decision_id == decision.id
    assert recorded.meeting.agenda[0].outcome == dpb.DECISION_OUTCOME_APPROVED
    assert api.GetDecision(pb.GetDecisionRequest(decision_id=decision.id)).decision == decision
    assert api.GetMeeting(pb.GetMeetingRequest(meeting_id=meeting.id)).meeting == (
        recorded.meeting)
    assert [d.id for d in api.ListDecisions(pb.ListDecisionsRequest(
        body_id="executive")).decisions] == [decision.id]
    assert api.ListDecisions(pb.ListDecisionsRequest(body_id="advisory-board")).decisions == []

    [published] = decision_topic.wait_for_count(1)
    assert published.key == decision.id and published.type == "mhin.governance.v1.DecisionRecorded"
    event = published.decode(dpb.DecisionRecorded)
    assert (event.decision_id, event.meeting_id, event.agenda_item_id, event.outcome) == (
        decision.id, meeting.id, minutes.id, dpb.DECISION_OUTCOME_APPROVED)
    assert not event.HasField("subject") and event.version == 1
    history = [e.type.rsplit(".", 1)[1] for e in meeting_topic.wait_for_count(4)]
    assert history == ["MeetingScheduled", "AgendaItemAdded", "AttendanceRecorded",
                       "AgendaItemDecided"]

    assert "already decided" in failure(lambda: decide(api, meeting.id, minutes.id),
                                        grpc.StatusCode.FAILED_PRECONDITION)
    assert "can no longer change" in failure(lambda: api.RecordAttendance(
        pb.RecordAttendanceRequest(meeting_id=meeting.id, member_ids=[chair, member_b])),
        grpc.StatusCode.FAILED_PRECONDITION)


def test_a_meeting_that_is_not_quorate_cannot_decide(governance, as_role, topics):
    decision_topic = topics("decision")
    api = as_role(governance, "national_admin")
    chair, member_a, member_b = staff(api, "advisory-board", CHAIR, MEMBER, MEMBER)
    meeting = meeting_today(api, "advisory-board")
    agenda_item = item(api, meeting.id)
    assert "has not been held" in failure(lambda: decide(api, meeting.id, agenda_item.id),
                                          grpc.StatusCode.FAILED_PRECONDITION)
    without_chair = api.RecordAttendance(pb.RecordAttendanceRequest(
        meeting_id=meeting.id, member_ids=[member_a, member_b])).meeting
    assert without_chair.quorum.quorate is False
    details = failure(lambda: decide(api, meeting.id, agenda_item.id),
                      grpc.StatusCode.FAILED_PRECONDITION)
    assert "not quorate" in details and "neither the chair nor a deputy" in details
    corrected = api.RecordAttendance(pb.RecordAttendanceRequest(
        meeting_id=meeting.id, member_ids=[chair, member_a])).meeting
    assert corrected.quorum.quorate
    assert decide(api, meeting.id, agenda_item.id).decision.body_kind == (
        dpb.BODY_KIND_ADVISORY_BOARD)
    assert len(decision_topic.settle()) == 1

    future = api.ScheduleMeeting(pb.ScheduleMeetingRequest(
        body_id="advisory-board", date=day(TODAY + timedelta(days=1)))).meeting
    assert "can be recorded from that day" in failure(lambda: api.RecordAttendance(
        pb.RecordAttendanceRequest(meeting_id=future.id, member_ids=[chair])),
        grpc.StatusCode.FAILED_PRECONDITION)


def test_unknown_ids_are_not_found(governance, as_role):
    api = as_role(governance, "viewer")
    for call in (lambda: api.GetBody(pb.GetBodyRequest(body_id="nope")),
                 lambda: api.GetMeeting(pb.GetMeetingRequest(meeting_id="nope")),
                 lambda: api.GetDecision(pb.GetDecisionRequest(decision_id="nope"))):
        assert "does not exist" in failure(call, grpc.StatusCode.NOT_FOUND)
    admin = as_role(governance, "national_admin")
    meeting = meeting_today(admin)
    assert "no agenda item" in failure(lambda: decide(admin, meeting.id, "nope"),
                                       grpc.StatusCode.NOT_FOUND)
    assert "no member" in failure(lambda: admin.EndMemberTerm(pb.EndMemberTermRequest(
        body_id="executive", member_id="nope", term_end=day(TODAY))), grpc.StatusCode.NOT_FOUND)


def involvement(**changes) -> pb.InvolvementDraft:
    fields = {"project_id": "mhin-project-1", "arc": GM,
              "kind": pb.INVOLVEMENT_KIND_CO_DESIGN_WORKSHOP,
              "title": "Co-design of the PCREF community panel", "activity_date": day(TODAY),
              "people": 6, "experts_by_experience": 4, "hours": 15.0}
    return pb.InvolvementDraft(**{**fields, **changes})


def test_bad_input_names_the_field_and_writes_nothing(governance, as_role, topics):
    api = as_role(governance, "national_admin")
    chair, member_a = staff(api, "executive", CHAIR, MEMBER)
    meeting = meeting_today(api)
    agenda_item = item(api, meeting.id)
    api.RecordAttendance(pb.RecordAttendanceRequest(meeting_id=meeting.id,
                                                    member_ids=[chair, member_a]))
    readers = [topics(name) for name in ("body", "meeting", "decision", "involvement")]
    before = (api.GetBody(pb.GetBodyRequest(body_id="executive")).body,
              api.GetMeeting(pb.GetMeetingRequest(meeting_id=meeting.id)).meeting)
    rule = pb.ScheduleRule(interval_months=5, first_month=1, week_of_month=2,
                           weekday=pb.WEEKDAY_TUESDAY)
    group = {"name": "Group", "kind": dpb.BODY_KIND_ADVISORY_GROUP}
    member = {"body_id": "executive", "name": "A", "role": MEMBER,
              "term_start": day(date(2025, 1, 1))}
    schedule = {"body_id": "executive", "from_date": day(date(2025, 1, 1)),
                "to_date": day(date(2025, 12, 31))}
    at_meeting = {"meeting_id": meeting.id}
    decision = {**at_meeting, "agenda_item_id": agenda_item.id, "motion": "Approve.",
                "outcome": dpb.DECISION_OUTCOME_APPROVED}
    report = {"from_date": day(date(2025, 1, 1)), "to_date": day(date(2025, 3, 31))}
    cases = [
        (api.CreateBody, pb.CreateBodyRequest(**{**group, "name": " "}), "name"),
        (api.CreateBody, pb.CreateBodyRequest(**{**group, "kind": 0}), "kind"),
        (api.CreateBody, pb.CreateBodyRequest(**group, schedule_rule=rule),
         "schedule_rule.interval_months"),
        (api.CreateBody, pb.CreateBodyRequest(**group, project_id="p" * 65), "project_id"),
        (api.ListBodies, pb.ListBodiesRequest(kind=9), "kind"),
        (api.AddMember, pb.AddMemberRequest(**{**member, "role": 0}), "role"),
        (api.AddMember, pb.AddMemberRequest(**{**member, "name": ""}), "name"),
        (api.AddMember, pb.AddMemberRequest(**{**member, "term_start": None}), "term_start"),
        (api.AddMember, pb.AddMemberRequest(**{**member, "term_start": {
            "year": 2025, "month": 2, "day": 30}}), "term_start"),
        (api.AddMember, pb.AddMemberRequest(**member, term_end=day(date(2024, 12, 31))),
         "term_end"),
        (api.AddMember, pb.AddMemberRequest(**{**member, "body_id": ""}), "body_id"),
        (api.ScheduleMeeting, pb.ScheduleMeetingRequest(body_id="executive"), "date"),
        (api.ScheduleMeeting, pb.ScheduleMeetingRequest(
            body_id="executive", date=day(date(2030, 1, 1)), title="t" * 201), "title"),
        (api.GenerateSchedule, pb.GenerateScheduleRequest(
            **{**schedule, "to_date": day(date(2024, 12, 31))}), "to_date"),
        (api.GenerateSchedule, pb.GenerateScheduleRequest(
            **{**schedule, "to_date": day(date(2031, 1, 1))}), "to_date"),
        (api.RecordAttendance, pb.RecordAttendanceRequest(**at_meeting, member_ids=["x"]),
         "member_ids.0"),
        (api.AddAgendaItem, pb.AddAgendaItemRequest(**at_meeting, title=""), "title"),
        (api.AddAgendaItem, pb.AddAgendaItemRequest(**at_meeting, title="T", subject=(
            ids_pb2.AggregateRef(aggregate_type="mhin.projects.v1.SelectionProposal"))),
         "subject.aggregate_id"),
        (api.AddAgendaItem, pb.AddAgendaItemRequest(**at_meeting, title="T", subject=(
            ids_pb2.AggregateRef(aggregate_type="proposal", aggregate_id="p"))),
         "subject.aggregate_type"),
        (api.RecordDecision, pb.RecordDecisionRequest(**{**decision, "motion": " "}), "motion"),
        (api.RecordDecision, pb.RecordDecisionRequest(**{**decision, "outcome": 0}), "outcome"),
        (api.ListDecisions, pb.ListDecisionsRequest(subject=ids_pb2.AggregateRef(
            aggregate_id="p")), "subject.aggregate_type"),
        (api.LogInvolvement, pb.LogInvolvementRequest(activity=involvement(project_id="")),
         "activity.project_id"),
        (api.LogInvolvement, pb.LogInvolvementRequest(activity=involvement(kind=0)),
         "activity.kind"),
        (api.LogInvolvement, pb.LogInvolvementRequest(activity=involvement(arc=99)),
         "activity.arc"),
        (api.LogInvolvement, pb.LogInvolvementRequest(activity=involvement(people=0)),
         "activity.people"),
        (api.LogInvolvement, pb.LogInvolvementRequest(activity=involvement(
            experts_by_experience=7)), "activity.experts_by_experience"),
        (api.LogInvolvement, pb.LogInvolvementRequest(activity=involvement(hours=1.1)),
         "activity.hours"),
        (api.LogInvolvement, pb.LogInvolvementRequest(activity=involvement(
            activity_date=day(TODAY + timedelta(days=1)))), "activity.activity_date"),
        (api.LogInvolvement, pb.LogInvolvementRequest(activity=involvement(),
                                                      idempotency_key="k" * 201),
         "idempotency_key"),
        (api.ListInvolvement, pb.ListInvolvementRequest(page={"page_size": -1}),
         "page.page_size"),
        (api.GetInvolvementReport, pb.GetInvolvementReportRequest(
            **{**report, "from_date": None}), "from_date"),
        (api.GetInvolvementReport, pb.GetInvolvementReportRequest(
            **{**report, "to_date": day(date(2024, 12, 31))}), "to_date"),
    ]
    for rpc, request, field in cases:
        details = failure(partial(rpc, request), grpc.StatusCode.INVALID_ARGUMENT)
        assert details.startswith(f"{field}:"), (field, details)
    after = (api.GetBody(pb.GetBodyRequest(body_id="executive")).body,
             api.GetMeeting(pb.GetMeetingRequest(meeting_id=meeting.id)).meeting)
    assert after == before
    assert api.ListBodies(pb.ListBodiesRequest(kind=dpb.BODY_KIND_ADVISORY_GROUP)).bodies == []
    assert api.ListInvolvement(pb.ListInvolvementRequest()).activities == []
    assert len(api.ListMeetings(pb.ListMeetingsRequest()).meetings) == 1
    for reader in readers:
        assert reader.settle(0.5) == []


def test_governance_is_national_and_arc_members_log_only_their_own_involvement(
        governance, as_role):
    admin = as_role(governance, "national_admin")
    meeting = meeting_today(admin)
    gm_member, viewer = as_role(governance, "arc_member", "greater-manchester"), as_role(
        governance, "viewer")
    for api in (gm_member, viewer):
        for change in (
            lambda api: api.CreateBody(pb.CreateBodyRequest(
                name="G", kind=dpb.BODY_KIND_ADVISORY_GROUP)),
            lambda api: staff(api, "executive", MEMBER),
            lambda api: meeting_today(api, "advisory-board"),
            lambda api: item(api, meeting.id),
            lambda api: api.GenerateSchedule(pb.GenerateScheduleRequest(
                body_id="executive", from_date=day(TODAY), to_date=day(TODAY))),
        ):
            assert "governance is national" in failure(partial(change, api),
                                                       grpc.StatusCode.PERMISSION_DENIED)
        assert api.GetMeeting(pb.GetMeetingRequest(meeting_id=meeting.id)).meeting == meeting

    own = gm_member.LogInvolvement(pb.LogInvolvementRequest(activity=involvement())).activity
    assert own.arc == GM
    assert "YORKSHIRE_AND_HUMBER" in failure(lambda: gm_member.LogInvolvement(
        pb.LogInvolvementRequest(activity=involvement(arc=YH))),
        grpc.StatusCode.PERMISSION_DENIED)
    assert "governance is national" in failure(lambda: gm_member.LogInvolvement(
        pb.LogInvolvementRequest(activity=involvement(arc=arc_pb2.ARC_UNSPECIFIED))),
        grpc.StatusCode.PERMISSION_DENIED)
    failure(lambda: viewer.LogInvolvement(pb.LogInvolvementRequest(activity=involvement())),
            grpc.StatusCode.PERMISSION_DENIED)
    national = admin.LogInvolvement(pb.LogInvolvementRequest(
        activity=involvement(arc=arc_pb2.ARC_UNSPECIFIED))).activity
    assert national.arc == arc_pb2.ARC_UNSPECIFIED
    listed = viewer.ListInvolvement(pb.ListInvolvementRequest()).activities
    assert {a.id for a in listed} == {own.id, national.id}


def test_the_involvement_log_and_its_report(governance, as_role, topics):
    involvement_topic = topics("involvement")
    api = as_role(governance, "national_admin")
    start = date(2025, 4, 1)
    logged = [api.LogInvolvement(pb.LogInvolvementRequest(activity=draft)).activity for draft in (
        involvement(activity_date=day(start), people=6, experts_by_experience=4, hours=15),
        involvement(activity_date=day(date(2025, 5, 20)), people=3, experts_by_experience=3,
                    hours=4.5, kind=pb.INVOLVEMENT_KIND_DOCUMENT_REVIEW, arc=YH),
        involvement(activity_date=day(date(2025, 6, 30)), people=10, experts_by_experience=8,
                    hours=20, kind=pb.INVOLVEMENT_KIND_ADVISORY_GROUP_MEETING),
        involvement(activity_date=day(date(2025, 7, 1)), people=50, experts_by_experience=5,
                    hours=100, kind=pb.INVOLVEMENT_KIND_DISSEMINATION),
        involvement(activity_date=day(date(2025, 5, 1)), project_id="mhin-project-2"),
    )]
    assert logged[1].hours == 4.5 and logged[1].arc == YH and logged[1].version == 1
    quarter = {"project_id": "mhin-project-1", "from_date": day(start),
               "to_date": day(date(2025, 6, 30))}
    report = api.GetInvolvementReport(pb.GetInvolvementReportRequest(**quarter)).report
    assert report.totals == pb.InvolvementTotals(activities=3, people=19,
                                                 experts_by_experience=15, hours=39.5)
    assert [(k.kind, k.totals.activities, k.totals.hours) for k in report.by_kind] == [
        (pb.INVOLVEMENT_KIND_ADVISORY_GROUP_MEETING, 1, 20),
        (pb.INVOLVEMENT_KIND_CO_DESIGN_WORKSHOP, 1, 15),
        (pb.INVOLVEMENT_KIND_DOCUMENT_REVIEW, 1, 4.5)]
    yorkshire = api.GetInvolvementReport(pb.GetInvolvementReportRequest(**quarter, arc=YH))
    assert yorkshire.report.totals.activities == 1
    national = api.GetInvolvementReport(pb.GetInvolvementReportRequest(
        from_date=day(date(2025, 1, 1)), to_date=day(date(2025, 12, 31)))).report
    assert (national.project_id, national.totals.activities) == ("", 5)

    pages, token = [], ""
    while True:
        page = api.ListInvolvement(pb.ListInvolvementRequest(
            project_id="mhin-project-1", page={"page_size": 3, "page_token": token}))
        pages.append([a.activity_date.month for a in page.activities])
        if not (token := page.page.next_page_token):
            break
    assert pages == [[4, 5, 6], [7]]
    reviews = api.ListInvolvement(pb.ListInvolvementRequest(
        kind=pb.INVOLVEMENT_KIND_DOCUMENT_REVIEW, arc=YH, from_date=day(date(2025, 5, 20)),
        to_date=day(date(2025, 5, 20)))).activities
    assert [a.id for a in reviews] == [logged[1].id]

    retried = pb.LogInvolvementRequest(activity=involvement(), idempotency_key="form-42")
    first, second = (api.LogInvolvement(retried).activity for _ in range(2))
    assert first == second
    events = involvement_topic.wait_for_count(6)
    assert len(involvement_topic.settle()) == 6, "a retried log must not publish again"
    # one topic partition per key: events of different activities arrive in any order
    assert sorted((e.decode(events_pb2.InvolvementLogged).activity for e in events),
                  key=lambda a: a.id) == sorted([*logged, first], key=lambda a: a.id)
    headers = dict(involvement_topic.records[0].headers)
    assert (headers["ce_source"], headers["ce_type"], headers["ce_subject"]) == (
        b"/mhin/governance", b"mhin.governance.v1.InvolvementLogged", events[0].key.encode())
    assert {e.key for e in events} == {a.id for a in logged} | {first.id}
