"""A real evaluation service for each test (real gRPC port, real broker, real SQLite
file, a consumer group of its own), and the events a test feeds it: project
snapshots on ``mhin.projects.project`` as project-tracking publishes them, and
aggregates on ``mhin.evaluation.aggregate-restricted`` as the stream processors do.

Topics are shared by the whole test session, so each test works on its own
projects, sites and measures (unique ids); the reference projects are published at
a version above any earlier one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import grpc
import pytest

from mhin.common.v1 import arc_pb2, organisation_pb2
from mhin.evaluation.v1 import (
    aggregate_events_pb2,
    evaluation_pb2,
    evaluation_pb2_grpc,
    measure_definition_pb2,
    measure_pb2,
)
from mhin.projects.v1 import project_events_pb2, project_pb2
from mhin_devkit.harness import Caller, caller, running_service
from mhin_devkit.harness import eventually as harness_eventually
from mhin_evaluation.consumers import AGGREGATE_TOPIC, PROJECT_TOPIC
from mhin_evaluation.main import DEFINITION
from mhin_measures.hierarchy import AggregateKey, Level
from mhin_platform.events.envelope import new_event
from mhin_platform.events.producer import create_producer, publish
from mhin_platform.protoconv import timestamp

GM = arc_pb2.ARC_GREATER_MANCHESTER
YH = arc_pb2.ARC_YORKSHIRE_AND_HUMBER
WAIT_SECONDS = 30.0


def wait_until(check: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    """Poll ``check`` until it returns something truthy (events take a moment to apply)."""
    return harness_eventually(check, what, timeout, interval=0.05)


def above_every_earlier_version() -> int:
    """A project version higher than any a test published before (microseconds)."""
    return time.time_ns() // 1000


def new_site(name: str, arc: int) -> project_pb2.Site:
    return project_pb2.Site(id=str(uuid.uuid4()), name=name, organisation_name=name,
                            organisation_type=organisation_pb2.ORGANISATION_TYPE_NHS_TRUST,
                            arc=arc)


class Evaluation:
    """A running evaluation service and the test's producer."""

    new_site = staticmethod(new_site)
    above_every_earlier_version = staticmethod(above_every_earlier_version)

    def __init__(self, runtime, channel: grpc.Channel, producer) -> None:
        self.runtime = runtime
        self.channel = channel
        self._producer = producer

    def api(self, role: str = "national_admin", arc: str | None = None) -> Caller:
        return caller(self.channel, evaluation_pb2_grpc.EvaluationServiceStub, role, arc)

    def publish(self, topic: str, key: str, message, source: str) -> None:
        publish(self._producer, [new_event(topic=topic, key=key, source=source, subject=key,
                                           message=message)])

    # -- project-tracking's side

    def publish_project(self, project: project_pb2.Project,
                        event_class=project_events_pb2.ProjectCreated) -> None:
        self.publish(PROJECT_TOPIC, project.id, event_class(project=project),
                     "/mhin/project-tracking")

    def sites_of(self, project_id: str) -> evaluation_pb2.GetProjectSitesResponse | None:
        try:
            return self.api().GetProjectSites(
                evaluation_pb2.GetProjectSitesRequest(project_id=project_id))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise

    def wait_for_project(self, project_id: str,
                         version: int) -> evaluation_pb2.GetProjectSitesResponse:
        def applied():
            known = self.sites_of(project_id)
            return known if known and known.project_version >= version else None

        return wait_until(applied, f"project {project_id} version {version}")

    def project(self, project_id: str | None = None, *, version: int = 1,
                sites: tuple[tuple[str, int], ...] = (("Oldham", GM), ("Leeds", YH)),
                ) -> project_pb2.Project:
        """A project with sites, published and known to the service."""
        project = project_pb2.Project(
            id=project_id or f"test-project-{uuid.uuid4().hex[:12]}",
            name="Test project", arcs=[GM, YH], version=version,
            sites=[new_site(name, arc) for name, arc in sites])
        self.publish_project(project)
        self.wait_for_project(project.id, version)
        return project

    def define_measure(self, project_id: str, caller: Caller | None = None,
                       **changes: Any) -> measure_definition_pb2.MeasureDefinition:
        fields: dict[str, Any] = {
            "id": f"test-{uuid.uuid4().hex[:12]}",
            "project_id": project_id,
            "title": "Referrals from minority ethnic communities",
            "tag": measure_definition_pb2.MeasureTag(
                re_aim=measure_definition_pb2.RE_AIM_DIMENSION_REACH),
            "type": measure_pb2.MEASURE_TYPE_PROPORTION,
            "numerator": "Referrals of people from minority ethnic groups",
            "denominator": "All referrals",
            "multiplier": 100,
            "direction": measure_pb2.DIRECTION_UP,
            "frequency": measure_definition_pb2.FREQUENCY_MONTHLY,
            "stratifiers": [measure_definition_pb2.STRATIFIER_ETHNICITY],
        }
        fields.update(changes)
        request = evaluation_pb2.DefineMeasureRequest(
            measure=measure_definition_pb2.MeasureDefinition(**fields))
        return (caller or self.api()).DefineMeasure(request).measure

    def wait_for_measures(self, *measure_ids: str
                          ) -> list[measure_definition_pb2.MeasureDefinition]:
        """The measures once the service knows them all (an ARC's instance learns them
        from the national instance's measure topic)."""
        def known(measure_id: str) -> measure_definition_pb2.MeasureDefinition | None:
            try:
                return self.api("viewer").GetMeasure(
                    evaluation_pb2.GetMeasureRequest(measure_id=measure_id)).measure
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    return None
                raise

        return [wait_until(lambda m=m: known(m), f"measure {m}") for m in measure_ids]

    # -- the stream processors' side

    def publish_aggregate(self, measure_id: str, level: int, unit: str, period: str,
                          numerator: float, denominator: float, *, stratum: str = "",
                          owner_arc: str = "", cells: int = 1,
                          measure_type: int = measure_pb2.MEASURE_TYPE_PROPORTION) -> None:
        level_name = aggregate_events_pb2.Level.Name(level).removeprefix("LEVEL_")
        message = aggregate_events_pb2.AggregateUpdated(
            measure_id=measure_id, level=level, unit=unit, owner_arc=owner_arc, period=period,
            stratum=stratum, numerator=numerator, denominator=denominator,
            value=numerator / denominator * 100 if denominator else 0.0,
            has_value=bool(denominator), observation_count=cells, measure_type=measure_type,
            computed_at=timestamp(datetime.now(UTC)))
        key = AggregateKey(measure_id, Level[level_name], unit, period, stratum).text
        event = new_event(topic=AGGREGATE_TOPIC, key=key, source="/mhin/stream-processors",
                          subject=key, message=message)
        # All of a test's aggregates on one partition, which is consumed in order: once
        # the last one is read back, every earlier one has been applied too.
        self._producer.send(event.topic, key=key.encode(), value=event.data,
                            headers=event.headers(), partition=0).get(timeout=30)

    def wait_for_aggregate(self, series: evaluation_pb2.SeriesKey, period: str,
                           numerator: float) -> evaluation_pb2.Aggregate:
        """The aggregate once the read model holds it with ``numerator`` (as seen in full)."""
        def applied():
            try:
                found = self.api().GetAggregate(
                    evaluation_pb2.GetAggregateRequest(series=series, period=period)).aggregate
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    return None
                raise
            return found if found.numerator == numerator else None

        return wait_until(applied, f"aggregate {series} {period} = {numerator}")


@pytest.fixture
def producer(kafka_bootstrap):
    producer = create_producer(kafka_bootstrap, client_id="evaluation-tests")
    yield producer
    producer.close()


@pytest.fixture
def start_evaluation(kafka_bootstrap, declared_topics_created, producer):
    """Starts the service on a database and consumer groups of the caller's choosing
    (the same ones again: a restart), with any other settings (instance_arc: an ARC's
    own instance)."""

    @contextmanager
    def start(database_url: str, instance: str, **settings: Any) -> Iterator[Evaluation]:
        with running_service(DEFINITION, database_url=database_url,
                             kafka_bootstrap=kafka_bootstrap,
                             service_name=instance, **settings) as runtime:
            with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
                yield Evaluation(runtime, channel, producer)

    return start


@pytest.fixture
def evaluation(tmp_path, start_evaluation) -> Iterator[Evaluation]:
    # Its own consumer groups: the read models start from the topics' beginnings.
    instance = f"evaluation-test-{uuid.uuid4().hex[:8]}"
    with start_evaluation(f"sqlite:///{tmp_path}/evaluation.db", instance) as service:
        yield service


@pytest.fixture(scope="module")
def module_evaluation(tmp_path_factory, kafka_bootstrap, declared_topics_created
                      ) -> Iterator[Evaluation]:
    """One service for a whole module, for tests that share their data (impact
    estimates need series of many periods); impact estimates are recomputed 0.2 s
    after a change, so live ones come quickly."""
    database = tmp_path_factory.mktemp("evaluation") / "evaluation.db"
    producer = create_producer(kafka_bootstrap, client_id="evaluation-module-tests")
    try:
        with running_service(DEFINITION, database_url=f"sqlite:///{database}",
                             kafka_bootstrap=kafka_bootstrap,
                             service_name=f"evaluation-test-{uuid.uuid4().hex[:8]}",
                             impact_debounce_seconds=0.2) as runtime:
            with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
                yield Evaluation(runtime, channel, producer)
    finally:
        producer.close()


@pytest.fixture
def evaluation_on_outage_broker(tmp_path, outage_broker) -> Iterator[Evaluation]:
    """The service on a private broker that the test may kill and restart."""
    bootstrap = outage_broker.bootstrap_servers
    own_producer = create_producer(bootstrap, client_id="evaluation-outage-tests")
    try:
        with running_service(DEFINITION, database_url=f"sqlite:///{tmp_path}/evaluation.db",
                             kafka_bootstrap=bootstrap, service_name="evaluation") as runtime:
            with grpc.insecure_channel(f"127.0.0.1:{runtime.port}") as channel:
                yield Evaluation(runtime, channel, own_producer)
    finally:
        own_producer.close(timeout=5)
