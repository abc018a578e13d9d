"""The gRPC bootstrap on a real server and a real port.

A small probe service, built from well-known protobuf messages, stands in for a
real service: its handlers validate input with pydantic or raise domain errors,
exactly as service code does.
"""

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct
from google.protobuf.wrappers_pb2 import StringValue
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field

from mhin_devkit.harness import TEST_ISSUER, trust_file_for_tests
from mhin_platform.auth import Role, current_principal, require_write
from mhin_platform.errors import InvalidArgument, NotFound
from mhin_platform.grpc import CORRELATION_ID_METADATA_KEY, FIELD_METADATA_KEY, GrpcService
from mhin_platform.logging import configure_logging
from mhin_platform.reference import Arc
from mhin_platform.settings import ServiceSettings, load_settings
from mhin_platform.tokens import SigningKey, issue_token

TRUST = str(trust_file_for_tests())
SERVICE = "mhin.test.v1.Probe"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class NeedDraft(BaseModel):
    arc: Arc
    title: str = Field(min_length=1)


class Probe:
    """Handlers shaped like a service's: validate, check the caller, answer."""

    KNOWN_NEEDS = {"need-1", "need-2"}

    def __init__(self) -> None:
        self.hold_started = threading.Event()
        self.hold_release = threading.Event()

    def echo(self, request: StringValue, context) -> StringValue:
        if not request.value:
            raise InvalidArgument("value", "must not be empty")
        if request.value == "crash":
            raise RuntimeError("a bug, with internals the caller must not see")
        return StringValue(value=f"{current_principal().subject}: {request.value}")

    def create_need(self, request: Struct, context) -> Struct:
        draft = NeedDraft.model_validate(MessageToDict(request))
        require_write(current_principal(), draft.arc)
        return request

    def submit_needs(self, requests: Iterator[Struct], context) -> StringValue:
        drafts = [NeedDraft.model_validate(MessageToDict(request)) for request in requests]
        return StringValue(value=str(len(drafts)))

    def get_needs(self, request: Struct, context) -> Iterator[StringValue]:
        for need_id in MessageToDict(request)["ids"]:
            if need_id not in self.KNOWN_NEEDS:
                raise NotFound(f"need {need_id!r} does not exist")
            yield StringValue(value=need_id)

    def hold(self, request: StringValue, context) -> StringValue:
        self.hold_started.set()
        self.hold_release.wait(timeout=10)
        return StringValue(value="released")

    def register(self, server: grpc.Server) -> list[str]:
        string, struct = _codec(StringValue), _codec(Struct)
        handlers = {
            "Echo": grpc.unary_unary_rpc_method_handler(self.echo, *string),
            "CreateNeed": grpc.unary_unary_rpc_method_handler(self.create_need, *struct),
            "SubmitNeeds": grpc.stream_unary_rpc_method_handler(
                self.submit_needs, struct[0], string[1]
            ),
            "GetNeeds": grpc.unary_stream_rpc_method_handler(self.get_needs, struct[0], string[1]),
            "Hold": grpc.unary_unary_rpc_method_handler(self.hold, *string),
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        return [SERVICE]


def _codec(message_type):
    return message_type.FromString, message_type.SerializeToString


def _free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def _settings(**overrides) -> ServiceSettings:
    return load_settings(
        ServiceSettings,
        service_name="probe",
        auth_trust=TRUST,
        grpc_host="127.0.0.1",
        grpc_port=0,
        **overrides,
    )


def _bearer(role=Role.ARC_MEMBER, arc=Arc.SOUTH_LONDON, subject="alice", key=TEST_ISSUER):
    return (("authorization", f"Bearer {issue_token(key, subject, role, arc)}"),)


ALICE = _bearer()


class Stubs:
    def __init__(self, channel: grpc.Channel) -> None:
        string, struct = _codec(StringValue), _codec(Struct)
        self.echo = channel.unary_unary(f"/{SERVICE}/Echo", string[1], string[0])
        self.create_need = channel.unary_unary(f"/{SERVICE}/CreateNeed", struct[1], struct[0])
        self.submit_needs = channel.stream_unary(f"/{SERVICE}/SubmitNeeds", struct[1], string[0])
        self.get_needs = channel.unary_stream(f"/{SERVICE}/GetNeeds", struct[1], string[0])
        self.hold = channel.unary_unary(f"/{SERVICE}/Hold", string[1], string[0])
        self.health = health_pb2_grpc.HealthStub(channel)
        self.reflection = reflection_pb2_grpc.ServerReflectionStub(channel)


@pytest.fixture(scope="module")
def service():
    running = GrpcService(_settings(metrics_port=_free_port()), Probe().register).start()
    yield running
    running.stop(grace=0)


@pytest.fixture(scope="module")
def stubs(service):
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        yield Stubs(channel)


@pytest.fixture
def json_log():
    """Routes the process's logging, as JSON, into a buffer for the test."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("probe", "INFO", stream=buffer)
    yield buffer
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def _need(**fields) -> Struct:
    message = Struct()
    message.update(fields)
    return message


def _rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_health_answers_serving_for_the_server_and_each_service(stubs):
    for name in ("", SERVICE):
        response = stubs.health.Check(health_pb2.HealthCheckRequest(service=name))
        assert response.status == SERVING


def test_reflection_lists_the_services_without_a_token(stubs):
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (response,) = stubs.reflection.ServerReflectionInfo(iter([request]))

    names = {service.name for service in response.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names


def test_call_without_token_is_unauthenticated(stubs):
    error = _rpc_error(stubs.echo, StringValue(value="hi"))

    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "missing bearer token" in error.details()


def test_token_with_bad_signature_is_unauthenticated(stubs):
    impostor = SigningKey.generate(TEST_ISSUER.issuer)  # the issuer's name, not its key
    forged = _bearer(role=Role.NATIONAL_ADMIN, arc=None, key=impostor)
    error = _rpc_error(stubs.echo, StringValue(value="hi"), metadata=forged)

    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "does not publish" in error.details()


def test_valid_token_reaches_the_handler_as_the_current_principal(stubs):
    assert stubs.echo(StringValue(value="hi"), metadata=ALICE).value == "alice: hi"


def test_arc_member_writes_own_arc_but_not_another(stubs):
    stubs.create_need(_need(arc="South London", title="Crisis care"), metadata=ALICE)
    error = _rpc_error(stubs.create_need, _need(arc="Wessex", title="x"), metadata=ALICE)

    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "WESSEX" in error.details()


def test_invalid_model_input_is_invalid_argument_naming_the_field(stubs):
    error = _rpc_error(stubs.create_need, _need(arc="South London", title=""), metadata=ALICE)

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("title: ")
    assert (FIELD_METADATA_KEY, "title") in error.trailing_metadata()


def test_invalid_argument_raised_by_a_handler_names_the_field(stubs):
    error = _rpc_error(stubs.echo, StringValue(value=""), metadata=ALICE)

    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "value: must not be empty"
    assert (FIELD_METADATA_KEY, "value") in error.trailing_metadata()


def test_unexpected_exception_is_internal_without_leaking_internals(stubs):
    error = _rpc_error(stubs.echo, StringValue(value="crash"), metadata=ALICE)

    assert error.code() is grpc.StatusCode.INTERNAL
    assert "internals" not in error.details()
    assert "correlation id" in error.details()


def test_streamed_requests_are_validated_item_by_item(stubs):
    valid = [_need(arc="South London", title=f"Need {n}") for n in range(3)]
    assert stubs.submit_needs(iter(valid), metadata=ALICE).value == "3"

    error = _rpc_error(stubs.submit_needs, iter([*valid, _need(arc="Wessex")]), metadata=ALICE)
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "title" in error.details()


def test_error_in_the_middle_of_a_response_stream_keeps_its_status(stubs):
    responses = stubs.get_needs(_need(ids=["need-1", "need-9"]), metadata=ALICE)

    assert next(responses).value == "need-1"
    with pytest.raises(grpc.RpcError) as caught:
        next(responses)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert "need-9" in caught.value.details()


def test_each_call_logs_one_json_line_and_returns_its_correlation_id(stubs, json_log):
    metadata = (*ALICE, (CORRELATION_ID_METADATA_KEY, "corr-123"))
    _, call = stubs.echo.with_call(StringValue(value="hi"), metadata=metadata)

    assert (CORRELATION_ID_METADATA_KEY, "corr-123") in call.trailing_metadata()
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    (line,) = [line for line in lines if line.get("correlation_id") == "corr-123"]
    assert line["method"] == f"/{SERVICE}/Echo"
    assert line["code"] == "OK"
    assert line["subject"] == "alice"
    assert line["service"] == "probe"
    assert line["duration_ms"] >= 0


def test_metrics_endpoint_counts_calls_by_method_and_code(service, stubs):
    stubs.echo(StringValue(value="hi"), metadata=ALICE)
    _rpc_error(stubs.echo, StringValue(value="hi"))

    url = f"http://127.0.0.1:{service.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        exposition = response.read().decode()

    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }
    method = ("method", f"/{SERVICE}/Echo")
    assert samples[("mhin_grpc_server_calls_total", (("code", "OK"), method))] >= 1
    assert samples[("mhin_grpc_server_calls_total", (("code", "UNAUTHENTICATED"), method))] >= 1
    assert samples[("mhin_grpc_server_call_duration_seconds_count", (method,))] >= 2


def test_graceful_stop_turns_health_not_serving_and_lets_calls_in_flight_finish():
    probe = Probe()
    service = GrpcService(_settings(), probe.register).start()
    with (
        grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel,
        ThreadPoolExecutor() as pool,
    ):
        stubs = Stubs(channel)
        watch = stubs.health.Watch(health_pb2.HealthCheckRequest(service=SERVICE))
        assert next(watch).status == SERVING
        in_flight = pool.submit(stubs.hold, StringValue(), metadata=ALICE)
        assert probe.hold_started.wait(timeout=5)

        stopping = pool.submit(service.stop, 10)
        assert next(watch).status == NOT_SERVING
        watch.cancel()
        assert not stopping.done(), "stop must wait for the call in flight"
        probe.hold_release.set()

        assert in_flight.result(timeout=5).value == "released"
        stopping.result(timeout=5)
        error = _rpc_error(stubs.echo, StringValue(value="hi"), metadata=ALICE)
        assert error.code() is grpc.StatusCode.UNAVAILABLE


SERVICE_MAIN = (
    "from mhin_platform.grpc import serve\n"
    "from mhin_platform.settings import ServiceSettings\n"
    "serve(ServiceSettings, lambda server, settings: [])\n"
)


def test_service_process_stops_gracefully_on_sigterm():
    port = _free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("MHIN_")}
    env |= {"MHIN_AUTH_TRUST": TRUST, "MHIN_GRPC_PORT": str(port), "MHIN_SERVICE_NAME": "probe"}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVICE_MAIN], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            request = health_pb2.HealthCheckRequest(service="")
            assert health.Check(request, wait_for_ready=True, timeout=30).status == SERVING
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()

    assert process.returncode == 0
    messages = [json.loads(line)["message"] for line in stderr.splitlines()]
    assert "received SIGTERM" in messages
