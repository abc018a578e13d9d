"""Running real services in tests: a service process's whole runtime in-process on
a real port, a service's migrated database alone, bearer tokens, and a reader that
collects events off real topics."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from kafka import KafkaConsumer, TopicPartition

from mhin_devkit.kafka_broker import repo_root
from mhin_platform.auth import Role
from mhin_platform.db import Database, upgrade
from mhin_platform.events.envelope import Event, event_from_record
from mhin_platform.reference import Arc
from mhin_platform.runtime import ServiceDefinition, ServiceRuntime
from mhin_platform.settings import load_settings
from mhin_platform.tokens import SigningKey, issue_token, publish_issuers

# Test-only issuers: their private keys come from seeds written here, so nothing but
# the tests' own trust file may ever trust them.
TEST_ISSUER = SigningKey.from_seed("mhin-test-national", b"mhin tests: the national issuer")
TEST_ARC_ISSUERS = {
    arc: SigningKey.from_seed(f"mhin-test-{arc.name.lower()}", f"mhin tests: {arc.name}".encode(),
                              arc)
    for arc in (Arc.GREATER_MANCHESTER, Arc.YORKSHIRE_AND_HUMBER)
}


def trust_file_for_tests() -> Path:
    """A trust file (and JWKS) accepting the test issuers, under .cache/test-auth."""
    trust_file = repo_root() / ".cache" / "test-auth" / "trust.json"
    if not trust_file.exists():
        publish_issuers(trust_file.parent, [TEST_ISSUER, *TEST_ARC_ISSUERS.values()])
    return trust_file


def eventually(check: Callable[[], Any], what: str, timeout: float = 60.0,
               interval: float = 0.1) -> Any:
    """The first truthy result of ``check()``, polled until ``timeout``; fails saying
    ``what`` never happened (a wait for a condition, never an assertion about speed)."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting until {what}")
        time.sleep(interval)
    return result


@contextmanager
def running_service(
    definition: ServiceDefinition, *, database_url: str, kafka_bootstrap: str, **settings: object
) -> Iterator[ServiceRuntime]:
    """The service's full runtime (migrations, relay, consumers, gRPC on a free port)."""
    values = {
        "database_url": database_url,
        "kafka_bootstrap_servers": kafka_bootstrap,
        "grpc_port": 0,
        "auth_trust": trust_file_for_tests(),
        "shutdown_grace_seconds": 1.0,
        **settings,
    }
    runtime = ServiceRuntime(definition, load_settings(definition.settings_class, **values))
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


@contextmanager
def migrated_database(definition: ServiceDefinition, database_url: str) -> Iterator[Database]:
    """The service's database at ``database_url``, migrated to its latest schema, for
    tests of its store without the rest of its runtime."""
    upgrade(database_url, definition.migrations)
    database = Database(database_url)
    try:
        yield database
    finally:
        database.dispose()


def bearer(role: Role | str, arc: str | None = None, subject: str = "tester") -> tuple:
    """gRPC call metadata carrying a token for ``role`` (and ``arc``)."""
    token = issue_token(TEST_ISSUER, subject, role, arc)
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Caller:
    """A stub plus the metadata of one principal: ``caller.SubmitNeed(request)``."""

    stub: object
    metadata: tuple

    def __getattr__(self, method: str) -> Callable:
        rpc = getattr(self.stub, method)
        return lambda request, **kw: rpc(request, metadata=self.metadata, timeout=10, **kw)


def caller(channel: grpc.Channel, stub_class: type, role: Role | str,
           arc: str | None = None) -> Caller:
    return Caller(stub_class(channel), bearer(role, arc))


class TopicReader:
    """Reads a topic from the offsets it had when created, so a test sees only the
    events its own actions caused (topics are shared across a test session)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        partitions = self._consumer.partitions_for_topic(topic)
        if not partitions:
            raise AssertionError(f"topic {topic!r} does not exist on the broker")
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        self._consumer.seek_to_end()
        for partition in assigned:  # resolve the lazy seek now, before the test acts
            self._consumer.position(partition)
        self.events: list[Event] = []
        self.records: list = []

    def wait_for(self, predicate: Callable[[list[Event]], bool], timeout: float = 15.0,
                 what: str = "events") -> list[Event]:
        deadline = time.monotonic() + timeout
        while not predicate(self.events):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; saw "
                                     f"{[(e.type, e.key) for e in self.events]}")
            for batch in self._consumer.poll(timeout_ms=200).values():
                for record in batch:
                    self.records.append(record)
                    self.events.append(event_from_record(record.topic, record.key,
                                                         record.value, record.headers))
        return self.events

    def wait_for_count(self, count: int, timeout: float = 15.0) -> list[Event]:
        return self.wait_for(lambda events: len(events) >= count, timeout, f"{count} events")

    def settle(self, seconds: float = 1.5) -> list[Event]:
        """Keep reading for ``seconds``: anything unexpected (a duplicate) shows up."""
        deadline = time.monotonic() + seconds
        self.wait_for(lambda _: time.monotonic() > deadline, seconds + 5, "settling")
        return self.events

    def close(self) -> None:
        self._consumer.close()
