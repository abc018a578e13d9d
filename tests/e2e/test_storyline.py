"""The MHIN story end to end, through public interfaces only: gRPC calls to the five
services and the events on their topics, with the stream processors as their own
process (DESIGN.md section 1).

Unmet needs are raised in Greater Manchester and Yorkshire and Humber and
categorised -> the catalogue learns of them from events, and a solution is
catalogued and linked to them -> an MCDA round on the network's criteria ranks it
first -> project-tracking learns of the solution, a selection call is answered by
both ARCs with their sites, scored and proposed -> governance puts the proposal on
the Executive's meeting, which is quorate and approves it -> project-tracking
creates the project with the ARC pair and their sites -> evaluation learns the sites
from project events, a measure is defined and each ARC submits 18 months of
observations by ethnicity, the last 8 months rising -> the stream processors' sums
come back up the hierarchy site -> ARC -> project -> national, small numbers are
withheld from everyone outside the owning ARC, and SPC reports the rise as special
cause of improvement -> the sites go live in turn (project-tracking's go-live dates
reach evaluation) and a pooled impact estimate for each ethnic group arrives on the
impact topic, the same as `mhin evaluation impact-pooled` prints; the small groups'
estimates are withheld on the shared topic.
"""

from __future__ import annotations

import json
import uuid
from functools import partial

import grpc
import pytest
from click.testing import CliRunner

from mhin.catalogue.v1 import catalogue_pb2, prioritisation_pb2
from mhin.common.v1 import arc_pb2, organisation_pb2, period_pb2, priority_area_pb2
from mhin.evaluation.v1 import (
    aggregate_events_pb2,
    evaluation_pb2,
    impact_events_pb2,
    measure_definition_pb2,
    measure_pb2,
)
from mhin.governance.v1 import events_pb2 as governance_events
from mhin.needs.v1 import needs_pb2
from mhin.projects.v1 import project_pb2, projects_service_pb2, selection_pb2
from mhin_cli.main import cli
from mhin_devkit.harness import TEST_ISSUER
from mhin_platform.tokens import issue_token

pytestmark = pytest.mark.integration

GM, YH = arc_pb2.ARC_GREATER_MANCHESTER, arc_pb2.ARC_YORKSHIRE_AND_HUMBER
ARC_UNITS = {GM: "GREATER_MANCHESTER", YH: "YORKSHIRE_AND_HUMBER"}
INEQUALITIES = priority_area_pb2.PRIORITY_AREA_INEQUALITIES
VCSE, NHS_TRUST = (organisation_pb2.ORGANISATION_TYPE_VCSE,
                   organisation_pb2.ORGANISATION_TYPE_NHS_TRUST)
SITE, ARC, PROJECT, NATIONAL = (aggregate_events_pb2.LEVEL_SITE, aggregate_events_pb2.LEVEL_ARC,
                                aggregate_events_pb2.LEVEL_PROJECT,
                                aggregate_events_pb2.LEVEL_NATIONAL)
IMPROVEMENT = aggregate_events_pb2.SPC_VARIATION_IMPROVEMENT
SERVICES = ("needs-intake", "solution-catalogue", "project-tracking", "governance", "evaluation")
TOPICS = (
    "mhin.needs.need", "mhin.catalogue.solution", "mhin.catalogue.prioritisation-round",
    "mhin.projects.selection", "mhin.governance.meeting", "mhin.governance.decision",
    "mhin.projects.project", "mhin.evaluation.measure", "mhin.evaluation.observation",
    "mhin.evaluation.aggregate-restricted", "mhin.evaluation.aggregate",
    "mhin.evaluation.spc-signal", "mhin.evaluation.impact",
)
AGGREGATE_WAIT_SECONDS = 120.0  # the stream processors' process starts and joins its group

# The network's criteria and weights (DESIGN.md, Ahuja et al. 2023), and the scores
# of the round: the catalogued solution against two options named as reference
# solutions the catalogue seeds (so the round ties them to those by name).
MHIN_CRITERIA = [("Clinically effective", 21.5), ("Patients involved", 16.7),
                 ("Reduces inequalities", 19.0), ("Implementable", 23.8), ("Sustainable", 19.0)]
OTHER_OPTIONS = {"Parent-led CBT for child anxiety": (80, 70, 60, 80, 75),
                 "Alcohol Assertive Outreach Treatment (AAOT)": (70, 65, 70, 60, 70)}
SOLUTION_SCORES = (85, 80, 95, 75, 80)

# Sites (name, host trust, size): a site of size 2 has twice the referrals.
SITES = {GM: [("Oldham", "Pennine Care NHS FT", 1),
              ("Bolton", "Greater Manchester Mental Health NHS FT", 2)],
         YH: [("Leeds", "Leeds and York Partnership NHS FT", 1)]}
# Referrals a month at a site of size 1 by ethnic group: Mixed and Other are small counts.
REFERRALS = {"White": 60, "Asian": 24, "Black": 16, "Mixed": 4, "Other": 3}
PERIODS = [f"{2024 + month // 12}-{month % 12 + 1:02d}" for month in range(18)]
LATEST = PERIODS[-1]
THRESHOLD = 5  # counts of 1 to 4 are withheld outside the owning ARC
# The sites go live in turn (a stepped wedge): (year, month, day).
GO_LIVE = {"Oldham": (2024, 7, 1), "Bolton": (2024, 10, 14), "Leeds": (2025, 1, 6)}


def share_seen_within_four_weeks(month: int) -> float:
    """Steady around 40-45% for 11 months, then rising 5 points a month for 7."""
    return 0.40 + 0.05 * (month % 2) if month < 11 else 0.50 + 0.05 * (month - 11)


def test_the_mhin_story_from_unmet_needs_to_special_cause_of_improvement(
        platform, selection, eventually):
    topics = {name: platform.read(name) for name in TOPICS}  # before anything happens
    stream_processors = platform.start_stream_processors()
    platform.start(*SERVICES)

    needs = needs_are_raised_and_categorised(platform, topics)
    solution = the_catalogue_links_a_solution_to_the_needs(platform, eventually, selection,
                                                           topics, needs)
    the_round_ranks_the_solution_first(platform, topics, solution)
    project = the_executive_selects_both_arcs(platform, selection, topics, solution)
    sites = evaluation_learns_the_sites(platform, eventually, project)
    sites = the_sites_go_live(platform, eventually, project)
    measure = a_measure_is_defined(platform, topics, project)
    cells = each_arc_submits_its_observations(platform, topics, measure, sites)

    def computed(check, what):
        """Wait for what the stream processors compute (and evaluation then reads)."""
        def check_while_running():
            stream_processors.require_running()
            return check()
        try:
            return eventually(check_while_running, what, AGGREGATE_WAIT_SECONDS)
        except AssertionError as timed_out:  # what the stream processors last said
            raise AssertionError(f"{timed_out}\nthe stream processors' log ends:\n"
                                 f"{stream_processors.tail()}") from None

    aggregates_are_the_sums_up_the_hierarchy(platform, computed, measure, project, sites, cells)
    breakdowns_withhold_small_numbers_outside_the_owning_arc(platform, computed, measure, sites,
                                                             cells)
    spc_reports_special_cause_of_improvement(platform, computed, topics, measure, project,
                                             cells)
    the_shared_aggregates_carry_no_small_number(topics, measure, project, cells)
    impact_is_estimated_for_each_ethnic_group(platform, computed, topics, measure, project)


# ----------------------------------------------------------------- needs and solutions


def needs_are_raised_and_categorised(platform, topics) -> list[needs_pb2.Need]:
    raisers = {GM: ("Caribbean and African Health Network", VCSE),
               YH: ("Leeds and York Partnership NHS FT", NHS_TRUST)}
    needs = []
    for arc, (name, kind) in raisers.items():
        draft = needs_pb2.NeedDraft(
            submitter=needs_pb2.Organisation(name=name, type=kind), arc=arc,
            title="Late access to mental health care for minority ethnic communities",
            description="People from Black and minority ethnic communities reach services "
                        "late, often in crisis and through the Mental Health Act.",
            population="people from minority ethnic communities",
            age_group=needs_pb2.AGE_GROUP_ADULTS,
            priority_area=priority_area_pb2.PRIORITY_AREA_UNCATEGORISED,
            sources=[needs_pb2.NeedSource(scoping_exercise=needs_pb2.ScopingExerciseResponse(
                response_ref=f"SE-2021-{arc:03d}"))])
        raised = platform.api("needs", "arc_member", arc).SubmitNeed(
            needs_pb2.SubmitNeedRequest(need=draft)).need
        needs.append(platform.api("needs").CategoriseNeed(needs_pb2.CategoriseNeedRequest(
            need_id=raised.id, priority_area=INEQUALITIES)).need)
    assert [(n.arc, n.status, n.version) for n in needs] == [
        (GM, needs_pb2.NEED_STATUS_CATEGORISED, 2), (YH, needs_pb2.NEED_STATUS_CATEGORISED, 2)]
    for need in needs:
        topics["mhin.needs.need"].wait_for_history(need.id, ["NeedSubmitted", "NeedCategorised"])
    return needs


def unmet_need_ids(platform) -> set[str]:
    api, found, token = platform.api("solutions", "viewer"), set(), ""
    while True:
        page = api.ListUnmetNeeds(catalogue_pb2.ListUnmetNeedsRequest(
            priority_area=INEQUALITIES, page={"page_size": 200, "page_token": token}))
        found |= {need.id for need in page.needs}
        if not (token := page.page.next_page_token):
            return found


def the_catalogue_links_a_solution_to_the_needs(platform, eventually, selection, topics, needs):
    def categorised_need_known(need_id: str):
        try:
            return platform.api("solutions", "viewer").ListCandidateSolutions(
                catalogue_pb2.ListCandidateSolutionsRequest(need_id=need_id)).need.version == 2
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise

    for need in needs:  # the catalogue knows needs only from needs-intake's events
        eventually(lambda need=need: categorised_need_known(need.id),
                   f"the catalogue knows need {need.id} as categorised")
    assert {n.id for n in needs} <= unmet_need_ids(platform)

    solution = selection.catalogue_solution("Patient and Carer Race Equality Framework")
    for need in needs:
        solution = platform.api("solutions").LinkSolutionToNeed(
            catalogue_pb2.LinkSolutionToNeedRequest(solution_id=solution.id,
                                                    need_id=need.id)).solution
    assert (sorted(solution.need_ids), solution.version) == (sorted(n.id for n in needs), 3)
    candidates = platform.api("solutions", "arc_member", GM).ListCandidateSolutions(
        catalogue_pb2.ListCandidateSolutionsRequest(need_id=needs[0].id))
    assert [s.id for s in candidates.linked_solutions] == [solution.id]
    assert not {n.id for n in needs} & unmet_need_ids(platform)
    topics["mhin.catalogue.solution"].wait_for_history(solution.id, [
        "SolutionCatalogued", "SolutionLinkedToNeed", "SolutionLinkedToNeed"])
    return solution


def the_round_ranks_the_solution_first(platform, topics, solution) -> None:
    api = platform.api("prioritisation")
    criteria = api.ListDefaultCriteria(prioritisation_pb2.ListDefaultCriteriaRequest()).criteria
    assert [(c.name, c.weight) for c in criteria] == MHIN_CRITERIA
    scores = {solution.name: SOLUTION_SCORES, **OTHER_OPTIONS}
    recorded = api.RecordRound(prioritisation_pb2.RecordRoundRequest(
        round=prioritisation_pb2.RoundDraft(
            title="MHIN decision conference", source="Stakeholder workshop",
            criteria=criteria,
            options=[prioritisation_pb2.RoundOption(name=solution.name, solution_id=solution.id)]
            + [prioritisation_pb2.RoundOption(name=name) for name in OTHER_OPTIONS],
            scores=[prioritisation_pb2.Score(option=option, criterion=name, value=value)
                    for option, values in scores.items()
                    for (name, _), value in zip(MHIN_CRITERIA, values, strict=True)]))).round

    def total(values) -> float:
        return sum(w * s for (_, w), s in zip(MHIN_CRITERIA, values, strict=True)) / 100

    assert [(r.option, r.solution_id, r.rank) for r in recorded.results.ranking] == [
        (solution.name, solution.id, 1),
        ("Parent-led CBT for child anxiety", "solution-parent-led-cbt", 2),
        ("Alcohol Assertive Outreach Treatment (AAOT)", "solution-alcohol-assertive-outreach", 3)]
    assert [r.total for r in recorded.results.ranking] == pytest.approx(
        [total(scores[r.option]) for r in recorded.results.ranking])
    closed = api.CloseRound(prioritisation_pb2.CloseRoundRequest(round_id=recorded.id)).round
    assert closed.status == prioritisation_pb2.ROUND_STATUS_CLOSED
    topics["mhin.catalogue.prioritisation-round"].wait_for_history(recorded.id, [
        "PrioritisationRoundRecorded", "PrioritisationRoundClosed"])


# ----------------------------------------------------------------- selection and governance


def the_executive_selects_both_arcs(platform, selection, topics, solution
                                    ) -> project_pb2.Project:
    meeting = selection.executive_meeting_today()
    known = selection.known_to_project_tracking(solution)  # from the catalogue's events
    assert (known.name, list(known.priority_areas)) == (solution.name, [INEQUALITIES])
    call, proposal = selection.propose(solution.id, [
        selection.application(arc, [(name, host) for name, host, _ in sites])
        for arc, sites in SITES.items()])
    assert call.status == selection_pb2.CALL_STATUS_PROPOSED
    assert [(a.arc, len(a.proposed_sites), a.total_score) for a in call.applications] == [
        (GM, 2, 80), (YH, 1, 70)]
    assert list(proposal.proposed_arcs) == [GM, YH]

    placed, item = selection.on_executive_agenda(proposal.id)
    assert placed.id == meeting.id, "the Executive's next meeting: today's"
    assert selection.make_quorate(meeting.id).quorum.quorate
    decision = selection.decide(meeting.id, item.id)

    finalised = selection.finalised(topics["mhin.projects.selection"], call.id)
    assert (finalised.approved, list(finalised.selected_arcs), finalised.decision_id) == (
        True, [GM, YH], decision.id)
    project = platform.api("projects", "viewer").GetProject(
        projects_service_pb2.GetProjectRequest(project_id=finalised.project_id)).project
    assert (project.name, project.solution_id, list(project.arcs), project.phase) == (
        solution.name, solution.id, [GM, YH], project_pb2.PHASE_SET_UP)
    assert sorted((s.arc, s.name) for s in project.sites) == sorted(
        (arc, name) for arc, sites in SITES.items() for name, _, _ in sites)

    topics["mhin.projects.selection"].wait_for_history(call.id, [
        "SelectionCallOpened", "SelectionApplicationSubmitted", "SelectionApplicationSubmitted",
        "SelectionCallClosed", "SelectionApplicationScored", "SelectionApplicationScored",
        "SelectionProposed", "SelectionFinalised"])
    the_meeting_minutes_the_decision(topics["mhin.governance.meeting"], meeting.id, item.id)
    topics["mhin.governance.decision"].wait_for_history(decision.id, ["DecisionRecorded"])
    topics["mhin.projects.project"].wait_for_history(project.id, [
        "ProjectCreated", "ProjectSiteAdded", "ProjectSiteAdded", "ProjectSiteAdded"])
    return project


def the_meeting_minutes_the_decision(meetings, meeting_id: str, item_id: str) -> None:
    """Scheduled, the proposal added (with any other proposal governance placed on
    it), attendance recorded, the item decided."""
    meetings.wait_for(lambda _: "AgendaItemDecided" in meetings.history(meeting_id),
                      what=f"the decision minuted on meeting {meeting_id}")
    kinds = meetings.history(meeting_id)
    assert (kinds[0], kinds[-2:]) == ("MeetingScheduled", ["AttendanceRecorded",
                                                           "AgendaItemDecided"])
    added = [e.decode(governance_events.AgendaItemAdded).agenda_item_id for e in meetings.events
             if e.key == meeting_id and e.type.endswith("AgendaItemAdded")]
    assert item_id in added


# ----------------------------------------------------------------- evaluation


def evaluation_learns_the_sites(platform, eventually, project
                                ) -> dict[str, evaluation_pb2.ProjectSite]:
    """Sites by name, as evaluation knows them from project-tracking's events."""
    def known():
        try:
            return platform.api("evaluation", "viewer").GetProjectSites(
                evaluation_pb2.GetProjectSitesRequest(project_id=project.id))
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    sites = eventually(lambda: (found := known()) and len(found.sites) == len(project.sites)
                       and found, f"evaluation knows the sites of project {project.id}")
    assert sorted((s.site_id, s.arc) for s in sites.sites) == sorted(
        (s.id, s.arc) for s in project.sites)
    return {site.name: site for site in sites.sites}


def the_sites_go_live(platform, eventually, project) -> dict[str, evaluation_pb2.ProjectSite]:
    """Project-tracking records each site's go-live date; evaluation learns them."""
    projects = platform.api("projects")
    for site in project.sites:
        year, month, day = GO_LIVE[site.name]
        projects.UpdateSite(projects_service_pb2.UpdateSiteRequest(
            project_id=project.id, site_id=site.id, site=projects_service_pb2.SiteDraft(
                name=site.name, organisation_name=site.organisation_name,
                organisation_type=site.organisation_type, arc=site.arc,
                go_live_date=period_pb2.Date(year=year, month=month, day=day))))

    def dated():
        found = platform.api("evaluation", "viewer").GetProjectSites(
            evaluation_pb2.GetProjectSitesRequest(project_id=project.id))
        known = {s.name: (s.go_live_date.year, s.go_live_date.month, s.go_live_date.day)
                 for s in found.sites}
        return found if known == GO_LIVE else None

    found = eventually(dated, "evaluation knows every site's go-live date")
    return {site.name: site for site in found.sites}


def a_measure_is_defined(platform, topics, project) -> measure_definition_pb2.MeasureDefinition:
    measure = platform.api("evaluation").DefineMeasure(evaluation_pb2.DefineMeasureRequest(
        measure=measure_definition_pb2.MeasureDefinition(
            id=f"pcref-seen-in-four-weeks-{uuid.uuid4().hex[:8]}", project_id=project.id,
            title="Referrals seen within four weeks, by ethnicity",
            tag=measure_definition_pb2.MeasureTag(
                re_aim=measure_definition_pb2.RE_AIM_DIMENSION_REACH),
            type=measure_pb2.MEASURE_TYPE_PROPORTION,
            numerator="Referrals seen within four weeks", denominator="Referrals",
            multiplier=100, direction=measure_pb2.DIRECTION_UP,
            frequency=measure_definition_pb2.FREQUENCY_MONTHLY,
            stratifiers=[measure_definition_pb2.STRATIFIER_ETHNICITY]))).measure
    topics["mhin.evaluation.measure"].wait_for_history(measure.id, ["MeasureDefined"])
    return measure


Cells = dict[tuple[str, str, str], tuple[int, int]]
"""(site id, period, ethnic group) -> (referrals seen within four weeks, referrals)"""


def each_arc_submits_its_observations(platform, topics, measure, sites) -> Cells:
    """Each ARC's member submits its sites' 18 months in one batch, oldest first."""
    cells: Cells = {}
    for arc, arc_sites in SITES.items():
        batch = []
        for month, period in enumerate(PERIODS):
            for name, _, size in arc_sites:
                site_id = sites[name].site_id
                for group, referrals in REFERRALS.items():
                    referred = referrals * size
                    seen = round(referred * share_seen_within_four_weeks(month))
                    cells[site_id, period, group] = (seen, referred)
                    batch.append(evaluation_pb2.Observation(
                        measure_id=measure.id, site_id=site_id, period=period,
                        stratum=f"ethnicity={group}", numerator=seen, denominator=referred))
        results = platform.api("evaluation", "arc_member", arc).SubmitObservations(
            evaluation_pb2.SubmitObservationsRequest(observations=batch)).results
        assert {(r.outcome, r.version, r.arc) for r in results} == {
            (evaluation_pb2.OBSERVATION_OUTCOME_RECORDED, 1, arc)}
    topics["mhin.evaluation.observation"].wait_for_history(
        measure.id, ["ObservationRecorded"] * len(cells))
    return cells


def sums(cells: Cells, site_ids: set[str], period: str = LATEST,
         group: str | None = None) -> tuple[int, int, int]:
    """Summed numerator and denominator of the chosen cells, and how many there are."""
    chosen = [figures for (site_id, at, in_group), figures in cells.items()
              if site_id in site_ids and at == period and group in (None, in_group)]
    return sum(n for n, _ in chosen), sum(d for _, d in chosen), len(chosen)


def hierarchy(project, sites) -> dict[tuple[int, str], set[str]]:
    """Each unit of each level and the sites it sums."""
    every_site = {site.site_id for site in sites.values()}
    return {
        **{(SITE, site.site_id): {site.site_id} for site in sites.values()},
        **{(ARC, ARC_UNITS[arc]): {s.site_id for s in sites.values() if s.arc == arc}
           for arc in SITES},
        (PROJECT, project.id): every_site,
        (NATIONAL, "national"): every_site,  # the measure is this project's only
    }


def aggregate_with(api, series, numerator: int, denominator: int):
    """The aggregate of LATEST once it holds these sums, else None."""
    try:
        found = api.GetAggregate(evaluation_pb2.GetAggregateRequest(series=series,
                                                                    period=LATEST)).aggregate
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return found if (found.numerator, found.denominator) == (numerator, denominator) else None


def aggregates_are_the_sums_up_the_hierarchy(platform, computed, measure, project, sites,
                                             cells: Cells) -> None:
    national_team = platform.api("evaluation")
    for (level, unit), site_ids in hierarchy(project, sites).items():
        numerator, denominator, count = sums(cells, site_ids)
        series = evaluation_pb2.SeriesKey(measure_id=measure.id, level=level, unit=unit)
        found = computed(lambda series=series, n=numerator, d=denominator:
                         aggregate_with(national_team, series, n, d),
                         f"{series} at {LATEST} = {numerator}/{denominator}")
        assert (found.observation_count, found.in_full) == (count, True)
        assert found.value == pytest.approx(numerator / denominator * 100), "from the sums"


def is_small(count: float) -> bool:
    return 0 < count < THRESHOLD


def assert_disclosed(group, numerator: int, denominator: int) -> None:
    """Outside the owning ARC: a figure is shown exactly or withheld and marked, never
    zero. A small count (or a proportion's small complement) is withheld for itself;
    others may be withheld to protect one (complementary suppression, marked
    secondary); a proportion's numerator and denominator go together."""
    hidden = group.numerator_suppressed
    assert not group.in_full
    assert (group.denominator_suppressed, group.value_suppressed) == (hidden, hidden), group
    if is_small(numerator) or is_small(denominator - numerator):
        assert hidden and not group.numerator_secondary, group
    if is_small(denominator):
        assert hidden and not group.denominator_secondary, group
    if hidden and not (is_small(numerator) or is_small(denominator - numerator)
                       or is_small(denominator)):
        assert group.numerator_secondary and group.denominator_secondary, group
    shown = {"numerator": None if hidden else numerator,
             "denominator": None if hidden else denominator}
    assert {f: getattr(group, f) if group.HasField(f) else None for f in shown} == shown


def shows(api, request, figures: dict[str, tuple[int, int, bool]]) -> bool:
    """Whether the breakdown ``api`` returns has exactly these (numerator,
    denominator, in full) by stratum."""
    return {group.stratum: (group.numerator, group.denominator, group.in_full)
            for group in api.GetBreakdown(request).groups} == figures


def breakdowns_withhold_small_numbers_outside_the_owning_arc(platform, computed, measure, sites,
                                                             cells: Cells) -> None:
    national_team, gm_member, yh_member, viewer = (
        platform.api("evaluation"), platform.api("evaluation", "arc_member", GM),
        platform.api("evaluation", "arc_member", YH), platform.api("evaluation", "viewer"))
    oldham = sites["Oldham"].site_id
    gm_sites = {site.site_id for site in sites.values() if site.arc == GM}
    every_site = {site.site_id for site in sites.values()}
    for level, unit, site_ids, owners in ((SITE, oldham, {oldham}, [gm_member]),
                                          (ARC, ARC_UNITS[GM], gm_sites, [gm_member]),
                                          (PROJECT, measure.project_id, every_site, [])):
        request = evaluation_pb2.GetBreakdownRequest(
            measure_id=measure.id, level=level, unit=unit, period=LATEST,
            stratifier=measure_definition_pb2.STRATIFIER_ETHNICITY)
        expected = {f"ethnicity={group}": sums(cells, site_ids, group=group)[:2]
                    for group in REFERRALS}
        in_full = {stratum: (n, d, True) for stratum, (n, d) in expected.items()}
        computed(partial(shows, national_team, request, in_full), f"every group of {request}")
        for owner in owners:  # GM's own site and ARC
            assert shows(owner, request, in_full)
        outsiders = [yh_member, viewer] + ([] if owners else [gm_member])  # no owner above ARC
        for outsider in outsiders:
            groups = outsider.GetBreakdown(request).groups
            assert sorted(g.stratum for g in groups) == sorted(expected)
            for group in groups:
                assert_disclosed(group, *expected[group.stratum])
        assert any(is_small(n) or is_small(d - n) for n, d in expected.values()), \
            "some figures are withheld: the check is not vacuous"


def spc_reports_special_cause_of_improvement(platform, computed, topics, measure, project,
                                             cells: Cells) -> None:
    every_site = {site_id for site_id, _, _ in cells}
    rates = [n / d * 100 for n, d, _ in (sums(cells, every_site, period) for period in PERIODS)]
    series = evaluation_pb2.SeriesKey(measure_id=measure.id, level=PROJECT, unit=project.id)
    viewer = platform.api("evaluation", "viewer")

    def whole_chart():
        chart = viewer.GetSpc(evaluation_pb2.GetSpcRequest(series=series))
        values = [point.value for point in chart.points]
        return chart if values == pytest.approx(rates) else None

    chart = computed(whole_chart, f"the SPC chart of {series} over {PERIODS[0]}..{LATEST}")
    assert [point.period for point in chart.points] == PERIODS
    latest = chart.points[-1]
    assert aggregate_events_pb2.SPC_RULE_TREND in latest.rules, "8 months rising"
    assert (latest.variation, chart.verdict) == (IMPROVEMENT, IMPROVEMENT)
    assert (chart.direction, chart.limits_reliable) == (measure_pb2.DIRECTION_UP, True)

    signals = topics["mhin.evaluation.spc-signal"]

    def raised() -> list[aggregate_events_pb2.SpcSignalRaised]:
        decoded = [e.decode(aggregate_events_pb2.SpcSignalRaised) for e in signals.events
                   if e.key.startswith(f"{measure.id}|")]
        return [s for s in decoded if (s.level, s.unit, s.stratum, s.period, s.variation) == (
            PROJECT, project.id, "", LATEST, IMPROVEMENT)]

    signals.wait_for(lambda _: raised(), AGGREGATE_WAIT_SECONDS,
                     f"an SpcSignalRaised of improvement for {series} at {LATEST}")
    assert aggregate_events_pb2.SPC_RULE_TREND in raised()[-1].rules


def the_shared_aggregates_carry_no_small_number(topics, measure, project, cells) -> None:
    """Downstream systems read mhin.evaluation.aggregate: every small figure is
    suppressed there (numbers zeroed, marked); the restricted topic, which only
    evaluation reads, has them in full."""
    every_site = {site_id for site_id, _, _ in cells}
    numerator, denominator, _ = sums(cells, every_site, group="Mixed")
    assert is_small(denominator - numerator), "the project's Mixed group: a small complement"

    def project_mixed(reader):
        updates = [e.decode(aggregate_events_pb2.AggregateUpdated) for e in reader.events
                   if e.key.startswith(f"{measure.id}|")]
        return [u for u in updates if (u.level, u.unit, u.period, u.stratum) == (
            PROJECT, project.id, LATEST, "ethnicity=Mixed")
            and u.observation_count == len(every_site)]

    restricted, shared = (topics["mhin.evaluation.aggregate-restricted"],
                          topics["mhin.evaluation.aggregate"])
    for reader in (restricted, shared):
        reader.wait_for(lambda _, reader=reader: project_mixed(reader), AGGREGATE_WAIT_SECONDS,
                        f"the project's Mixed aggregate at {LATEST}")
    full = project_mixed(restricted)[-1]
    assert (full.numerator, full.denominator, full.suppressed) == (numerator, denominator, False)
    withheld = project_mixed(shared)[-1]
    assert (withheld.suppressed, withheld.numerator, withheld.denominator, withheld.value) == (
        True, 0, 0, 0)

    shared.settle()  # read all the stream processors have published so far
    for event in shared.events:
        if event.key.startswith(f"{measure.id}|"):
            update = event.decode(aggregate_events_pb2.AggregateUpdated)
            figures = (update.numerator, update.denominator, update.denominator - update.numerator)
            assert update.suppressed or not any(is_small(f) for f in figures), update


# ----------------------------------------------------------------- impact


def impact_is_estimated_for_each_ethnic_group(platform, computed, topics, measure,
                                              project) -> None:
    """The pooled estimate of each ethnic group arrives on the impact topic and the CLI
    prints the same numbers. The shared topic may not disclose a small number: the
    Mixed and Other groups' counts are small, and by the last months so is the number
    of Black referrals not seen within four weeks (3 of 16 at Oldham and Leeds), so
    those estimates are published withheld."""
    impact = topics["mhin.evaluation.impact"]
    runner = CliRunner()
    env = {"MHIN_TOKEN": issue_token(TEST_ISSUER, "e2e", "national_admin", None),
           "MHIN_EVALUATION_ADDRESS": platform.address("evaluation")}

    def latest(stratum: str) -> impact_events_pb2.ImpactEstimated | None:
        key = f"{measure.id}|project|{project.id}|{stratum}"
        found = [e for e in impact.events if e.key == key]
        return found[-1].decode(impact_events_pb2.ImpactEstimated) if found else None

    def printed(stratum: str) -> dict:
        result = runner.invoke(cli, ["evaluation", "impact-pooled", project.id, measure.id,
                                     "--stratum", stratum, "--json"], env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    for group in ("White", "Asian"):
        stratum = f"ethnicity={group}"

        def agrees(stratum=stratum):
            impact.settle(0.5)  # read what has come
            event = latest(stratum)
            if event is None or event.withheld or len(event.sites) != 3:
                return None
            cli_view = printed(stratum)
            same = (cli_view["pooled"]["random_effects"]["level_change"]["estimate"]
                    == event.pooled.random_effects.level_change.estimate)
            return (event, cli_view) if same else None

        event, cli_view = computed(agrees, f"the pooled impact estimate for {stratum}")
        assert event.scope == impact_events_pb2.IMPACT_SCOPE_PROJECT
        assert event.pooled.random_effects.sites == 3
        assert {s["name"] for s in cli_view["sites"] if s["estimate"]} == set(GO_LIVE)
        fixed = cli_view["pooled"]["site_fixed_effects"]["level_change"]
        assert fixed == {"estimate": event.pooled.site_fixed_effects.level_change.estimate,
                         "ci_low": event.pooled.site_fixed_effects.level_change.ci_low,
                         "ci_high": event.pooled.site_fixed_effects.level_change.ci_high,
                         "p_value": event.pooled.site_fixed_effects.level_change.p_value,
                         "scale": "rate_ratio"}
    for small in ("Black", "Mixed", "Other"):
        stratum = f"ethnicity={small}"
        event = computed(lambda stratum=stratum: impact.settle(0.5) is not None
                         and latest(stratum), f"the impact event for {stratum}")
        assert event.withheld and not event.HasField("pooled"), stratum
        assert not printed(stratum)["withheld"], "a national admin sees it in full"
