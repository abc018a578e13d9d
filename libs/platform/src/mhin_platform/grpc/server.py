"""gRPC server bootstrap: what every MHIN service's server has, written once.

A service supplies only a ``register`` callback that adds its servicers and
returns their full service names; :class:`GrpcService` adds the interceptors, the
standard health service, server reflection, the metrics endpoint and graceful
shutdown. A service's ``main()`` is one call to :func:`serve`.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mhin.platform.v1 import service_info_pb2, service_info_pb2_grpc
from mhin_platform.grpc.interceptors import SERVICE_INFO_SERVICE_NAME, server_interceptors
from mhin_platform.logging import configure_logging
from mhin_platform.metrics import start_metrics_server
from mhin_platform.settings import ServiceSettings, SettingsError, load_settings

Register = Callable[[grpc.Server], Iterable[str]]
S = TypeVar("S", bound=ServiceSettings)

_log = logging.getLogger("mhin.grpc")


class ServiceInfoServicer(service_info_pb2_grpc.ServiceInfoServiceServicer):
    """What this process is: name, version, start time, services (for `mhin status`)."""

    def __init__(self, name: str, version: str, services: tuple[str, ...]) -> None:
        started_at = Timestamp()
        started_at.GetCurrentTime()
        self._info = service_info_pb2.GetServiceInfoResponse(
            service_name=name, version=version, started_at=started_at, services=services
        )

    def GetServiceInfo(self, request, context):
        return self._info


class GrpcService:
    """A service's gRPC server, bound at construction and served from :meth:`start`.

    Processes call :meth:`run` (blocks until SIGTERM/SIGINT); tests call
    :meth:`start`, talk to :attr:`port`, then :meth:`stop`.
    """

    def __init__(self, settings: ServiceSettings, register: Register, max_workers: int = 16,
                 version: str = "unknown"):
        self._settings = settings
        self._health = health.HealthServicer()
        self._server = grpc.server(
            ThreadPoolExecutor(max_workers, thread_name_prefix=settings.service_name),
            interceptors=server_interceptors(settings),
        )
        self.service_names = tuple(register(self._server))
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        service_info_pb2_grpc.add_ServiceInfoServiceServicer_to_server(
            ServiceInfoServicer(settings.service_name, version, self.service_names), self._server
        )
        reflection.enable_server_reflection(
            (*self.service_names, health.SERVICE_NAME, reflection.SERVICE_NAME,
             SERVICE_INFO_SERVICE_NAME),
            self._server,
        )
        self.port = self._server.add_insecure_port(f"{settings.grpc_host}:{settings.grpc_port}")
        self.metrics_port: int | None = None

    def start(self) -> GrpcService:
        """Start serving; health answers SERVING for the server ("") and each service."""
        if self._settings.metrics_port:
            self.metrics_port = start_metrics_server(
                self._settings.metrics_port, self._settings.grpc_host
            )
        self._server.start()
        for name in ("", *self.service_names):
            self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        _log.info(
            "serving on %s:%d",
            self._settings.grpc_host,
            self.port,
            extra={"services": self.service_names, "metrics_port": self.metrics_port},
        )
        return self

    def set_not_serving(self) -> None:
        """Tell health checkers this process can no longer do its job (a background
        worker it depends on has died), ahead of the shutdown that follows."""
        for name in ("", *self.service_names):
            self._health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    def wait(self) -> None:
        """Block until the server has stopped."""
        self._server.wait_for_termination()

    def stop(self, grace: float | None = None) -> None:
        """Shut down gracefully: health turns NOT_SERVING first, so health watchers
        (load balancers) stop sending calls; new calls are refused; calls in flight get
        ``grace`` seconds (default ``settings.shutdown_grace_seconds``) to finish."""
        if grace is None:
            grace = self._settings.shutdown_grace_seconds
        _log.info("shutting down, %.1fs grace for calls in flight", grace)
        self._health.enter_graceful_shutdown()
        self._server.stop(grace).wait()

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT (or :meth:`stop` from another thread)."""
        self.start()
        # Python lets only the main thread install signal handlers.
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, self._on_signal)
        self._server.wait_for_termination()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # The handler runs in the main thread, which wait_for_termination() keeps
        # polling, so stopping right here is prompt and needs no extra thread.
        _log.info("received %s", signal.Signals(signum).name)
        self.stop()


def serve(settings_class: type[S], register: Callable[[grpc.Server, S], Iterable[str]]) -> None:
    """The ``main()`` of a gRPC service: load settings, log JSON, serve until signalled.

    A bad environment stops start-up with exit status 1 and a line naming each bad
    variable (logging is not configured yet, as it depends on those settings).
    """
    try:
        settings = load_settings(settings_class)
    except SettingsError as exc:
        sys.exit(str(exc))
    configure_logging(settings.service_name, settings.log_level)
    GrpcService(settings, lambda server: register(server, settings)).run()
