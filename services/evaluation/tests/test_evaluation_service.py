"""evaluation through a real gRPC server on a real port, a real broker and a real
database: every RPC, its events on the topics, bad input, ARC permissions, the
project-sites read model (across a restart) and the aggregates read model with
disclosure control per caller."""

from __future__ import annotations

import uuid

import grpc
import pytest

from mhin.common.v1 import arc_pb2
from mhin.evaluation.v1 import (
    aggregate_events_pb2,
    evaluation_pb2,
    measure_definition_pb2,
    measure_events_pb2,
    measure_pb2,
    observation_events_pb2,
)
from mhin.projects.v1 import project_events_pb2, project_pb2
from mhin_devkit.harness import TopicReader
from mhin_evaluation.consumers import PROJECT_TOPIC
from mhin_evaluation.events import MEASURE_TOPIC, OBSERVATION_TOPIC
from mhin_evaluation.reference_measures import reference_measures
from mhin_platform.events.dead_letter import dead_letter_topic

pytestmark = pytest.mark.integration

SITE_LEVEL = aggregate_events_pb2.LEVEL_SITE
ARC_LEVEL = aggregate_events_pb2.LEVEL_ARC
PROJECT_LEVEL = aggregate_events_pb2.LEVEL_PROJECT
NATIONAL_LEVEL = aggregate_events_pb2.LEVEL_NATIONAL
THRESHOLD = 5
GM = arc_pb2.ARC_GREATER_MANCHESTER
YH = arc_pb2.ARC_YORKSHIRE_AND_HUMBER


@pytest.fixture
def observations_topic(kafka_bootstrap):
    reader = TopicReader(kafka_bootstrap, OBSERVATION_TOPIC)
    yield reader
    reader.close()


def observation(measure_id: str, site_id: str, period: str = "2025-01",
                stratum: str = "ethnicity=Black", numerator: float = 12,
                denominator: float | None = 40) -> evaluation_pb2.Observation:
    message = evaluation_pb2.Observation(measure_id=measure_id, site_id=site_id, period=period,
                                         stratum=stratum, numerator=numerator)
    if denominator is not None:
        message.denominator = denominator
    return message


def submit(api, message: evaluation_pb2.Observation) -> evaluation_pb2.ObservationResult:
    request = evaluation_pb2.SubmitObservationRequest(observation=message)
    return api.SubmitObservation(request).result


def refused(call) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def sites_by_arc(project) -> dict[int, str]:
    return {site.arc: site.id for site in project.sites}


# ----------------------------------------------------------------- measure definitions


def test_reference_measures_are_loaded_once_and_published(tmp_path, start_evaluation,
                                                          kafka_bootstrap):
    reader = TopicReader(kafka_bootstrap, MEASURE_TOPIC)
    database = f"sqlite:///{tmp_path}/evaluation.db"
    with start_evaluation(database, f"evaluation-test-{uuid.uuid4().hex[:8]}") as service:
        listed = service.api("viewer").ListMeasures(evaluation_pb2.ListMeasuresRequest(
            project_id="mhin-project-2"))
        assert [m.id for m in listed.measures] == sorted(
            m.id for m in reference_measures() if m.project_id == "mhin-project-2")
        events = reader.wait_for_count(13)
    assert {e.key for e in events} == {m.id for m in reference_measures()}
    detentions = next(e for e in events if e.key == "pcref-mha-detentions")
    measure = detentions.decode(measure_events_pb2.MeasureDefined).measure
    assert (measure.multiplier, measure.frequency, list(measure.stratifiers)) == (
        100_000, measure_definition_pb2.FREQUENCY_QUARTERLY,
        [measure_definition_pb2.STRATIFIER_ETHNICITY])
    with start_evaluation(database, f"evaluation-test-{uuid.uuid4().hex[:8]}"):
        assert len(reader.settle()) == 13, "a restart must not load or publish them again"
    reader.close()


def test_define_get_and_list_measures(evaluation, kafka_bootstrap):
    reader = TopicReader(kafka_bootstrap, MEASURE_TOPIC)
    project = evaluation.project()
    defined = evaluation.define_measure(project.id, stratifiers=[
        measure_definition_pb2.STRATIFIER_ETHNICITY, measure_definition_pb2.STRATIFIER_SEX])
    assert defined.version == 1
    assert list(defined.stratifiers) == [measure_definition_pb2.STRATIFIER_SEX,
                                         measure_definition_pb2.STRATIFIER_ETHNICITY]
    again = evaluation.define_measure(project.id, id=defined.id, stratifiers=[
        measure_definition_pb2.STRATIFIER_SEX, measure_definition_pb2.STRATIFIER_ETHNICITY])
    assert again == defined, "defining the same measure again changes nothing"
    [event] = [e for e in reader.wait_for(lambda es: any(e.key == defined.id for e in es))
               if e.key == defined.id]
    assert event.decode(measure_events_pb2.MeasureDefined).measure == defined

    shown = evaluation.api("arc_member", "yorkshire-and-humber").GetMeasure(
        evaluation_pb2.GetMeasureRequest(measure_id=defined.id))
    assert shown.measure == defined
    assert [(g.name, g.groups[-1]) for g in shown.stratifier_groups] == [
        ("sex", "Not stated"), ("ethnicity", "Not stated")]
    assert list(shown.stratifier_groups[1].groups) == [
        "Asian", "Black", "Mixed", "White", "Other", "Not stated"]

    other = evaluation.define_measure(project.id)
    first = evaluation.api().ListMeasures(evaluation_pb2.ListMeasuresRequest(
        project_id=project.id, page={"page_size": 1}))
    second = evaluation.api().ListMeasures(evaluation_pb2.ListMeasuresRequest(
        project_id=project.id, page={"page_size": 1, "page_token": first.page.next_page_token}))
    assert [m.id for m in [*first.measures, *second.measures]] == sorted([defined.id, other.id])
    assert not second.page.next_page_token
    assert len(reader.settle()) - len(set(e.key for e in reader.events)) == 0
    reader.close()


def test_defining_measures_is_checked(evaluation):
    project = evaluation.project()
    defined = evaluation.define_measure(project.id)
    error = refused(lambda: evaluation.define_measure(project.id, id=defined.id, multiplier=1000))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS
    error = refused(lambda: evaluation.define_measure("no-such-project"))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("measure.project_id")
    error = refused(lambda: evaluation.define_measure(project.id,
                                                      type=measure_pb2.MEASURE_TYPE_COUNT))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("measure.denominator")
    error = refused(lambda: evaluation.define_measure(project.id, tag=None))
    assert error.details().startswith("measure.tag")
    member = evaluation.api("arc_member", "greater-manchester")
    error = refused(lambda: evaluation.define_measure(project.id, member))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    error = refused(lambda: member.GetMeasure(evaluation_pb2.GetMeasureRequest(measure_id="nope")))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_an_arc_instance_defines_no_measures_and_learns_the_national_ones(
        evaluation, tmp_path, start_evaluation):
    project = evaluation.project()
    with start_evaluation(f"sqlite:///{tmp_path}/gm.db",
                          f"evaluation-test-gm-{uuid.uuid4().hex[:8]}",
                          instance_arc="greater-manchester") as gm_instance:
        error = refused(lambda: gm_instance.define_measure(project.id))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "measures are defined on the national instance" in error.details()

        defined = evaluation.define_measure(project.id)
        assert gm_instance.wait_for_measures(defined.id) == [defined]
        gm_instance.wait_for_measures(*(m.id for m in reference_measures()))

        gm_instance.wait_for_project(project.id, project.version)
        recorded = submit(gm_instance.api("arc_member", "greater-manchester"),
                          observation(defined.id, sites_by_arc(project)[GM]))
        assert recorded.outcome == evaluation_pb2.OBSERVATION_OUTCOME_RECORDED


# ----------------------------------------------------------------- observations


def test_an_observation_is_recorded_corrected_and_an_identical_one_publishes_nothing(
        evaluation, observations_topic):
    """On the reference project and measure, as project-tracking seeds them."""
    pcref = evaluation.project("mhin-project-1",
                               version=evaluation.above_every_earlier_version())
    oldham = sites_by_arc(pcref)[GM]
    gm_member = evaluation.api("arc_member", "greater-manchester")

    first = submit(gm_member, observation("pcref-minority-referrals", oldham,
                                          stratum="ethnicity=black"))
    assert (first.outcome, first.version, first.arc, first.project_id) == (
        evaluation_pb2.OBSERVATION_OUTCOME_RECORDED, 1, GM, "mhin-project-1")
    assert first.observation.stratum == "ethnicity=Black"
    same = submit(gm_member, observation("pcref-minority-referrals", oldham))
    assert (same.outcome, same.version) == (evaluation_pb2.OBSERVATION_OUTCOME_UNCHANGED, 1)
    corrected = submit(gm_member, observation("pcref-minority-referrals", oldham, numerator=13))
    assert (corrected.outcome, corrected.version) == (
        evaluation_pb2.OBSERVATION_OUTCOME_CORRECTED, 2)

    events = observations_topic.wait_for_count(2)
    assert len(observations_topic.settle()) == 2, "the identical resubmission published nothing"
    assert [e.key for e in events] == ["pcref-minority-referrals"] * 2
    recorded = [e.decode(observation_events_pb2.ObservationRecorded) for e in events]
    assert [(r.version, r.numerator, r.denominator) for r in recorded] == [(1, 12, 40),
                                                                          (2, 13, 40)]
    latest = recorded[1]
    assert (latest.measure_type, latest.multiplier, latest.direction) == (
        measure_pb2.MEASURE_TYPE_PROPORTION, 100, measure_pb2.DIRECTION_UP)
    assert (latest.project_id, latest.site_id, latest.arc, latest.period, latest.stratum) == (
        "mhin-project-1", oldham, GM, "2025-01", "ethnicity=Black")
    headers = dict(observations_topic.records[1].headers)
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"mhin.evaluation.v1.ObservationRecorded"
    assert headers["ce_source"] == b"/mhin/evaluation"
    subject = f"pcref-minority-referrals|{oldham}|2025-01|ethnicity=Black"
    assert headers["ce_subject"] == subject.encode()
    assert headers["content-type"] == b"application/protobuf"
    assert observations_topic.records[1].key == b"pcref-minority-referrals"


def test_each_invalid_observation_names_the_field_and_writes_nothing(evaluation,
                                                                     observations_topic):
    project = evaluation.project()
    elsewhere = evaluation.project()
    oldham = sites_by_arc(project)[GM]
    referrals = evaluation.define_measure(project.id).id
    attendances = evaluation.define_measure(
        project.id, type=measure_pb2.MEASURE_TYPE_COUNT, denominator="", multiplier=1,
        stratifiers=[]).id
    api = evaluation.api()
    cases = [
        (observation("no-such-measure", oldham), "observation.measure_id"),
        (observation(referrals, "no-such-site"), "observation.site_id"),
        (observation(referrals, sites_by_arc(elsewhere)[GM]), "observation.site_id"),
        (observation(referrals, oldham, period="2025-Q1"), "observation.period"),
        (observation(referrals, oldham, period="2025-1"), "observation.period"),
        (observation(referrals, oldham, period="2999-01"), "observation.period"),
        (observation(referrals, oldham, stratum="sex=F"), "observation.stratum"),
        (observation(referrals, oldham, stratum=""), "observation.stratum"),
        (observation(referrals, oldham, numerator=-1), "observation.numerator"),
        (observation(referrals, oldham, numerator=50), "observation.denominator"),
        (observation(referrals, oldham, denominator=None), "observation.denominator"),
        (observation(attendances, oldham, stratum="", denominator=10),
         "observation.denominator"),
    ]
    for message, field in cases:
        error = refused(lambda message=message: submit(api, message))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert error.details().startswith(field + ":"), (field, error.details())
        assert dict(error.trailing_metadata())["mhin-field"] == field
    assert submit(api, observation(referrals, oldham)).version == 1, "nothing was written"
    assert len(observations_topic.settle()) == 1


def test_arc_members_record_only_their_own_arcs_sites(evaluation):
    project = evaluation.project()
    sites = sites_by_arc(project)
    measure = evaluation.define_measure(project.id).id
    gm_member = evaluation.api("arc_member", "greater-manchester")
    assert submit(gm_member, observation(measure, sites[GM])).version == 1
    error = refused(lambda: submit(gm_member, observation(measure, sites[YH])))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "YORKSHIRE_AND_HUMBER" in error.details()
    error = refused(lambda: submit(evaluation.api("viewer"), observation(measure, sites[GM])))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert submit(evaluation.api(), observation(measure, sites[YH])).version == 1


def test_a_batch_is_recorded_all_or_nothing(evaluation, observations_topic):
    project = evaluation.project()
    sites = sites_by_arc(project)
    measure = evaluation.define_measure(project.id).id
    good = [observation(measure, sites[GM], stratum=f"ethnicity={group}")
            for group in ("Asian", "Black", "White")]
    bad = [good[0], observation(measure, sites[GM], period="2025-13"), good[2]]
    api = evaluation.api()

    def batch(messages, caller=api):
        return caller.SubmitObservations(
            evaluation_pb2.SubmitObservationsRequest(observations=messages)).results

    error = refused(lambda: batch(bad))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("observations.1.period:")
    error = refused(lambda: batch([*good, observation(measure, sites[GM],
                                                      stratum="ethnicity=asian")]))
    assert error.details().startswith("observations.3:") and "repeats observation 0" in \
        error.details()
    gm_member = evaluation.api("arc_member", "greater-manchester")
    error = refused(lambda: batch([good[0], observation(measure, sites[YH])], gm_member))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error.details().startswith("observations.1:")
    error = refused(lambda: batch([]))
    assert error.details().startswith("observations:")

    problems = api.CheckObservations(evaluation_pb2.CheckObservationsRequest(
        observations=[*bad, observation(measure, sites[GM], numerator=-3)])).problems
    assert [(p.index, p.field) for p in problems] == [
        (1, "observations.1.period"), (3, "observations.3.numerator")]
    denied = gm_member.CheckObservations(evaluation_pb2.CheckObservationsRequest(
        observations=[observation(measure, sites[YH])])).problems
    assert [(p.field, p.permission_denied) for p in denied] == [("observations.0.site_id", True)]

    results = batch(good)
    assert [r.outcome for r in results] == [evaluation_pb2.OBSERVATION_OUTCOME_RECORDED] * 3
    again = batch([good[0], observation(measure, sites[GM], stratum="ethnicity=Black",
                                        numerator=20)])
    assert [(r.outcome, r.version) for r in again] == [
        (evaluation_pb2.OBSERVATION_OUTCOME_UNCHANGED, 1),
        (evaluation_pb2.OBSERVATION_OUTCOME_CORRECTED, 2)]
    assert len(observations_topic.wait_for_count(4)) == 4
    assert len(observations_topic.settle()) == 4, "refused batches wrote nothing"


def test_a_batch_of_ten_thousand_is_recorded_and_published_keyed_by_measure(
        evaluation, observations_topic):
    project = evaluation.project(sites=tuple((f"Site {n}", GM) for n in range(10)))
    measure = evaluation.define_measure(project.id, stratifiers=[
        measure_definition_pb2.STRATIFIER_SEX, measure_definition_pb2.STRATIFIER_AGE_BAND,
        measure_definition_pb2.STRATIFIER_ETHNICITY,
        measure_definition_pb2.STRATIFIER_DEPRIVATION_DECILE]).id
    strata = [f"sex={s}|age_band={a}|ethnicity={e}|deprivation_decile={d}"
              for s in ("F", "M") for a in ("12-17", "18-25", "26-44", "45-64", "65+")
              for e in ("Asian", "Black", "Mixed", "White", "Other") for d in range(1, 11)]
    periods = ["2025-01", "2025-02"]
    messages = [observation(measure, site.id, period, stratum, numerator=5, denominator=9)
                for site in project.sites for period in periods for stratum in strata]
    assert len(messages) == 10_000
    results = evaluation.api().SubmitObservations(
        evaluation_pb2.SubmitObservationsRequest(observations=messages)).results
    assert len(results) == 10_000 and {r.version for r in results} == {1}
    events = observations_topic.wait_for_count(10_000, timeout=120)
    assert {e.key for e in events} == {measure}
    assert len({observations_topic.records[i].partition for i in range(10_000)}) == 1


# ----------------------------------------------------------------- the project-sites read model


def test_sites_follow_project_events_across_a_restart_and_stale_ones_are_ignored(
        tmp_path, start_evaluation, kafka_bootstrap):
    dead_letters = TopicReader(kafka_bootstrap, dead_letter_topic(PROJECT_TOPIC))
    database = f"sqlite:///{tmp_path}/evaluation.db"
    instance = f"evaluation-test-{uuid.uuid4().hex[:8]}"
    with start_evaluation(database, instance) as service:
        project = service.project()
        measure = service.define_measure(project.id).id
        assert [s.name for s in service.sites_of(project.id).sites] == ["Leeds", "Oldham"]

        project.sites.append(service.new_site("Bolton", GM))
        project.version = 2
        service.publish_project(project, project_events_pb2.ProjectSiteAdded)
        service.wait_for_project(project.id, 2)
    bolton = project.sites[-1].id

    # While the service is down: a site is renamed (v3), then an old snapshot arrives
    # late (v1, without Bolton), then a bad event (dead-lettered) marks the end.
    project.sites[-1].name = "Bolton and Wigan"
    project.version = 3
    stale = type(project)()
    stale.CopyFrom(project)
    del stale.sites[-1]
    stale.version = 1
    broken = type(project)(id=project.id, version=4, 
                           sites=[project_pb2.Site(id="nowhere", name="No ARC")])
    with start_evaluation(database, instance) as service:  # the same groups: a restart
        service.publish_project(project, project_events_pb2.ProjectSiteUpdated)
        service.publish_project(stale, project_events_pb2.ProjectPhaseChanged)
        service.publish_project(broken, project_events_pb2.ProjectArcsChanged)
        dead_letters.wait_for(lambda events: any(e.key == project.id for e in events))
        assert b"project.sites.0.arc" in dict(dead_letters.records[-1].headers)["dlq_reason"]
        known = service.sites_of(project.id)
        assert known.project_version == 3, "the stale snapshot (v1) was read and ignored"
        assert sorted(s.name for s in known.sites) == ["Bolton and Wigan", "Leeds", "Oldham"]
        assert submit(service.api(), observation(measure, bolton)).version == 1
    dead_letters.close()


# ----------------------------------------------------------------- aggregates and disclosure


def test_aggregate_series_and_breakdown_with_disclosure_per_caller(evaluation):
    project = evaluation.project()
    oldham = sites_by_arc(project)[GM]
    measure = evaluation.define_measure(project.id).id
    publish = evaluation.publish_aggregate
    # Small counts everywhere a caller might look: Black 3 of 40, Mixed 38 of 40
    # (a small complement), Asian 12 of 40, all strata 53 of 120.
    cells = {"ethnicity=Asian": (12, 40), "ethnicity=Black": (3, 40), "ethnicity=Mixed": (38, 40),
             "": (53, 120)}
    for level, unit, owner in ((SITE_LEVEL, oldham, "GREATER_MANCHESTER"),
                               (ARC_LEVEL, "GREATER_MANCHESTER", "GREATER_MANCHESTER"),
                               (PROJECT_LEVEL, project.id, ""),
                               (NATIONAL_LEVEL, "national", "")):
        for stratum, (numerator, denominator) in cells.items():
            publish(measure, level, unit, "2025-01", numerator, denominator, stratum=stratum,
                    owner_arc=owner)
    publish(measure, SITE_LEVEL, oldham, "2024-12", 2, 30, owner_arc="GREATER_MANCHESTER")
    publish(measure, SITE_LEVEL, oldham, "2025-02", 40, 100, owner_arc="GREATER_MANCHESTER")
    last = evaluation_pb2.SeriesKey(measure_id=measure, level=SITE_LEVEL, unit=oldham)
    evaluation.wait_for_aggregate(last, "2025-02", 40)
    national_black = evaluation_pb2.SeriesKey(measure_id=measure, level=NATIONAL_LEVEL,
                                              stratum="ethnicity=Black")
    evaluation.wait_for_aggregate(national_black, "2025-01", 3)

    gm_member = evaluation.api("arc_member", "greater-manchester")
    yh_member = evaluation.api("arc_member", "yorkshire-and-humber")
    viewer = evaluation.api("viewer")
    national = evaluation.api("national_admin")
    site_black = evaluation_pb2.SeriesKey(measure_id=measure, level=SITE_LEVEL, unit=oldham,
                                          stratum="ethnicity=black")

    def aggregate(api, series, period="2025-01"):
        return api.GetAggregate(evaluation_pb2.GetAggregateRequest(series=series,
                                                                   period=period)).aggregate

    own = aggregate(gm_member, site_black)
    assert (own.in_full, own.numerator, own.denominator, own.value) == (True, 3, 40, 7.5)
    assert own.owner_arc == GM and own.computed_at.seconds > 0
    for outsider in (yh_member, viewer):
        hidden = aggregate(outsider, site_black)
        assert not hidden.in_full and hidden.numerator_suppressed and hidden.value_suppressed
        assert not hidden.HasField("numerator") and not hidden.HasField("value")
        assert not hidden.HasField("denominator") and hidden.denominator_secondary, (
            "a proportion's denominator goes with its numerator (complementary suppression)")
    assert aggregate(national, national_black).in_full
    above = aggregate(gm_member, national_black)
    assert not above.in_full and above.numerator_suppressed, "no owner above the ARC level"

    series = gm_member.GetSeries(evaluation_pb2.GetSeriesRequest(series=last)).points
    assert [(p.period, p.numerator) for p in series] == [("2024-12", 2), ("2025-01", 53),
                                                        ("2025-02", 40)]
    outside = yh_member.GetSeries(evaluation_pb2.GetSeriesRequest(series=last)).points
    assert [p.numerator_suppressed for p in outside] == [True, False, False]

    arc_breakdown = yh_member.GetBreakdown(evaluation_pb2.GetBreakdownRequest(
        measure_id=measure, level=ARC_LEVEL, unit="GREATER_MANCHESTER", period="2025-01",
        stratifier=measure_definition_pb2.STRATIFIER_ETHNICITY))
    assert [g.stratum for g in arc_breakdown.groups] == [
        "ethnicity=Asian", "ethnicity=Black", "ethnicity=Mixed"]
    assert [g.numerator_suppressed for g in arc_breakdown.groups] == [False, True, True]
    assert arc_breakdown.total.numerator == 53
    own_breakdown = gm_member.GetBreakdown(evaluation_pb2.GetBreakdownRequest(
        measure_id=measure, level=ARC_LEVEL, unit="Greater Manchester", period="2025-01",
        stratifier=measure_definition_pb2.STRATIFIER_ETHNICITY))
    assert [g.numerator for g in own_breakdown.groups] == [12, 3, 38]

    # No count below the threshold ever reaches a caller from outside the owning ARC.
    for outsider in (yh_member, viewer):
        returned = []
        for level, unit in ((SITE_LEVEL, oldham), (ARC_LEVEL, "GREATER_MANCHESTER"),
                            (PROJECT_LEVEL, project.id), (NATIONAL_LEVEL, "national")):
            for stratum in cells:
                key = evaluation_pb2.SeriesKey(measure_id=measure, level=level, unit=unit,
                                               stratum=stratum)
                returned += outsider.GetSeries(evaluation_pb2.GetSeriesRequest(series=key)).points
            returned += outsider.GetBreakdown(evaluation_pb2.GetBreakdownRequest(
                measure_id=measure, level=level, unit=unit, period="2025-01",
                stratifier=measure_definition_pb2.STRATIFIER_ETHNICITY)).groups
        assert len(returned) == 30
        for item in returned:
            shown = [getattr(item, f) for f in ("numerator", "denominator") if item.HasField(f)]
            if len(shown) == 2:
                shown.append(item.denominator - item.numerator)
            assert all(n == 0 or n >= THRESHOLD for n in shown), item


def test_bad_queries_name_the_field(evaluation):
    project = evaluation.project()
    measure = evaluation.define_measure(project.id).id
    api = evaluation.api("viewer")
    cases = [
        (lambda: api.GetAggregate(evaluation_pb2.GetAggregateRequest(
            series=evaluation_pb2.SeriesKey(measure_id=measure, level=ARC_LEVEL, unit="Atlantis"),
            period="2025-01")), "series.unit"),
        (lambda: api.GetAggregate(evaluation_pb2.GetAggregateRequest(
            series=evaluation_pb2.SeriesKey(measure_id=measure, level=NATIONAL_LEVEL),
            period="2025-Q1")), "period"),
        (lambda: api.GetSeries(evaluation_pb2.GetSeriesRequest(
            series=evaluation_pb2.SeriesKey(measure_id=measure, unit="x"))), "series.level"),
        (lambda: api.GetSpc(evaluation_pb2.GetSpcRequest(
            series=evaluation_pb2.SeriesKey(measure_id=measure, level=NATIONAL_LEVEL,
                                            stratum="sex=F"))), "series.stratum"),
        (lambda: api.GetBreakdown(evaluation_pb2.GetBreakdownRequest(
            measure_id=measure, level=NATIONAL_LEVEL, period="2025-01",
            stratifier=measure_definition_pb2.STRATIFIER_SEX)), "stratifier"),
    ]
    for call, field in cases:
        error = refused(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert error.details().startswith(field + ":"), error.details()
    error = refused(lambda: api.GetAggregate(evaluation_pb2.GetAggregateRequest(
        series=evaluation_pb2.SeriesKey(measure_id=measure, level=NATIONAL_LEVEL),
        period="2025-01")))
    assert error.code() == grpc.StatusCode.NOT_FOUND


def test_spc_finds_a_known_special_cause_and_the_latest_aggregate_wins(evaluation):
    project = evaluation.project()
    measure = evaluation.define_measure(project.id).id
    referrals = [38, 48] * 7 + [38, 110]  # of 200: common cause, then a leap
    periods = [f"{2024 + i // 12}-{i % 12 + 1:02d}" for i in range(len(referrals))]
    for period, numerator in zip(periods, referrals, strict=True):
        evaluation.publish_aggregate(measure, NATIONAL_LEVEL, "national", period, numerator, 200)
    evaluation.publish_aggregate(measure, NATIONAL_LEVEL, "national", periods[-1], 120, 200)
    national = evaluation_pb2.SeriesKey(measure_id=measure, level=NATIONAL_LEVEL)
    evaluation.wait_for_aggregate(national, periods[-1], 120)

    chart = evaluation.api("viewer").GetSpc(evaluation_pb2.GetSpcRequest(series=national))
    assert [p.period for p in chart.points] == periods
    assert chart.points[-1].value == 60, "the latest update of a period wins: 120 of 200"
    assert list(chart.points[-1].rules) == [aggregate_events_pb2.SPC_RULE_POINT_BEYOND_LIMIT]
    assert chart.points[-1].variation == aggregate_events_pb2.SPC_VARIATION_IMPROVEMENT
    assert all(p.variation == aggregate_events_pb2.SPC_VARIATION_COMMON_CAUSE
               for p in chart.points[:-1])
    assert chart.verdict == aggregate_events_pb2.SPC_VARIATION_IMPROVEMENT
    assert chart.lower_limit < chart.mean < chart.upper_limit < 60
    assert chart.limits_reliable and chart.direction == measure_pb2.DIRECTION_UP

    empty = evaluation.api().GetSpc(evaluation_pb2.GetSpcRequest(series=evaluation_pb2.SeriesKey(
        measure_id=measure, level=ARC_LEVEL, unit="GREATER_MANCHESTER")))
    assert (list(empty.points), empty.verdict, empty.HasField("mean")) == (
        [], aggregate_events_pb2.SPC_VARIATION_UNSPECIFIED, False)
