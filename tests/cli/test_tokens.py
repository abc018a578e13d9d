"""`mhin token` issues tokens the services accept."""

import json

import click
import grpc
import pytest
from click.testing import CliRunner
from google.protobuf.wrappers_pb2 import StringValue

from mhin_cli.client import connect, readable_rpc_errors
from mhin_cli.main import cli
from mhin_devkit.harness import TEST_ARC_ISSUERS, TEST_ISSUER, trust_file_for_tests
from mhin_platform.auth import Principal, Role, current_principal
from mhin_platform.grpc import GrpcService
from mhin_platform.reference import Arc
from mhin_platform.settings import ServiceSettings, load_settings
from mhin_platform.tokens import SigningKey, TokenVerifier, Trust

WHOAMI = "mhin.test.v1.WhoAmI"


def verify_token(token):
    return TokenVerifier(Trust.load(trust_file_for_tests())).verify(token)


@pytest.fixture
def runner(monkeypatch, tmp_path):
    key_file = tmp_path / "national.key.json"
    TEST_ISSUER.save(key_file)
    monkeypatch.setenv("MHIN_AUTH_SIGNING_KEY", str(key_file))
    monkeypatch.setenv("MHIN_AUTH_TRUST", str(trust_file_for_tests()))
    return CliRunner()


def issue(runner, *args):
    result = runner.invoke(cli, ["token", "issue", *args])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_issued_token_verifies(runner):
    token = issue(runner, "--role", "arc_member", "--arc", "SOUTH_LONDON", "--subject", "alice")

    assert verify_token(token) == Principal("alice", Role.ARC_MEMBER, Arc.SOUTH_LONDON)


def test_json_output_shows_the_claims(runner):
    output = json.loads(issue(runner, "--role", "viewer", "--subject", "bob", "--json"))

    assert verify_token(output["token"]).subject == "bob"
    assert output["issuer"] == TEST_ISSUER.issuer
    assert output["role"] == "viewer"
    assert output["arc"] is None


def test_arc_member_without_arc_is_a_usage_error(runner):
    result = runner.invoke(cli, ["token", "issue", "--role", "arc_member", "--subject", "a"])

    assert result.exit_code == 2
    assert "needs an ARC" in result.output


def test_missing_signing_key_names_the_variable(monkeypatch):
    monkeypatch.delenv("MHIN_AUTH_SIGNING_KEY", raising=False)
    result = CliRunner().invoke(cli, ["token", "issue", "--role", "viewer", "--subject", "a"])

    assert result.exit_code == 1
    assert "MHIN_AUTH_SIGNING_KEY" in result.output


def test_an_arc_issuer_key_signs_only_its_own_arcs_members(runner, monkeypatch, tmp_path):
    key_file = tmp_path / "gm.key.json"
    TEST_ARC_ISSUERS[Arc.GREATER_MANCHESTER].save(key_file)
    monkeypatch.setenv("MHIN_AUTH_SIGNING_KEY", str(key_file))
    own = issue(runner, "--role", "arc_member", "--arc", "greater-manchester", "--subject", "g")
    assert verify_token(own).arc is Arc.GREATER_MANCHESTER
    for claim in (["--role", "national_admin"], ["--role", "arc_member", "--arc", "WEST"]):
        result = runner.invoke(cli, ["token", "issue", *claim, "--subject", "g"])
        assert result.exit_code == 2
        assert "signs only GREATER_MANCHESTER's members and viewers" in result.output


def test_new_issuers_are_published_for_services_and_rotate(tmp_path, monkeypatch):
    runner, public = CliRunner(), tmp_path / "public"
    for name, arc, key in (("national", None, "n1"), ("gm", "greater-manchester", "g1"),
                           ("national", None, "n2")):
        result = runner.invoke(cli, ["token", "new-issuer", str(public), "--issuer", name,
                                     "--key", str(tmp_path / f"{key}.key.json"),
                                     *(["--arc", arc] if arc else [])])
        assert result.exit_code == 0, result.output
    trust = Trust.load(public / "trust.json")
    assert [(entry.issuer, entry.arc) for entry in trust.issuers] == [
        ("national", None), ("gm", Arc.GREATER_MANCHESTER)]
    verifier = TokenVerifier(trust)
    monkeypatch.setenv("MHIN_AUTH_TRUST", str(public / "trust.json"))
    for key in ("n1", "n2"):  # the first key and its successor are both published
        monkeypatch.setenv("MHIN_AUTH_SIGNING_KEY", str(tmp_path / f"{key}.key.json"))
        token = issue(runner, "--role", "national_admin", "--subject", key)
        assert verifier.verify(token).subject == key
    again = runner.invoke(cli, ["token", "new-issuer", str(public), "--issuer", "x",
                                "--key", str(tmp_path / "n1.key.json")])
    assert again.exit_code == 1 and "never overwritten" in again.output


def test_inspect_shows_whom_a_token_names(runner):
    token = issue(runner, "--role", "national_admin", "--subject", "ada")
    result = runner.invoke(cli, ["token", "inspect", token])

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["subject"] == "ada"


def test_inspect_rejects_a_token_signed_with_another_key(runner, monkeypatch, tmp_path):
    impostor = tmp_path / "impostor.key.json"
    SigningKey.generate(TEST_ISSUER.issuer).save(impostor)  # same issuer name, other key
    monkeypatch.setenv("MHIN_AUTH_SIGNING_KEY", str(impostor))
    token = issue(runner, "--role", "viewer", "--subject", "a")
    result = runner.invoke(cli, ["token", "inspect", token])

    assert result.exit_code == 1
    assert "which issuer 'mhin-test-national' does not publish" in result.output


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

    settings = load_settings(ServiceSettings, auth_trust=trust_file_for_tests(), grpc_port=0,
                             metrics_port=0)
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
