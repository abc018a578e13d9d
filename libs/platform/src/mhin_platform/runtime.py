"""A service process, wired once: settings, JSON logs, the migrated database, the
idempotent producer, the outbox relay, event consumers and the gRPC server.

A service describes itself with a :class:`ServiceDefinition`; its ``main()`` is
``run_service(DEFINITION)``. If the relay or a consumer dies, health turns
NOT_SERVING and the process exits non-zero, so a supervisor or Kubernetes
restarts it and nobody is left with a server that silently stopped publishing.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import packages_distributions, version
from pathlib import Path
from types import FrameType
from typing import Protocol

import grpc
from kafka import KafkaProducer

from mhin_platform.db import Database, upgrade
from mhin_platform.events.consumer import EventConsumer, Handler
from mhin_platform.events.outbox import OutboxRelay
from mhin_platform.events.producer import create_producer
from mhin_platform.grpc.server import GrpcService
from mhin_platform.logging import configure_logging
from mhin_platform.settings import ServiceSettings, SettingsError, load_settings

log = logging.getLogger("mhin.runtime")

WATCHDOG_INTERVAL_SECONDS = 1.0
# How long stopping waits for the background workers together, and then for the
# producer to send what it holds: a broker that is down must not hold up an exit.
WORKERS_STOP_SECONDS = 10.0
PRODUCER_CLOSE_SECONDS = 5.0


@dataclass(frozen=True)
class ConsumerSpec:
    """A consumer group of the service: its name, topics and handlers."""

    name: str
    topics: Sequence[str]
    handlers: Sequence[Handler]


class Worker(Protocol):
    """A background job of a service besides its relay and consumers: started after
    them, stopped before them, and watched like them."""

    name: str

    @property
    def healthy(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class ServiceDefinition:
    settings_class: type[ServiceSettings]
    migrations: Path
    # Adds the servicers; returns their full service names (for health/reflection).
    register: Callable[[grpc.Server, ServiceRuntime], Iterable[str]]
    consumers: Sequence[ConsumerSpec] = ()
    # Loads reference data for this instance (its settings tell, e.g., an ARC's instance
    # from the national one); must be idempotent (it runs at every start).
    seed: Callable[[Database, ServiceSettings], None] | None = None
    # Builds the service's background workers from the wired runtime.
    workers: Sequence[Callable[[ServiceRuntime], Worker]] = ()


class ServiceRuntime:
    def __init__(self, definition: ServiceDefinition, settings: ServiceSettings) -> None:
        self.settings = settings
        upgrade(settings.database_url, definition.migrations)
        self.database = Database(settings.database_url)
        if definition.seed is not None:
            definition.seed(self.database, settings)
        self.producer = create_producer(settings.kafka_bootstrap_servers,
                                        client_id=settings.service_name)
        # The relay owns a producer of its own, which it renews after a failure.
        def relay_producer() -> KafkaProducer:
            return create_producer(settings.kafka_bootstrap_servers,
                                   client_id=f"{settings.service_name}-outbox")

        self.relay = OutboxRelay(self.database, relay_producer(), renew_producer=relay_producer)
        self.consumers = [
            EventConsumer(
                name=f"{settings.service_name}.{spec.name}",
                database=self.database,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                topics=spec.topics,
                handlers=spec.handlers,
                producer=self.producer,
            )
            for spec in definition.consumers
        ]
        self.grpc = GrpcService(settings, lambda server: definition.register(server, self),
                                version=_package_version(definition))
        self.workers = [build(self) for build in definition.workers]
        self.failed = threading.Event()
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        return self.grpc.port

    def start(self) -> ServiceRuntime:
        self.relay.start()
        for consumer in self.consumers:
            consumer.start()
        for worker in self.workers:
            worker.start()
        self.grpc.start()
        threading.Thread(target=self._watch, name="watchdog", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop taking calls, let calls in flight finish, then drain the outbox."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self.grpc.stop()
        for worker in self.workers:
            worker.stop()
        for consumer in self.consumers:
            consumer.request_stop()
        deadline = time.monotonic() + WORKERS_STOP_SECONDS
        for consumer in self.consumers:
            consumer.stop(timeout=max(deadline - time.monotonic(), 0.0))
        self.relay.stop(timeout=max(deadline - time.monotonic(), 0.0))
        self.producer.close(timeout=PRODUCER_CLOSE_SECONDS)
        self.database.dispose()

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT or a worker failure; the process exit status."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
        self.start()
        self.grpc.wait()
        self.stop()
        return 1 if self.failed.is_set() else 0

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        self.grpc.stop()

    def _dead_workers(self) -> list[str]:
        dead = [] if self.relay.healthy else ["outbox relay"]
        dead += [worker.name for worker in self.workers if not worker.healthy]
        return dead + [consumer.name for consumer in self.consumers if not consumer.healthy]

    def _watch(self) -> None:
        while not self._stopped.wait(WATCHDOG_INTERVAL_SECONDS):
            if dead := self._dead_workers():
                log.critical("stopping: background worker(s) died: %s", ", ".join(dead))
                self.failed.set()
                self.grpc.set_not_serving()
                self.grpc.stop()
                return


def _package_version(definition: ServiceDefinition) -> str:
    """The installed version of the distribution that defines the service."""
    top_level = definition.settings_class.__module__.split(".")[0]
    for distribution in packages_distributions().get(top_level, []):
        return version(distribution)
    return "unknown"


def run_service(definition: ServiceDefinition) -> None:
    """A service's ``main()``: a bad environment exits 1 naming each bad variable."""
    try:
        settings = load_settings(definition.settings_class)
    except SettingsError as exc:
        sys.exit(str(exc))
    configure_logging(settings.service_name, settings.log_level)
    sys.exit(ServiceRuntime(definition, settings).run())
