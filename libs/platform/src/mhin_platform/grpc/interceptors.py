"""Server interceptors every MHIN service runs: logging, metrics, error mapping, auth.

Each one wraps the whole of a call (for streaming responses: until the last
message) in a scope that runs in the worker thread serving the call. gRPC
(>= 1.60) runs the interceptors and the handler of a call in one fresh
``contextvars.Context``, so the principal and correlation id set here are what the
handler sees, and never leak into another call.

Order matters; :func:`server_interceptors` lists them outermost first. Error
mapping sits inside logging and metrics, so those see the final status of every
call, including calls auth refused.
"""

from __future__ import annotations

import logging
import time
import uuid
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import Any

import grpc
from grpc.experimental import wrap_server_method_handler
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection
from pydantic import ValidationError

from mhin.platform.v1.service_info_pb2 import DESCRIPTOR as _SERVICE_INFO_FILE
from mhin_platform.auth import (
    arcs_with_own_instance_var,
    instance_arc_var,
    principal_var,
)
from mhin_platform.errors import (
    AlreadyExists,
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from mhin_platform.logging import correlation_id_var
from mhin_platform.metrics import GRPC_CALL_SECONDS, GRPC_CALLS
from mhin_platform.reference import Arc
from mhin_platform.settings import ServiceSettings
from mhin_platform.tokens import TokenVerifier, Trust

FIELD_METADATA_KEY = "mhin-field"
CORRELATION_ID_METADATA_KEY = "x-correlation-id"

# Health probes come often and carry no token: they bypass every interceptor (a
# wrapper would also hide the non-blocking flag the health Watch handler relies on).
SERVICE_INFO_SERVICE_NAME = _SERVICE_INFO_FILE.services_by_name["ServiceInfoService"].full_name
_UNINTERCEPTED_SERVICES = frozenset({health.SERVICE_NAME})
_UNAUTHENTICATED_SERVICES = frozenset(
    {health.SERVICE_NAME, reflection.SERVICE_NAME, SERVICE_INFO_SERVICE_NAME}
)

_log = logging.getLogger("mhin.grpc")

Scope = Callable[[grpc.ServicerContext], AbstractContextManager[None]]


def server_interceptors(settings: ServiceSettings) -> list[grpc.ServerInterceptor]:
    """The interceptors of a service's server, outermost first."""
    return [
        LoggingInterceptor(),
        MetricsInterceptor(),
        ErrorMappingInterceptor(),
        AuthInterceptor(TokenVerifier(Trust.load(settings.auth_trust), settings.service_name),
                        settings.instance_arc, settings.arcs_with_own_instance),
    ]


class CallScopeInterceptor(grpc.ServerInterceptor):
    """Runs :meth:`call_scope` around each call; subclasses implement it."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None or _service_of(handler_call_details.method) in _UNINTERCEPTED_SERVICES:
            return handler
        scope = partial(self.call_scope, handler_call_details)
        wrap = _wrap_streamed_responses if handler.response_streaming else _wrap_single_response
        return wrap_server_method_handler(partial(wrap, scope=scope), handler)

    @abstractmethod
    def call_scope(
        self, details: grpc.HandlerCallDetails, context: grpc.ServicerContext
    ) -> AbstractContextManager[None]:
        """Entered before the handler runs, left when the call's last response is out."""


class AuthInterceptor(CallScopeInterceptor):
    """Verifies the bearer token and binds the caller to ``principal_var``."""

    def __init__(self, verifier: TokenVerifier, instance_arc: Arc | None = None,
                 arcs_with_own_instance: frozenset[Arc] = frozenset()) -> None:
        self._verifier = verifier
        self._instance_arc = instance_arc
        self._arcs_with_own_instance = arcs_with_own_instance

    @contextmanager
    def call_scope(
        self, details: grpc.HandlerCallDetails, context: grpc.ServicerContext
    ) -> Iterator[None]:
        instance_arc_var.set(self._instance_arc)
        arcs_with_own_instance_var.set(self._arcs_with_own_instance)
        if _service_of(details.method) not in _UNAUTHENTICATED_SERVICES:
            token = _bearer_token(dict(details.invocation_metadata))
            principal_var.set(self._verifier.verify(token))
        yield


class ErrorMappingInterceptor(CallScopeInterceptor):
    """Turns domain errors and validation errors into gRPC statuses, once for all services."""

    @contextmanager
    def call_scope(
        self, details: grpc.HandlerCallDetails, context: grpc.ServicerContext
    ) -> Iterator[None]:
        try:
            yield
        except Exception as exc:
            if context.code() is not None:  # the handler already chose the status
                raise
            code, message, field = _status_for(exc)
            if code is grpc.StatusCode.INTERNAL:
                _log.exception("unexpected error in %s", details.method)
                message += f" (correlation id {correlation_id_var.get()})"
            if field is not None:
                _append_trailing_metadata(context, FIELD_METADATA_KEY, field)
            context.abort(code, message)


class LoggingInterceptor(CallScopeInterceptor):
    """One log line per call; sets the correlation id and returns it in trailing metadata."""

    @contextmanager
    def call_scope(
        self, details: grpc.HandlerCallDetails, context: grpc.ServicerContext
    ) -> Iterator[None]:
        metadata = dict(details.invocation_metadata)
        correlation_id = metadata.get(CORRELATION_ID_METADATA_KEY) or uuid.uuid4().hex
        correlation_id_var.set(correlation_id)

        def log_call(code: grpc.StatusCode, seconds: float) -> None:
            _append_trailing_metadata(context, CORRELATION_ID_METADATA_KEY, correlation_id)
            principal = principal_var.get()
            _log.info(
                "%s %s",
                details.method,
                code.name,
                extra={
                    "method": details.method,
                    "code": code.name,
                    "duration_ms": round(seconds * 1000, 3),
                    "subject": principal.subject if principal else None,
                },
            )

        with _call_outcome(context, log_call):
            yield


class MetricsInterceptor(CallScopeInterceptor):
    """Counts calls by method and status code; times them by method."""

    @contextmanager
    def call_scope(
        self, details: grpc.HandlerCallDetails, context: grpc.ServicerContext
    ) -> Iterator[None]:
        def record(code: grpc.StatusCode, seconds: float) -> None:
            GRPC_CALLS.labels(details.method, code.name).inc()
            GRPC_CALL_SECONDS.labels(details.method).observe(seconds)

        with _call_outcome(context, record):
            yield


_DOMAIN_STATUS: tuple[tuple[type[DomainError], grpc.StatusCode], ...] = (
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
)


def _status_for(exc: Exception) -> tuple[grpc.StatusCode, str, str | None]:
    """The status code, message and (for bad input) field name for an exception."""
    if isinstance(exc, InvalidArgument):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc), exc.field
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "request"
        return grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {first['msg']}", field
    for error_type, code in _DOMAIN_STATUS:
        if isinstance(exc, error_type):
            return code, str(exc), None
    return grpc.StatusCode.INTERNAL, "internal error", None


def _service_of(method: str) -> str:
    """``/pkg.Service/Method`` -> ``pkg.Service``."""
    return method.rsplit("/", 1)[0].lstrip("/")


def _bearer_token(metadata: Mapping[str, str]) -> str:
    authorization = metadata.get("authorization")
    if authorization is None:
        raise Unauthenticated("missing bearer token: send metadata 'authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("authorization metadata must be 'Bearer <token>'")
    return token.strip()


@contextmanager
def _call_outcome(
    context: grpc.ServicerContext, report: Callable[[grpc.StatusCode, float], None]
) -> Iterator[None]:
    """Calls ``report(status, seconds)`` once the call inside has ended, however it ended."""
    started = time.perf_counter()
    raised = True
    try:
        yield
        raised = False
    finally:
        # An exception nothing mapped leaves no code; gRPC reports it as UNKNOWN.
        fallback = grpc.StatusCode.UNKNOWN if raised else grpc.StatusCode.OK
        report(context.code() or fallback, time.perf_counter() - started)


def _append_trailing_metadata(context: grpc.ServicerContext, key: str, value: str) -> None:
    # set_trailing_metadata replaces; keep what the handler or other interceptors set.
    existing = tuple(context.trailing_metadata() or ())
    context.set_trailing_metadata((*existing, (key, value)))


def _wrap_single_response(behavior: Callable[..., Any], scope: Scope) -> Callable[..., Any]:
    def single_response(request: Any, context: grpc.ServicerContext) -> Any:
        with scope(context):
            return behavior(request, context)

    return single_response


def _wrap_streamed_responses(behavior: Callable[..., Any], scope: Scope) -> Callable[..., Any]:
    def streamed_responses(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        with scope(context):
            yield from behavior(request, context)

    return streamed_responses
