"""Fixtures of the governance tests: the real service on a real port with a real
broker and database, readers of its topics, and a stand-in for project-tracking
that publishes real SelectionProposed events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import NamedTuple

import grpc
import pytest

from mhin.governance.v1 import governance_pb2_grpc
from mhin.projects.v1 import selection_events_pb2
from mhin_devkit.harness import TopicReader, caller, running_service
from mhin_devkit.harness import eventually as harness_eventually
from mhin_governance.consumers import SELECTION_TOPIC
from mhin_governance.main import DEFINITION
from mhin_platform.events.envelope import Event, new_event
from mhin_platform.events.producer import create_producer, publish

# The service without its selection consumer, for tests of the RPCs: only the saga
# tests join the consumer group, so no test waits on another's rebalance.
RPC_ONLY = replace(DEFINITION, consumers=())


class Running(NamedTuple):
    channel: grpc.Channel
    address: str


@pytest.fixture
def start_governance(kafka_bootstrap, declared_topics_created, tmp_path):
    """``start_governance(database_url=..., saga=True)``: a context manager running
    the service (default: on a SQLite file of this test) and yielding a channel to
    it and its address."""

    @contextmanager
    def start(database_url: str = f"sqlite:///{tmp_path}/governance.db",
              saga: bool = True) -> Iterator[Running]:
        with running_service(DEFINITION if saga else RPC_ONLY, database_url=database_url,
                             kafka_bootstrap=kafka_bootstrap) as runtime:
            address = f"127.0.0.1:{runtime.port}"
            with grpc.insecure_channel(address) as channel:
                yield Running(channel, address)

    return start


@pytest.fixture
def governance(start_governance):
    """A channel to the service's RPCs (its selection consumer is not running)."""
    with start_governance(saga=False) as running:
        yield running.channel


@pytest.fixture
def governance_with_saga(start_governance):
    """A channel to the whole service, consuming selection proposals."""
    with start_governance() as running:
        yield running.channel


@pytest.fixture
def as_role():
    """``as_role(channel, role, arc=None)``: the service's stub calling as that principal."""
    return lambda channel, role, arc=None: caller(
        channel, governance_pb2_grpc.GovernanceServiceStub, role, arc)


@pytest.fixture
def topics(kafka_bootstrap):
    """``topics("meeting")``: a reader of ``mhin.governance.meeting`` from now on."""
    readers: list[TopicReader] = []

    def read(name: str) -> TopicReader:
        readers.append(TopicReader(kafka_bootstrap, f"mhin.governance.{name}"))
        return readers[-1]

    yield read
    for reader in readers:
        reader.close()


@pytest.fixture
def project_tracking(kafka_bootstrap) -> Iterator[Callable[..., Event]]:
    """Publishes SelectionProposed as project-tracking does; ``again=event`` sends
    an event already sent (same ce_id: a redelivery)."""
    producer = create_producer(kafka_bootstrap, client_id="test-project-tracking")

    def propose(proposal_id: str = "", *, call_id: str = "call-1", again: Event | None = None,
                **fields) -> Event:
        event = again or new_event(
            topic=SELECTION_TOPIC, key=call_id, source="/mhin/project-tracking",
            subject=call_id, message=selection_events_pb2.SelectionProposed(
                proposal_id=proposal_id, call_id=call_id, **fields))
        publish(producer, [event])
        return event

    yield propose
    producer.close()


def eventually(check: Callable[[], object], what: str, timeout: float = 20.0) -> object:
    """The first truthy result of ``check()``; fails saying ``what`` never happened."""
    return harness_eventually(check, what, timeout)


@pytest.fixture
def wait_until():
    return eventually
