"""governance domain rules: pure, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from mhin_governance import domain
from mhin_governance.domain import (
    AgendaItemDraft,
    BodyKind,
    DecisionDraft,
    DecisionOutcome,
    InvolvementKind,
    MemberDraft,
    MemberRole,
    ScheduleRule,
    Weekday,
)
from mhin_platform.errors import FailedPrecondition, InvalidArgument, NotFound
from mhin_platform.reference import Arc
from mhin_platform.validation import build

NOW = datetime(2025, 3, 11, 9, tzinfo=UTC)
MEETING_DAY = date(2025, 3, 11)


def test_the_executive_meets_on_the_second_tuesday_of_every_other_month_from_january():
    assert domain.EXECUTIVE_RULE.days_between(date(2025, 1, 1), date(2025, 12, 31)) == [
        date(2025, 1, 14), date(2025, 3, 11), date(2025, 5, 13),
        date(2025, 7, 8), date(2025, 9, 9), date(2025, 11, 11)]
    assert all(day.weekday() == 1 for day in
               domain.EXECUTIVE_RULE.days_between(date(2024, 1, 1), date(2029, 12, 31)))


def test_a_range_keeps_only_the_days_inside_it_across_years():
    rule = domain.EXECUTIVE_RULE
    assert rule.days_between(date(2025, 11, 12), date(2026, 1, 13)) == [date(2026, 1, 13)]
    assert rule.days_between(date(2025, 3, 12), date(2025, 5, 12)) == []
    quarterly = ScheduleRule(interval_months=3, first_month=2, week_of_month=1,
                             weekday=Weekday.FRIDAY)
    assert quarterly.days_between(date(2025, 1, 1), date(2025, 12, 31)) == [
        date(2025, 2, 7), date(2025, 5, 2), date(2025, 8, 1), date(2025, 11, 7)]


def test_the_next_free_day_skips_days_already_taken():
    rule = domain.EXECUTIVE_RULE
    assert rule.next_day(date(2025, 3, 11)) == date(2025, 3, 11)
    assert rule.next_day(date(2025, 3, 12)) == date(2025, 5, 13)
    assert domain.next_free_day(rule, date(2025, 3, 1), set()) == date(2025, 3, 11)
    taken = {date(2025, 3, 11), date(2025, 5, 13)}
    assert domain.next_free_day(rule, date(2025, 3, 1), taken) == date(2025, 7, 8)
    yearly = ScheduleRule(interval_months=12, first_month=6, week_of_month=4,
                          weekday=Weekday.MONDAY)
    assert yearly.next_day(date(2025, 6, 24)) == date(2026, 6, 22)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"interval_months": 5}, "schedule_rule.interval_months"),
     ({"first_month": 13}, "schedule_rule.first_month"),
     ({"week_of_month": 5}, "schedule_rule.week_of_month")],
)
def test_a_bad_schedule_rule_names_its_field(changes, field):
    rule = {"interval_months": 2, "first_month": 1, "week_of_month": 2, "weekday": "Tuesday"}
    with pytest.raises(InvalidArgument) as raised:
        build(domain.BodyDraft, {"name": "Group", "kind": BodyKind.ADVISORY_GROUP,
                                 "schedule_rule": {**rule, **changes}})
    assert raised.value.field == field


# -------------------------------------------------------------------- bodies and quorum


def member(name, role, start=date(2024, 1, 1), end=None) -> MemberDraft:
    return MemberDraft(name=name, role=role, term_start=start, term_end=end)


def executive_with(*drafts: MemberDraft) -> domain.Body:
    body = domain.reference_body(domain.EXECUTIVE_ID, NOW)
    for index, draft in enumerate(drafts):
        body = domain.add_member(body, draft, f"m{index}", NOW)
    return body


def test_only_advisory_groups_can_be_created():
    group = domain.create_body(domain.BodyDraft(name="PCREF lived experience group",
                                                kind=BodyKind.ADVISORY_GROUP,
                                                project_id="mhin-project-1"), "g1", NOW)
    assert (group.kind, group.version, group.members) == (BodyKind.ADVISORY_GROUP, 1, [])
    with pytest.raises(FailedPrecondition, match="one Executive committee .*'executive'"):
        domain.create_body(domain.BodyDraft(name="Another", kind=BodyKind.EXECUTIVE), "x", NOW)


def test_a_term_cannot_end_before_it_starts():
    with pytest.raises(InvalidArgument) as raised:
        build(MemberDraft, {"name": "A", "role": "member", "term_start": date(2025, 1, 2),
                            "term_end": date(2025, 1, 1)})
    assert raised.value.field == "term_end"


def test_a_body_has_one_chair_at_a_time():
    body = executive_with(member("Chair One", MemberRole.CHAIR, end=date(2024, 12, 31)))
    with pytest.raises(FailedPrecondition, match="already has a chair, Chair One"):
        domain.add_member(body, member("Chair Two", MemberRole.CHAIR, start=date(2024, 6, 1)),
                          "c2", NOW)
    after = domain.add_member(body, member("Chair Two", MemberRole.CHAIR,
                                           start=date(2025, 1, 1)), "c2", NOW)
    assert [m.name for m in after.members] == ["Chair One", "Chair Two"]
    assert after.version == body.version + 1


def test_ending_a_term():
    body = executive_with(member("A", MemberRole.MEMBER))
    ended = domain.end_term(body, "m0", date(2025, 6, 30), NOW)
    assert ended.member("m0").term_end == date(2025, 6, 30)
    assert domain.end_term(ended, "m0", date(2025, 6, 30), NOW) is None
    shortened = domain.end_term(ended, "m0", date(2025, 3, 31), NOW)
    assert shortened.member("m0").term_end == date(2025, 3, 31)
    with pytest.raises(FailedPrecondition, match="not extended"):
        domain.end_term(ended, "m0", date(2025, 12, 31), NOW)
    with pytest.raises(InvalidArgument) as raised:
        domain.end_term(body, "m0", date(2023, 1, 1), NOW)
    assert raised.value.field == "term_end"
    with pytest.raises(NotFound):
        domain.end_term(body, "nobody", date(2025, 1, 1), NOW)


BOARD = [
    member("Chair", MemberRole.CHAIR),                                   # m0
    member("Deputy", MemberRole.DEPUTY_CHAIR),                           # m1
    member("Member A", MemberRole.MEMBER),                               # m2
    member("Member B", MemberRole.MEMBER),                               # m3
    member("Expert", MemberRole.EXPERT_BY_EXPERIENCE),                   # m4
    member("Observer", MemberRole.OBSERVER),                             # m5
    member("Former", MemberRole.MEMBER, end=date(2024, 12, 31)),         # m6
    member("Future", MemberRole.MEMBER, start=date(2025, 4, 1)),         # m7
]


@pytest.mark.parametrize(
    ("present", "quorate", "chair_present", "counted"),
    [
        ({"m0", "m2", "m4"}, True, True, 3),           # 3 of 5 voting, chair
        ({"m1", "m2", "m3"}, True, True, 3),           # a deputy chair will do
        ({"m2", "m3", "m4"}, False, False, 3),         # enough, but no chair or deputy
        ({"m0", "m2"}, False, True, 2),                # 2 of 5 is not more than half
        ({"m0", "m2", "m5"}, False, True, 2),          # an observer does not count
        ({"m0", "m2", "m6", "m7"}, False, True, 2),    # nor members out of term that day
        ({"m0", "m1", "m2", "m3", "m4"}, True, True, 5),
    ],
)
def test_quorum_is_more_than_half_of_the_voting_members_with_the_chair_or_a_deputy(
        present, quorate, chair_present, counted):
    result = domain.quorum(executive_with(*BOARD).members, MEETING_DAY, present)
    assert (result.voting_members, result.required) == (5, 3)
    assert (result.voting_members_present, result.chair_present, result.quorate) == (
        counted, chair_present, quorate)


def test_a_body_without_voting_members_is_never_quorate():
    result = domain.quorum([], MEETING_DAY, set())
    assert (result.required, result.quorate) == (1, False)


# -------------------------------------------------------------------- meetings and decisions


def held_meeting(body: domain.Body, present: list[str], subject=None) -> domain.Meeting:
    meeting = domain.schedule_meeting(body, MEETING_DAY, "", "meeting-1", NOW)
    meeting = domain.add_agenda_item(meeting, AgendaItemDraft(title="Item", subject=subject),
                                     "item-1", NOW)
    return domain.record_attendance(meeting, body, present, MEETING_DAY, NOW)


PROPOSAL = domain.AggregateRef(aggregate_type=domain.SELECTION_PROPOSAL, aggregate_id="p-1")
APPROVE = DecisionDraft(motion="That the proposal be approved.", outcome=DecisionOutcome.APPROVED)


def test_a_meeting_gets_a_default_title_and_agenda_positions():
    body = executive_with()
    meeting = domain.schedule_meeting(body, MEETING_DAY, "  ", "m", NOW)
    assert meeting.title == "Executive Committee, 2025-03-11"
    for title in ("Minutes", "Finance"):
        meeting = domain.add_agenda_item(meeting, AgendaItemDraft(title=title), title, NOW)
    assert [(i.position, i.title) for i in meeting.agenda] == [(1, "Minutes"), (2, "Finance")]
    assert meeting.version == 3


def test_attendance_is_checked_against_the_members_on_the_day():
    body = executive_with(*BOARD)
    meeting = domain.schedule_meeting(body, MEETING_DAY, "", "m", NOW)
    with pytest.raises(FailedPrecondition, match="from that day"):
        domain.record_attendance(meeting, body, ["m0"], date(2025, 3, 10), NOW)
    for ids, field in ((["m0", "m6"], "member_ids.1"), (["m0", "m0"], "member_ids.1"),
                       (["nobody"], "member_ids.0"), ([], "member_ids")):
        with pytest.raises(InvalidArgument) as raised:
            domain.record_attendance(meeting, body, ids, MEETING_DAY, NOW)
        assert raised.value.field == field
    held = domain.record_attendance(meeting, body, ["m0", "m2", "m3"], MEETING_DAY, NOW)
    assert held.status is domain.MeetingStatus.HELD and held.quorum.quorate


def test_a_decision_needs_a_held_quorate_meeting_and_an_undecided_item():
    body = executive_with(*BOARD)
    scheduled = domain.add_agenda_item(domain.schedule_meeting(body, MEETING_DAY, "", "m", NOW),
                                       AgendaItemDraft(title="Item"), "item-1", NOW)
    with pytest.raises(FailedPrecondition, match="has not been held"):
        domain.decide(scheduled, "item-1", APPROVE, [], "d1", NOW)
    with pytest.raises(FailedPrecondition, match=r"not quorate \(2 of 5 .*3 needed"):
        domain.decide(held_meeting(body, ["m0", "m2"]), "item-1", APPROVE, [], "d1", NOW)
    meeting, decision = domain.decide(held_meeting(body, ["m0", "m2", "m3"]), "item-1",
                                      APPROVE, [], "d1", NOW)
    assert meeting.item("item-1").decision_id == "d1"
    assert (decision.body_kind, decision.meeting_date, decision.version) == (
        BodyKind.EXECUTIVE, MEETING_DAY, 1)
    with pytest.raises(FailedPrecondition, match="already decided"):
        domain.decide(meeting, "item-1", APPROVE, [], "d2", NOW)
    with pytest.raises(NotFound):
        domain.decide(meeting, "no-item", APPROVE, [], "d2", NOW)
    with pytest.raises(FailedPrecondition, match="attendance can no longer change"):
        domain.record_attendance(meeting, body, ["m0"], MEETING_DAY, NOW)


def test_only_the_executive_decides_a_selection_proposal():
    board = domain.reference_body(domain.ADVISORY_BOARD_ID, NOW)
    for index, draft in enumerate(BOARD):
        board = domain.add_member(board, draft, f"m{index}", NOW)
    meeting = held_meeting(board, ["m0", "m2", "m3"], subject=PROPOSAL)
    with pytest.raises(FailedPrecondition, match="only the Executive committee"):
        domain.decide(meeting, "item-1", APPROVE, [], "d1", NOW)
    general = held_meeting(board, ["m0", "m2", "m3"])
    assert domain.decide(general, "item-1", APPROVE, [], "d1", NOW)[1].body_kind is (
        BodyKind.ADVISORY_BOARD)


def test_a_proposal_is_finalised_once_and_a_deferral_moves_it_on():
    body = executive_with(*BOARD)
    defer = DecisionDraft(motion="Defer to the next meeting.", outcome=DecisionOutcome.DEFERRED)
    _, deferred = domain.decide(held_meeting(body, ["m0", "m2", "m3"], PROPOSAL), "item-1",
                                defer, [], "d1", NOW)
    assert deferred.moves_to_next_meeting and not deferred.is_final
    _, approved = domain.decide(held_meeting(body, ["m0", "m2", "m3"], PROPOSAL), "item-1",
                                APPROVE, [deferred], "d2", NOW)
    assert approved.subject == PROPOSAL and not approved.moves_to_next_meeting
    with pytest.raises(FailedPrecondition, match="'p-1' was already approved by decision 'd2'"):
        domain.decide(held_meeting(body, ["m0", "m2", "m3"], PROPOSAL), "item-1",
                      APPROVE, [deferred, approved], "d3", NOW)


def test_a_selection_proposal_becomes_an_agenda_item_about_it():
    proposal = domain.SelectionProposal(
        proposal_id="p-1", call_id="call-7", solution_id="pcref",
        proposed_arcs=[Arc.GREATER_MANCHESTER, Arc.YORKSHIRE_AND_HUMBER], rationale="Strong.")
    item = domain.proposal_agenda_item(proposal)
    assert item.title == ("Selection proposal: ARC Greater Manchester and "
                          "ARC Yorkshire and Humber")
    assert item.subject == PROPOSAL
    assert "call-7" in item.description and item.description.endswith("Strong.")
    everyone = proposal.model_copy(update={"proposed_arcs": list(Arc)})
    assert domain.proposal_agenda_item(everyone).title == "Selection proposal: 15 ARCs"


# -------------------------------------------------------------------- involvement


def activity(kind=InvolvementKind.CO_DESIGN_WORKSHOP, day=date(2025, 2, 1), people=5,
             experts=3, hours="7.5", project="mhin-project-1",
             arc=Arc.GREATER_MANCHESTER) -> domain.InvolvementActivity:
    draft = domain.InvolvementDraft(project_id=project, arc=arc, kind=kind, title="Activity",
                                    activity_date=day, people=people,
                                    experts_by_experience=experts, hours=Decimal(hours))
    return domain.log_involvement(draft, f"a-{kind.name}-{day}-{project}", NOW)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"experts_by_experience": 6}, "activity.experts_by_experience"),
     ({"hours": 1.1}, "activity.hours"),
     ({"hours": 0}, "activity.hours"),
     ({"hours": float("nan")}, "activity.hours"),
     ({"people": 0}, "activity.people"),
     ({"project_id": " "}, "activity.project_id"),
     ({"kind": "telepathy"}, "activity.kind")],
)
def test_bad_involvement_names_the_field(changes, field):
    data = {"project_id": "mhin-project-1", "kind": "co-design workshop", "title": "Workshop",
            "activity_date": date(2025, 2, 1), "people": 5, "experts_by_experience": 3,
            "hours": 7.5}
    with pytest.raises(InvalidArgument) as raised:
        build(domain.InvolvementDraft, {**data, **changes}, "activity")
    assert raised.value.field == field


def test_involvement_cannot_be_logged_before_it_happens():
    with pytest.raises(InvalidArgument) as raised:
        activity(day=date(2025, 3, 12))
    assert raised.value.field == "activity.activity_date"


def test_the_report_sums_people_experts_and_hours_per_kind_in_the_period():
    activities = [
        activity(),
        activity(day=date(2025, 2, 20), people=2, experts=2, hours="0.25"),
        activity(kind=InvolvementKind.DOCUMENT_REVIEW, people=1, experts=1, hours="1.75"),
        activity(kind=InvolvementKind.ADVISORY_GROUP_MEETING, people=8, experts=6, hours="16",
                 arc=None),
        activity(day=date(2025, 1, 31)),                       # before the period
        activity(project="mhin-project-2"),                    # another project
    ]
    report = domain.involvement_report(activities, date(2025, 2, 1), date(2025, 2, 28),
                                       "mhin-project-1")
    totals = report.totals
    assert (totals.activities, totals.people, totals.experts_by_experience) == (4, 16, 12)
    assert totals.hours == Decimal("25.5")
    assert list(report.by_kind) == [InvolvementKind.ADVISORY_GROUP_MEETING,
                                    InvolvementKind.CO_DESIGN_WORKSHOP,
                                    InvolvementKind.DOCUMENT_REVIEW]
    workshops = report.by_kind[InvolvementKind.CO_DESIGN_WORKSHOP]
    assert (workshops.activities, workshops.people, workshops.hours) == (2, 7, Decimal("7.75"))

    gm_only = domain.involvement_report(activities, date(2025, 2, 1), date(2025, 2, 28),
                                        "mhin-project-1", Arc.GREATER_MANCHESTER)
    assert gm_only.totals.activities == 3            # the national team's meeting is not GM's
    everything = domain.involvement_report(activities, date(2025, 1, 1), date(2025, 12, 31))
    assert everything.totals.activities == 6
    empty = domain.involvement_report([], date(2025, 1, 1), date(2025, 1, 31))
    assert (empty.totals.activities, empty.totals.hours, empty.by_kind) == (0, 0, {})
    with pytest.raises(InvalidArgument) as raised:
        domain.involvement_report([], date(2025, 2, 1), date(2025, 1, 1))
    assert raised.value.field == "to_date"


def test_quarter_hours_add_up_exactly():
    many = [activity(day=date(2025, 2, 1 + i % 28), people=1, experts=0, hours="0.25")
            for i in range(1000)]
    report = domain.involvement_report(many, date(2025, 2, 1), date(2025, 2, 28))
    assert report.totals.hours == Decimal("250")
