"""Faults on a real three-node Kafka cluster (replication factor 3, min ISR 2) under a
steady load of observations through evaluation's gRPC API and the stream processors.

After each fault: every observation the API acknowledged is on the observation topic;
evaluation's national series equals the sums of the acknowledged observations (latest
version of each cell), so nothing was lost or counted twice end to end; the checker's
recomputation from the observation log equals every published aggregate; and the
stream processors' group has nothing left to read. The time from the fault's end to
all of that is printed (docs/reliability.md).

`make test` runs the short profile (the observation partition's leader SIGKILLed and
brought back); `make chaos` (MHIN_CHAOS=full) runs every scenario here."""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc
import pytest
from kafka.partitioner.default import murmur2

from mhin.common.v1 import arc_pb2, organisation_pb2
from mhin.evaluation.v1 import (
    aggregate_events_pb2,
    evaluation_pb2,
    measure_definition_pb2,
    measure_pb2,
    observation_events_pb2,
)
from mhin.projects.v1 import project_events_pb2, project_pb2
from mhin_aggregator.checker import check
from mhin_aggregator.settings import AggregatorSettings
from mhin_devkit.harness import TopicReader
from mhin_devkit.kafka_cluster import LocalCluster
from mhin_platform.events.envelope import new_event
from mhin_platform.events.producer import create_producer, publish
from mhin_platform.events.topics import ensure_topics
from mhin_platform.settings import load_settings

pytestmark = pytest.mark.integration

OBSERVATION_TOPIC = "mhin.evaluation.observation"
FULL = os.environ.get("MHIN_CHAOS", "") == "full"
BATCHES = 40
BATCH_SIZE = 25
SITES = 4
PERIODS = 24
RECOVERY_SECONDS = 240.0
TRUST = organisation_pb2.ORGANISATION_TYPE_NHS_TRUST


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"))
    cluster.start()
    ensure_topics(cluster.bootstrap_servers)
    yield cluster
    cluster.stop()


@dataclass
class Load:
    """Batches of observations submitted one after another in a thread, each batch
    retried until acknowledged (a client's retry during a fault); what the API
    acknowledged is kept, cell by cell, latest version last."""

    api: object
    measure: str
    sites: list[str]
    acknowledged: dict[tuple[str, str], tuple[int, float, float]] = field(default_factory=dict)
    submitted: int = 0
    failures: list[str] = field(default_factory=list)

    def run(self, on_batch: Callable[[int], None]) -> None:
        rng = random.Random(20261204)
        for number in range(BATCHES):
            cells = rng.sample([(s, p) for s in self.sites for p in range(PERIODS)], BATCH_SIZE)
            batch = [evaluation_pb2.Observation(
                measure_id=self.measure, site_id=site, period=f"{2023 + p // 12}-{p % 12 + 1:02d}",
                numerator=(numerator := rng.randrange(0, 60)),
                denominator=numerator + rng.randrange(1, 60)) for site, p in cells]
            for result in self._submit(batch):
                key = (result.observation.site_id, result.observation.period)
                self.acknowledged[key] = (result.version, result.observation.numerator,
                                          result.observation.denominator)
            self.submitted += 1
            on_batch(number)

    def _submit(self, batch: list) -> list:
        request = evaluation_pb2.SubmitObservationsRequest(observations=batch)
        for _ in range(60):
            try:
                return list(self.api.SubmitObservations(request).results)
            except grpc.RpcError as exc:  # the API must stay up: say so if it does not
                self.failures.append(f"{exc.code().name}: {exc.details()}")
                time.sleep(1)
        raise AssertionError(f"a batch was never acknowledged: {self.failures[-3:]}")

    def national_sums(self) -> dict[str, tuple[float, float]]:
        sums: dict[str, tuple[float, float]] = {}
        for (_, period), (_, numerator, denominator) in self.acknowledged.items():
            n, d = sums.get(period, (0.0, 0.0))
            sums[period] = (n + numerator, d + denominator)
        return sums


def kill_and_restore_the_leader(cluster: LocalCluster, partition: int) -> Callable[[], None]:
    leader = cluster.leader(OBSERVATION_TOPIC, partition)
    cluster.kill(leader)
    return lambda: cluster.restart(leader)


def pause_a_broker(cluster: LocalCluster, partition: int) -> Callable[[], None]:
    leader = cluster.leader(OBSERVATION_TOPIC, partition)
    cluster.pause(leader)
    return lambda: cluster.resume(leader)


def kill_two_brokers(cluster: LocalCluster, partition: int) -> Callable[[], None]:
    """Below min ISR: writes must stop (the outbox holds them), not be lost."""
    leader = cluster.leader(OBSERVATION_TOPIC, partition)
    others = [n.node_id for n in cluster.nodes if n.node_id != leader][:1]
    for node in (leader, *others):
        cluster.kill(node)

    return lambda: cluster.restart(leader, *others)


def rolling_restart(cluster: LocalCluster, partition: int) -> Callable[[], None]:
    for node in cluster.nodes:
        node.stop()  # SIGTERM: a controlled shutdown, then the next
        cluster.restart(node.node_id)
    return lambda: None


SCENARIOS = {"leader-killed": kill_and_restore_the_leader}
if FULL:
    SCENARIOS |= {"broker-paused": pause_a_broker, "two-brokers-killed": kill_two_brokers,
                  "rolling-restart": rolling_restart}
FAULT_SECONDS = 30.0 if FULL else 8.0


def publish_project(bootstrap: str, sites: int) -> project_pb2.Project:
    project_id = f"chaos-{random.randrange(1 << 30):08x}"
    project = project_pb2.Project(
        id=project_id, name="Chaos project", version=1,
        arcs=[arc_pb2.ARC_GREATER_MANCHESTER],
        sites=[project_pb2.Site(id=f"{project_id}-site-{n}", name=f"Site {n}",
                                organisation_name="Trust", organisation_type=TRUST,
                                arc=arc_pb2.ARC_GREATER_MANCHESTER) for n in range(sites)])
    producer = create_producer(bootstrap, client_id="chaos-project-tracking")
    try:
        publish(producer, [new_event(topic="mhin.projects.project", key=project.id,
                                     source="/mhin/project-tracking", subject=project.id,
                                     message=project_events_pb2.ProjectCreated(project=project))])
    finally:
        producer.close(timeout=5)
    return project


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_nothing_is_lost_or_counted_twice_through_a_fault(cluster, platform_on, eventually,
                                                          scenario):
    platform = platform_on(cluster.bootstrap_servers)
    platform.start("evaluation")
    project = publish_project(cluster.bootstrap_servers, SITES)
    api = platform.api("evaluation")
    eventually(lambda: _known(api, project.id), f"project {project.id} in evaluation")
    measure = api.DefineMeasure(evaluation_pb2.DefineMeasureRequest(
        measure=measure_definition_pb2.MeasureDefinition(
            id=f"chaos-{scenario}-{random.randrange(1 << 30):08x}", project_id=project.id,
            title="Chaos", numerator="n", denominator="d", multiplier=100,
            type=measure_pb2.MEASURE_TYPE_PROPORTION, direction=measure_pb2.DIRECTION_UP,
            frequency=measure_definition_pb2.FREQUENCY_MONTHLY,
            tag=measure_definition_pb2.MeasureTag(
                re_aim=measure_definition_pb2.RE_AIM_DIMENSION_REACH)))).measure.id
    observations = TopicReader(cluster.bootstrap_servers, OBSERVATION_TOPIC)
    workers = platform.start_stream_processors()
    load = Load(api, measure, [site.id for site in project.sites])
    partition = (murmur2(measure.encode()) & 0x7FFFFFFF) % 3
    restore: list[Callable[[], None]] = []
    ended: list[float] = []

    def fault_at_a_third(number: int) -> None:
        if number == BATCHES // 3:
            restore.append(SCENARIOS[scenario](cluster, partition))
            threading.Timer(FAULT_SECONDS, lambda: (restore[0](), ended.append(
                time.monotonic()))).start()

    load.run(fault_at_a_third)
    eventually(lambda: ended, "the fault to end", timeout=FAULT_SECONDS + 180)
    recovered = _all_visible(api, measure, load, workers, eventually)
    print(f"\n{scenario}: {load.submitted} batches, {len(load.acknowledged)} cells "
          f"acknowledged, {len(load.failures)} refused calls, recovered "
          f"{recovered - ended[0]:.1f}s after the fault ended")

    published = {}
    for event in observations.wait_for(lambda events: _all_published(events, load),
                                       timeout=RECOVERY_SECONDS, what="every write"):
        message = event.decode(observation_events_pb2.ObservationRecorded)
        key = (message.site_id, message.period)
        published[key] = max(published.get(key, 0), message.version)
    assert {k: v[0] for k, v in load.acknowledged.items()} == published
    observations.close()

    settings = load_settings(AggregatorSettings,
                             kafka_bootstrap_servers=cluster.bootstrap_servers,
                             consumer_group=workers.group)
    differences: list[object] = []

    def checker_agrees() -> bool:
        """The shared topic trails the restricted one by up to one SPC round."""
        differences[:] = [d for d in check(settings).differences if d.key.startswith(measure)]
        return not differences

    try:
        eventually(checker_agrees, "every aggregate to equal the checker's recomputation",
                   timeout=RECOVERY_SECONDS)
    except AssertionError:
        raise AssertionError(f"aggregates differ from the observation log: "
                             f"{differences[:5]}") from None
    workers.require_running()


def _known(api, project_id: str):
    try:
        return api.GetProjectSites(evaluation_pb2.GetProjectSitesRequest(project_id=project_id))
    except grpc.RpcError as exc:
        if exc.code() is grpc.StatusCode.NOT_FOUND:
            return None
        raise


def _all_published(events: list, load: Load) -> bool:
    latest: dict[tuple[str, str], int] = {}
    for event in events:
        message = event.decode(observation_events_pb2.ObservationRecorded)
        key = (message.site_id, message.period)
        latest[key] = max(latest.get(key, 0), message.version)
    return all(latest.get(key) == version for key, (version, _, _) in load.acknowledged.items())


def _all_visible(api, measure: str, load: Load, workers, eventually) -> float:
    """When evaluation's national series equals the acknowledged sums, exactly."""
    expected = load.national_sums()
    series = evaluation_pb2.SeriesKey(measure_id=measure, level=aggregate_events_pb2.LEVEL_NATIONAL)

    def equal() -> bool:
        workers.require_running()
        points = api.GetSeries(evaluation_pb2.GetSeriesRequest(series=series)).points
        return {p.period: (p.numerator, p.denominator) for p in points} == expected

    eventually(equal, "the national series to equal the acknowledged writes",
               timeout=RECOVERY_SECONDS)
    return time.monotonic()
