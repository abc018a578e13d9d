"""A bad environment stops start-up with a message naming the variable."""

import os
import subprocess
import sys

import pytest

from mhin_aggregator.settings import AggregatorSettings
from mhin_devkit.harness import trust_file_for_tests
from mhin_platform.settings import ProcessSettings, ServiceSettings, SettingsError, load_settings

TRUST = str(trust_file_for_tests())

# A service main() with nothing registered: settings are loaded before any binding.
SERVICE_MAIN = (
    "from mhin_platform.grpc import serve\n"
    "from mhin_platform.settings import ServiceSettings\n"
    "serve(ServiceSettings, lambda server, settings: [])\n"
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in os.environ:
        if name.startswith("MHIN_"):
            monkeypatch.delenv(name)


def test_valid_environment_loads(monkeypatch):
    monkeypatch.setenv("MHIN_AUTH_TRUST", TRUST)
    monkeypatch.setenv("MHIN_GRPC_PORT", "50051")

    assert load_settings(ServiceSettings).grpc_port == 50051


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("MHIN_AUTH_TRUST", TRUST)
    monkeypatch.setenv("MHIN_GRPC_PORT", "notaport")

    with pytest.raises(SettingsError, match="MHIN_GRPC_PORT"):
        load_settings(ServiceSettings)


def test_missing_trust_file_names_the_variable():
    with pytest.raises(SettingsError, match="MHIN_AUTH_TRUST: is required"):
        load_settings(ServiceSettings)


def test_an_unusable_trust_file_names_the_variable_and_the_problem(monkeypatch, tmp_path):
    monkeypatch.setenv("MHIN_AUTH_TRUST", str(tmp_path / "nowhere.json"))
    with pytest.raises(SettingsError, match="MHIN_AUTH_TRUST: .*is not a valid trust file"):
        load_settings(ServiceSettings)


def test_a_process_without_grpc_needs_no_trust_file(monkeypatch):
    monkeypatch.setenv("MHIN_METRICS_PORT", "9456")

    assert load_settings(ProcessSettings).metrics_port == 9456
    assert not {"auth_trust", "database_url", "grpc_port"} & set(ProcessSettings.model_fields)


def test_the_stream_processors_need_no_trust_file_and_listen_where_told(monkeypatch):
    monkeypatch.setenv("MHIN_METRICS_HOST", "0.0.0.0")
    monkeypatch.setenv("MHIN_LOG_LEVEL", "LOUD")

    with pytest.raises(SettingsError) as raised:
        load_settings(AggregatorSettings)
    assert "MHIN_LOG_LEVEL" in str(raised.value) and "AUTH_TRUST" not in str(raised.value)
    monkeypatch.setenv("MHIN_LOG_LEVEL", "DEBUG")
    assert load_settings(AggregatorSettings).metrics_host == "0.0.0.0"


@pytest.mark.parametrize(
    ("environment", "variable"),
    [
        ({"MHIN_AUTH_TRUST": TRUST, "MHIN_GRPC_PORT": "notaport"}, "MHIN_GRPC_PORT"),
        ({}, "MHIN_AUTH_TRUST"),
    ],
)
def test_service_process_refuses_to_start_naming_the_variable(environment, variable):
    env = {name: value for name, value in os.environ.items() if not name.startswith("MHIN_")}
    result = subprocess.run(
        [sys.executable, "-c", SERVICE_MAIN],
        env=env | environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert variable in result.stderr
    assert "Traceback" not in result.stderr
