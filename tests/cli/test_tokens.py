"""`mhin token` issues tokens the services accept."""

import json

import click
import grpc
import pytest
from click.testing import CliRunner
from google.protobuf.wrappers_pb2 import StringValue

from mhin_cli.client import connect, readable_rpc_errors
from mhin_cli.main import cli
from mhin_platform.auth import Principal, Role, current_principal, verify_token
from mhin_platform.grpc import GrpcService
from mhin_platform.reference import Arc
from mhin_platform.settings import ServiceSettings, load_settings

SECRET = "test-secret-with-at-least-32-bytes!!"
WHOAMI = "mhin.test.v1.WhoAmI"


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setenv("MHIN_AUTH_SECRET", SECRET)
    return CliRunner()


def issue(runner, *args):
    result = runner.invoke(cli, ["token", "issue", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_issued_token_verifies(runner):
    token = issue(runner, "--role", "arc_member", "--arc", "SOUTH_LONDON", "--subject", "alice")

    assert verify_token(SECRET, token) == Principal("alice", Role.ARC_MEMBER, Arc.SOUTH_LONDON)


def test_json_output_shows_the_claims(runner):
    output = json.loads(issue(runner, "--role", "viewer", "--subject", "bob", "--json"))

    assert verify_token(SECRET, output["token"]).subject == "bob"
    assert output["role"] == "viewer"
    assert output["arc"] is None


def test_arc_member_without_arc_is_a_usage_error(runner):
    result = runner.invoke(cli, ["token", "issue", "--role", "arc_member", "--subject", "a"])

    assert result.exit_code == 2
    assert "needs an ARC" in result.output


def test_missing_secret_names_the_variable(monkeypatch):
    monkeypatch.delenv("MHIN_AUTH_SECRET", raising=False)
    result = CliRunner().invoke(cli, ["token", "issue", "--role", "viewer", "--subject", "a"])

    assert result.exit_code == 1
    assert "MHIN_AUTH_SECRET" in result.output


def test_inspect_shows_whom_a_token_names(runner):
    token = issue(runner, "--role", "national_admin", "--subject", "ada")
    result = runner.invoke(cli, ["token", "inspect", token])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["subject"] == "ada"


def test_inspect_rejects_a_token_signed_with_another_secret(runner, monkeypatch):
    token = issue(runner, "--role", "viewer", "--subject", "a")
    monkeypatch.setenv("MHIN_AUTH_SECRET", "another-secret-of-at-least-32-bytes")
    result = runner.invoke(cli, ["token", "inspect", token])

    assert result.exit_code == 1
    assert "bad signature" in result.output


@pytest.fixture
def whoami_service():
    def whoami(request, context):
        return StringValue(value=current_principal().subject)

    def register(server):
        handler = grpc.unary_unary_rpc_method_handler(
            whoami, StringValue.FromString, StringValue.SerializeToString
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(WHOAMI, {"Ask": handler}),)
        )
        return [WHOAMI]

    settings = load_settings(ServiceSettings, auth_secret=SECRET, grpc_port=0, metrics_port=0)
    service = GrpcService(settings, register).start()
    yield f"127.0.0.1:{service.port}"
    service.stop(grace=0)


def _ask(channel):
    method = channel.unary_unary(
        f"/{WHOAMI}/Ask", StringValue.SerializeToString, StringValue.FromString
    )
    return method(StringValue()).value


def test_client_channel_carries_the_issued_token(runner, whoami_service):
    token = issue(runner, "--role", "viewer", "--subject", "carol")

    with connect(whoami_service, token) as channel:
        assert _ask(channel) == "carol"


def test_client_turns_a_failed_call_into_a_readable_error(whoami_service):
    with connect(whoami_service, "not-a-token") as channel:
        with pytest.raises(
            click.ClickException, match="UNAUTHENTICATED: bearer token is malformed"
        ):
            with readable_rpc_errors():
                _ask(channel)
