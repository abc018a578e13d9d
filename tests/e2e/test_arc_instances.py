"""ARCs operate their own instances, through public
interfaces only: on one broker, the national evaluation and Greater Manchester's and
Yorkshire and Humber's own instances (and Greater Manchester's needs-intake), with
the one stream processors' process between them.

A project of both ARCs gets a site in each -> every evaluation instance learns the
sites from project-tracking's events -> the national team defines the measure on the
national instance, the only writer of measures (an ARC's instance refuses to), and
every ARC's instance learns it from the measure topic -> Greater Manchester's
instance refuses Yorkshire and Humber's data, even from the national team, and
records nothing; so does the national instance, since Yorkshire and Humber runs its
own (`make run-arcs` tells it so) -> each ARC submits its site's observation through
its own instance (Greater Manchester's with the `mhin` CLI) -> the national
aggregate is the sum of both, computed once by the stream processors, and every
instance serves it, with each ARC's aggregate, from the aggregate topic.
"""

from __future__ import annotations

import json

import grpc
import pytest
from click.testing import CliRunner

from mhin.common.v1 import arc_pb2, organisation_pb2, priority_area_pb2
from mhin.evaluation.v1 import (
    aggregate_events_pb2,
    evaluation_pb2,
    measure_definition_pb2,
    measure_pb2,
)
from mhin.needs.v1 import needs_pb2
from mhin.projects.v1 import projects_service_pb2
from mhin_cli.main import cli
from mhin_devkit.harness import TEST_ISSUER
from mhin_platform.processes import arc_layout
from mhin_platform.reference import Arc
from mhin_platform.tokens import issue_token

pytestmark = pytest.mark.integration

GM, YH = arc_pb2.ARC_GREATER_MANCHESTER, arc_pb2.ARC_YORKSHIRE_AND_HUMBER
ARC_UNITS = {GM: "GREATER_MANCHESTER", YH: "YORKSHIRE_AND_HUMBER"}
EVALUATION = {None: "evaluation", GM: "evaluation-greater-manchester",
              YH: "evaluation-yorkshire-and-humber"}
GM_NEEDS = "needs-intake-greater-manchester"
SITE, ARC, NATIONAL = (aggregate_events_pb2.LEVEL_SITE, aggregate_events_pb2.LEVEL_ARC,
                       aggregate_events_pb2.LEVEL_NATIONAL)
SITES = {GM: ("Oldham", "Pennine Care NHS FT"), YH: ("Leeds", "Leeds and York Partnership NHS FT")}
PERIOD = "2025-01"
FIGURES = {GM: (30, 50), YH: (12, 40)}  # each ARC's (seen within four weeks, referrals)
REFUSED = (49, 50)  # what GM's instance and the national one are asked to record for Leeds
AGGREGATE_WAIT_SECONDS = 120.0  # the stream processors' process starts and joins its group


def test_each_arc_writes_only_its_own_data_and_national_aggregates_combine_both(
        platform, eventually, monkeypatch):
    observations = platform.read("mhin.evaluation.observation")  # before anything happens
    stream_processors = platform.start_stream_processors()
    start_national_evaluation_of_the_arc_layout(platform, monkeypatch)
    platform.start("project-tracking", EVALUATION[GM], EVALUATION[YH], GM_NEEDS)

    an_arc_instance_of_needs_intake_takes_only_its_own_arcs_needs(platform)
    project_id, sites = a_project_with_a_site_in_each_arc(platform)
    for instance in EVALUATION.values():
        every_instance_learns_the_sites(platform, eventually, instance, project_id, sites)
    measure_id = measure_defined_nationally_and_learnt_by_every_instance(
        platform, eventually, project_id)

    refused_by(platform, EVALUATION[GM], measure_id, sites[YH], REFUSED)
    the_national_instance_refuses_it_too(platform, measure_id, sites[YH])
    gm_submits_with_the_cli(platform, measure_id, sites[GM])
    recorded = platform.api("evaluation", "arc_member", YH, EVALUATION[YH]).SubmitObservation(
        evaluation_pb2.SubmitObservationRequest(
            observation=observation(measure_id, sites[YH], FIGURES[YH]))).result
    assert (recorded.outcome, recorded.arc) == (evaluation_pb2.OBSERVATION_OUTCOME_RECORDED, YH)
    # One measure's observations share a partition, and the refused ones would have been
    # in Greater Manchester's or the national outbox before the accepted: exactly the two
    # accepted are there.
    published = observations.wait_for_history(measure_id, ["ObservationRecorded"] * 2)
    assert sorted(e.subject.split("|")[1] for e in published) == sorted(sites.values())

    def computed(check, what):
        def check_while_running():
            stream_processors.require_running()
            return check()
        return eventually(check_while_running, what, AGGREGATE_WAIT_SECONDS)

    combined = tuple(map(sum, zip(*FIGURES.values(), strict=True)))
    expected = {(NATIONAL, "national"): (*combined, 2),
                **{(ARC, ARC_UNITS[arc]): (*FIGURES[arc], 1) for arc in FIGURES},
                **{(SITE, sites[arc]): (*FIGURES[arc], 1) for arc in FIGURES}}
    for instance in EVALUATION.values():  # each learns them from the aggregate topic
        api = platform.api("evaluation", instance=instance)
        for (level, unit), figures in expected.items():
            series = evaluation_pb2.SeriesKey(measure_id=measure_id, level=level, unit=unit)
            computed(lambda api=api, series=series, figures=figures:
                     aggregate_is(api, series, figures),
                     f"{instance} serves {series} at {PERIOD} = {figures}")


def start_national_evaluation_of_the_arc_layout(platform, monkeypatch) -> None:
    """With the environment `make run-arcs` gives it: both ARCs run their own instance."""
    national = next(spec for spec in arc_layout([Arc.GREATER_MANCHESTER,
                                                 Arc.YORKSHIRE_AND_HUMBER])
                    if spec.name == EVALUATION[None])
    with monkeypatch.context() as environment:
        for variable, value in national.env.items():
            environment.setenv(variable, value)
        platform.start(EVALUATION[None])


# ----------------------------------------------------------------- needs-intake


def need(arc: int) -> needs_pb2.NeedDraft:
    return needs_pb2.NeedDraft(
        submitter=needs_pb2.Organisation(name="Caribbean and African Health Network",
                                         type=organisation_pb2.ORGANISATION_TYPE_VCSE),
        arc=arc, title="Late access to mental health care for minority ethnic communities",
        description="People from minority ethnic communities reach services late.",
        population="people from minority ethnic communities",
        age_group=needs_pb2.AGE_GROUP_ADULTS,
        priority_area=priority_area_pb2.PRIORITY_AREA_INEQUALITIES,
        sources=[needs_pb2.NeedSource(scoping_exercise=needs_pb2.ScopingExerciseResponse(
            response_ref=f"SE-2021-{arc:03d}"))])


def an_arc_instance_of_needs_intake_takes_only_its_own_arcs_needs(platform) -> None:
    national_team = platform.api("needs", instance=GM_NEEDS)
    with pytest.raises(grpc.RpcError) as refused:
        national_team.SubmitNeed(needs_pb2.SubmitNeedRequest(need=need(YH)))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "GREATER_MANCHESTER instance" in refused.value.details()
    accepted = national_team.SubmitNeed(needs_pb2.SubmitNeedRequest(need=need(GM))).need
    listed = national_team.ListNeeds(needs_pb2.ListNeedsRequest()).needs
    assert [(n.id, n.arc) for n in listed] == [(accepted.id, GM)], "nothing of the refused"


# ----------------------------------------------------------------- project and sites


def a_project_with_a_site_in_each_arc(platform) -> tuple[str, dict[int, str]]:
    """A project of both ARCs on project-tracking's reference PCREF solution, with a
    site in each; its id and the site id of each ARC."""
    api = platform.api("projects")
    project = api.CreateProject(projects_service_pb2.CreateProjectRequest(
        project=projects_service_pb2.ProjectDraft(
            name="PCREF in two ARCs", solution_id="solution-pcref",
            priority_area=priority_area_pb2.PRIORITY_AREA_INEQUALITIES,
            arcs=[GM, YH]))).project
    sites = {arc: api.AddSite(projects_service_pb2.AddSiteRequest(
        project_id=project.id, site=projects_service_pb2.SiteDraft(
            name=name, organisation_name=host, arc=arc,
            organisation_type=organisation_pb2.ORGANISATION_TYPE_NHS_TRUST))).site.id
        for arc, (name, host) in SITES.items()}
    return project.id, sites


def every_instance_learns_the_sites(platform, eventually, instance: str, project_id: str,
                                    sites: dict[int, str]) -> None:
    api = platform.api("evaluation", "viewer", instance=instance)

    def known() -> list[tuple[str, int]] | None:
        try:
            found = api.GetProjectSites(evaluation_pb2.GetProjectSitesRequest(
                project_id=project_id)).sites
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return sorted((site.site_id, site.arc) for site in found)

    eventually(lambda: known() == sorted((site, arc) for arc, site in sites.items()),
               f"{instance} knows both sites of project {project_id}")


# ----------------------------------------------------------------- observations


def measure_defined_nationally_and_learnt_by_every_instance(platform, eventually,
                                                           project_id: str) -> str:
    draft = measure_definition_pb2.MeasureDefinition(
        id=f"pcref-seen-in-four-weeks-{project_id}", project_id=project_id,
        title="Referrals seen within four weeks",
        tag=measure_definition_pb2.MeasureTag(re_aim=measure_definition_pb2.RE_AIM_DIMENSION_REACH),
        type=measure_pb2.MEASURE_TYPE_PROPORTION,
        numerator="Referrals seen within four weeks", denominator="Referrals",
        multiplier=100, direction=measure_pb2.DIRECTION_UP,
        frequency=measure_definition_pb2.FREQUENCY_MONTHLY)
    request = evaluation_pb2.DefineMeasureRequest(measure=draft)
    with pytest.raises(grpc.RpcError) as refused:
        platform.api("evaluation", instance=EVALUATION[GM]).DefineMeasure(request)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "defined on the national instance" in refused.value.details()

    defined = platform.api("evaluation").DefineMeasure(request).measure
    for arc in FIGURES:
        api = platform.api("evaluation", "viewer", instance=EVALUATION[arc])
        eventually(lambda api=api: measure_known(api, defined.id) == defined,
                   f"{EVALUATION[arc]} learns {defined.id} from the national instance")
    return defined.id


def measure_known(api, measure_id: str) -> measure_definition_pb2.MeasureDefinition | None:
    try:
        return api.GetMeasure(evaluation_pb2.GetMeasureRequest(measure_id=measure_id)).measure
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise


def observation(measure_id: str, site_id: str, figures: tuple[int, int]
                ) -> evaluation_pb2.Observation:
    numerator, denominator = figures
    return evaluation_pb2.Observation(measure_id=measure_id, site_id=site_id, period=PERIOD,
                                      numerator=numerator, denominator=denominator)


def refused_by(platform, instance: str, measure_id: str, site_id: str,
               figures: tuple[int, int]) -> None:
    """The instance refuses another ARC's observation whoever sends it: the national
    team and that ARC's own member alike."""
    for role, arc in (("national_admin", None), ("arc_member", YH)):
        with pytest.raises(grpc.RpcError) as refused:
            platform.api("evaluation", role, arc, instance).SubmitObservation(
                evaluation_pb2.SubmitObservationRequest(
                    observation=observation(measure_id, site_id, figures)))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "GREATER_MANCHESTER instance" in refused.value.details()


def the_national_instance_refuses_it_too(platform, measure_id: str, site_id: str) -> None:
    """Yorkshire and Humber's data has one writer, its own instance: the national one
    refuses it, even from the national team, so no two instances version one site."""
    with pytest.raises(grpc.RpcError) as refused:
        platform.api("evaluation").SubmitObservation(evaluation_pb2.SubmitObservationRequest(
            observation=observation(measure_id, site_id, REFUSED)))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "YORKSHIRE_AND_HUMBER runs its own instance" in refused.value.details()


def gm_submits_with_the_cli(platform, measure_id: str, site_id: str) -> None:
    """Greater Manchester's member points `mhin` at its own instance with --address."""
    numerator, denominator = FIGURES[GM]
    token = issue_token(TEST_ISSUER, "gm-analyst", "arc_member", "greater-manchester")
    result = CliRunner().invoke(cli, [
        "evaluation", "observations", "submit", "--measure", measure_id, "--site", site_id,
        "--period", PERIOD, "--numerator", str(numerator), "--denominator", str(denominator),
        "--address", platform.address(EVALUATION[GM]), "--token", token, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["outcome"] == "OBSERVATION_OUTCOME_RECORDED"


def aggregate_is(api, series, figures: tuple[int, int, int]) -> bool:
    """Whether the aggregate of PERIOD has these (numerator, denominator, observations)."""
    try:
        found = api.GetAggregate(evaluation_pb2.GetAggregateRequest(series=series,
                                                                    period=PERIOD)).aggregate
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return False
        raise
    return (found.numerator, found.denominator, found.observation_count) == figures
