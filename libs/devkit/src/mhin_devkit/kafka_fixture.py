"""pytest fixtures for a real Kafka broker (never a mock).

``kafka_bootstrap`` (session) gives ``"host:port"`` of, in this order:

1. ``KAFKA_BOOTSTRAP_SERVERS`` when set (a broker someone already runs);
2. an ``apache/kafka`` container through testcontainers, when a Docker engine
   answers (set ``MHIN_TEST_KAFKA=local`` to skip this even with Docker);
3. a private :class:`~mhin_devkit.kafka_broker.LocalBroker` from the Maven jars, on
   free ports with its data in a temporary folder, started once per session.

It never skips: when no broker can be had the tests fail with the reason.

``declared_topics_created`` (session) creates the topics declared in
``mhin_platform/events/topics.toml`` on that broker. ``new_topic`` (function) is a
factory: ``new_topic(partitions=1, dlq=False)`` creates a fresh, uniquely named
topic for one test (and its ``.dlq`` when asked) and returns its name; the topics are
deleted after the test.

``outage_broker`` (function) is a private broker of the test's own, which the test may
kill and restart (``broker.kill()``, ``broker.restart()``) to stage an outage without
touching the session's broker.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from mhin_devkit.kafka_broker import BrokerError, LocalBroker, free_port, wait_for_broker
from mhin_platform.events.topics import CleanupPolicy, TopicSpec, ensure_topics

__all__ = ["kafka_bootstrap", "declared_topics_created", "new_topic", "outage_broker"]

KAFKA_IMAGE = "apache/kafka:4.4.0"  # the same broker as deploy/kafka/pom.xml
STARTUP_TIMEOUT_S = 120.0


def _docker_answers(timeout: float = 2.0) -> bool:
    """True when a Docker engine answers a ping within ``timeout`` seconds."""
    if os.environ.get("MHIN_TEST_KAFKA", "").lower() == "local":
        return False
    if not os.environ.get("DOCKER_HOST") and not Path("/var/run/docker.sock").exists():
        return False
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no engine, no permission, no docker package: not usable
        return False


def container_environment(advertised_host: str, advertised_port: int) -> dict[str, str]:
    """The ``apache/kafka`` image's settings: those of deploy/kafka/server.properties."""
    return {
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{advertised_host}:{advertised_port}",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_NUM_PARTITIONS": "3",
        "KAFKA_DEFAULT_REPLICATION_FACTOR": "1",
        "KAFKA_MIN_INSYNC_REPLICAS": "1",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "6",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS": "6",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR": "1",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_NUM_PARTITIONS": "3",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    }


@contextlib.contextmanager
def _container_broker() -> Iterator[str]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    docker_host = os.environ.get("DOCKER_HOST", "")
    host = urlparse(docker_host).hostname if docker_host.startswith("tcp://") else "localhost"
    host = host or "localhost"
    port = free_port("0.0.0.0")
    container = DockerContainer(KAFKA_IMAGE).with_bind_ports(9092, port)
    for key, value in container_environment(host, port).items():
        container.with_env(key, value)
    container.waiting_for(
        LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(int(STARTUP_TIMEOUT_S))
    )
    container.start()
    try:
        bootstrap = f"{host}:{port}"
        if not wait_for_broker(bootstrap, STARTUP_TIMEOUT_S):
            raise BrokerError(f"the {KAFKA_IMAGE} container does not answer on {bootstrap}")
        yield bootstrap
    finally:
        container.stop()


@contextlib.contextmanager
def _local_broker(folder: Path) -> Iterator[str]:
    broker = LocalBroker(die_with_parent=True)
    try:
        broker.start(
            free_port(),
            free_port(),
            data_dir=folder / "data",
            log_file=folder / "broker.log",
            timeout=STARTUP_TIMEOUT_S,
        )
    except BrokerError as exc:
        broker.stop()
        pytest.fail(f"could not start the local Kafka broker for the tests: {exc}", pytrace=False)
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a real Kafka broker for this test session."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        if not wait_for_broker(external, 30.0):
            pytest.fail(
                f"KAFKA_BOOTSTRAP_SERVERS={external} is set but no Kafka broker answers there",
                pytrace=False,
            )
        yield external
        return
    if _docker_answers():
        try:
            with _container_broker() as bootstrap:
                yield bootstrap
            return
        except Exception as exc:
            pytest.fail(
                f"a Docker engine answers but the {KAFKA_IMAGE} container did not start: {exc}. "
                "Set MHIN_TEST_KAFKA=local to use the local broker from the Maven jars.",
                pytrace=False,
            )
    with _local_broker(tmp_path_factory.mktemp("kafka")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def declared_topics_created(kafka_bootstrap: str) -> dict[str, str]:
    """The declared topics (``topics.toml``) exist on the test broker; returns
    ``{name: "created" | "exists"}``."""

    return ensure_topics(kafka_bootstrap)


def _slug(text: str, limit: int = 80) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit] or "topic"


@pytest.fixture
def new_topic(
    kafka_bootstrap: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., str]]:
    """Factory: ``new_topic(partitions=1, *, dlq=False, cleanup_policy="delete",
    configs=None)`` creates a fresh topic named after the test and returns its name."""

    created: list[str] = []

    def make(
        partitions: int = 1,
        *,
        dlq: bool = False,
        cleanup_policy: CleanupPolicy = "delete",
        configs: dict[str, str] | None = None,
    ) -> str:
        name = f"test.{_slug(request.node.name)}.{uuid.uuid4().hex[:10]}"
        spec = TopicSpec(
            name=name,
            writer="tests",
            readers=("tests",),
            partitions=partitions,
            cleanup_policy=cleanup_policy,
            retention_ms=-1,
            dlq=dlq,
            description=f"test topic of {request.node.nodeid}",
            configs=configs or {},
        )
        created.extend(ensure_topics(kafka_bootstrap, [spec], replication_factor=1))
        return name

    yield make

    if created:
        from kafka import KafkaAdminClient

        with contextlib.suppress(Exception):  # tidy-up only; the broker may be gone
            admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="mhin-tests")
            try:
                admin.delete_topics(created, raise_errors=False)
            finally:
                admin.close()


@pytest.fixture
def outage_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A broker of this test's own, with the declared topics, that it may kill."""

    broker = LocalBroker(die_with_parent=True)
    try:
        broker.start(free_port(), free_port(), data_dir=tmp_path / "broker",
                     log_file=tmp_path / "broker.log", timeout=STARTUP_TIMEOUT_S)
        ensure_topics(broker.bootstrap_servers, replication_factor=1)
    except BrokerError as exc:
        broker.stop()
        pytest.fail(f"could not start a private Kafka broker: {exc}", pytrace=False)
    try:
        yield broker
    finally:
        broker.stop()
