"""The broker SIGKILLed while evaluation works through a backlog of aggregates and
takes observations: the gRPC API keeps answering SERVING and recording observations
(they wait in the outbox), no background worker dies, and once the broker is back the
observations are published and the aggregates consumer carries on by itself. Stopping
the service while the broker is down ends, rather than hanging on the producer."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mhin.evaluation.v1 import aggregate_events_pb2, evaluation_pb2, observation_events_pb2
from mhin_devkit.harness import TopicReader
from mhin_evaluation.events import OBSERVATION_TOPIC

pytestmark = pytest.mark.integration

NATIONAL_LEVEL = aggregate_events_pb2.LEVEL_NATIONAL
SITE_LEVEL = aggregate_events_pb2.LEVEL_SITE
OUTAGE_SECONDS = 8.0
BACKLOG = 1_000
HEALTHY = health_pb2.HealthCheckResponse.SERVING
RECORDED = evaluation_pb2.OBSERVATION_OUTCOME_RECORDED


def record(evaluation, measure: str, site: str, period: str) -> evaluation_pb2.ObservationResult:
    message = evaluation_pb2.Observation(measure_id=measure, site_id=site, period=period,
                                         numerator=3, denominator=10)
    request = evaluation_pb2.SubmitObservationRequest(observation=message)
    return evaluation.api().SubmitObservation(request).result


def serving(channel: grpc.Channel) -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                     timeout=5).status


def test_the_api_rides_out_a_broker_outage_and_resumes_by_itself(
        evaluation_on_outage_broker, outage_broker):
    evaluation = evaluation_on_outage_broker
    runtime = evaluation.runtime
    project = evaluation.project()
    site = project.sites[0].id
    measure = evaluation.define_measure(project.id, stratifiers=[]).id
    observations = TopicReader(outage_broker.bootstrap_servers, OBSERVATION_TOPIC)
    for number in range(BACKLOG):  # the aggregates consumer is busy when the broker dies
        evaluation.publish_aggregate(measure, NATIONAL_LEVEL, "national", "2025-01",
                                     number, BACKLOG)

    outage_broker.kill()
    health_answers, recorded = [], []
    periods = iter(f"2024-{month:02d}" for month in range(1, 13))
    outage_ends = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < outage_ends:
        health_answers.append(serving(evaluation.channel))
        recorded.append(record(evaluation, measure, site, next(periods)))
        time.sleep(1.0)
    assert set(health_answers) == {HEALTHY}
    assert {result.outcome for result in recorded} == {RECORDED}
    assert not runtime.failed.is_set()

    outage_broker.restart()
    published = observations.wait_for_count(len(recorded), timeout=90)
    periods_published = [event.decode(observation_events_pb2.ObservationRecorded).period
                         for event in published]
    assert sorted(periods_published) == sorted(r.observation.period for r in recorded)
    evaluation.publish_aggregate(measure, SITE_LEVEL, site, "2025-02", 7, 10,
                                 owner_arc="GREATER_MANCHESTER")
    evaluation.wait_for_aggregate(
        evaluation_pb2.SeriesKey(measure_id=measure, level=SITE_LEVEL, unit=site), "2025-02", 7)
    assert serving(evaluation.channel) == HEALTHY
    assert not runtime.failed.is_set()
    assert all(consumer.healthy for consumer in runtime.consumers)
    assert runtime.relay.healthy
    observations.close()

    outage_broker.kill()
    stopping = threading.Thread(target=runtime.stop)
    stopping.start()
    stopping.join(60)
    assert not stopping.is_alive(), "the service did not stop while the broker was down"
