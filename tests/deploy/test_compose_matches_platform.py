"""docker-compose.yml and `make run` start the same platform: a compose service per
process of PLATFORM and none besides, with its command, ports and MHIN_* variables;
started after the topics exist and its database answers; healthy when the standard
gRPC health says SERVING. The health checks and the database init script are run
for real, against a real service and a real PostgreSQL server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from mhin_devkit.harness import running_service
from mhin_devkit.kafka_broker import free_port
from mhin_needs.main import DEFINITION as NEEDS
from mhin_platform.processes import PLATFORM

REPO = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = {"kafka", "topics", "postgres"}
SECRET_VARIABLES = {"MHIN_DATABASE_URL"}
# What only a gRPC service is given.
GRPC_ONLY_VARIABLES = {"MHIN_AUTH_TRUST", "MHIN_DATABASE_URL"}


def service(compose: dict, name: str) -> dict:
    assert name in compose["services"], f"docker-compose.yml has no service {name}"
    return compose["services"][name]


def test_the_compose_services_are_the_platform_and_its_infrastructure(compose):
    assert set(compose["services"]) == {spec.name for spec in PLATFORM} | INFRASTRUCTURE
    commands = {spec.command for spec in PLATFORM}
    for name in INFRASTRUCTURE:
        assert not commands & set(str(service(compose, name).get("command", "")).split())


def test_each_process_runs_its_command_from_its_own_image(compose, spec):
    entry = service(compose, spec.name)
    assert entry["command"] == [spec.command]
    assert entry["build"] == {"context": ".", "dockerfile": f"deploy/docker/{spec.name}.Dockerfile"}


def test_each_image_is_tagged_with_its_package_version(compose, spec, package):
    assert service(compose, spec.name)["image"] == f"mhin/{spec.name}:{package.version}"


def test_each_process_publishes_its_ports_on_loopback_only(compose, spec, ports):
    expected = {f"127.0.0.1:{port}:{port}" for port in ports}
    assert set(service(compose, spec.name)["ports"]) == expected


def test_each_process_gets_the_variables_make_run_gives_it(compose, spec, deployed_variables,
                                                          listens_on):
    environment = service(compose, spec.name)["environment"]
    assert set(environment) == deployed_variables
    assert environment["MHIN_SERVICE_NAME"] == spec.name
    assert environment["MHIN_METRICS_PORT"] == str(spec.metrics_port)
    assert environment.get("MHIN_GRPC_PORT") == (str(spec.grpc_port) if spec.grpc_port else None)
    assert environment[listens_on] == "0.0.0.0"
    for name, value in spec.env.items():
        assert environment[name] == value


def test_secrets_come_from_the_operators_environment(compose, grpc_service):
    environment = service(compose, grpc_service.name)["environment"]
    password = urlsplit(environment["MHIN_DATABASE_URL"]).password
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD(:-)?\}", password)


def test_each_process_reaches_the_broker_on_its_compose_listener(compose, spec):
    bootstrap = service(compose, spec.name)["environment"]["MHIN_KAFKA_BOOTSTRAP_SERVERS"]
    advertised = service(compose, "kafka")["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert bootstrap in [listener.split("://")[1] for listener in advertised.split(",")]
    assert bootstrap.split(":")[0] == "kafka"


def test_processes_without_grpc_get_neither_a_database_nor_token_keys(compose):
    for spec in PLATFORM:
        if not spec.grpc_port:
            assert not set(service(compose, spec.name)["environment"]) & GRPC_ONLY_VARIABLES
            mounts = service(compose, spec.name).get("volumes", [])
            assert not [mount for mount in mounts if "/etc/mhin/auth" in mount]


def test_grpc_services_read_the_issuers_public_keys_only(compose, grpc_service):
    """The trust folder is mounted read-only, from the public half of what make run
    makes (never the private signing keys beside it)."""
    definition = service(compose, grpc_service.name)
    trust = definition["environment"]["MHIN_AUTH_TRUST"]
    (mount,) = definition["volumes"]
    source, target, mode = mount.rsplit(":", 2)
    assert (target, mode) == (str(Path(trust).parent), "ro")
    assert source.endswith("/.cache/run/auth/public}")


def test_each_service_has_its_own_database_created_at_first_start(compose, grpc_service):
    url = urlsplit(service(compose, grpc_service.name)["environment"]["MHIN_DATABASE_URL"])
    assert url.scheme == "postgresql" and url.hostname == "postgres"
    created = service(compose, "postgres")["environment"]["MHIN_DATABASES"].split()
    assert url.path.lstrip("/") in created


def test_databases_are_one_per_service(compose):
    databases = service(compose, "postgres")["environment"]["MHIN_DATABASES"].split()
    urls = [service(compose, spec.name)["environment"]["MHIN_DATABASE_URL"]
            for spec in PLATFORM if spec.grpc_port]
    assert sorted(urlsplit(url).path.lstrip("/") for url in urls) == sorted(databases)


def test_each_process_starts_after_the_topics_exist_and_its_database_answers(compose, spec):
    database = {"postgres": {"condition": "service_healthy"}} if spec.grpc_port else {}
    assert service(compose, spec.name)["depends_on"] == {
        "topics": {"condition": "service_completed_successfully"}, **database}
    assert "healthcheck" in service(compose, "postgres")


def test_each_process_runs_locked_down(compose, spec):
    entry = service(compose, spec.name)
    assert entry["read_only"] is True
    assert entry["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in entry["security_opt"]


def test_health_is_grpc_health_the_web_its_healthz_the_stream_processors_metrics(compose, spec):
    probe = health_command(compose, spec.name)
    uses = ("MHIN_GRPC_PORT" if spec.grpc_port else
            "MHIN_HTTP_PORT" if spec.http_port else "MHIN_METRICS_PORT")
    assert uses in probe[-1]
    assert ("grpc_health" in probe[-1]) == bool(spec.grpc_port)
    assert ("/healthz" in probe[-1]) == bool(spec.http_port)


def test_infrastructure_images_are_pinned_to_exact_versions(compose):
    for name in INFRASTRUCTURE:
        image = service(compose, name)["image"]
        assert re.search(r":\d+(\.\d+)+[\w.-]*(@sha256:[0-9a-f]{64})?$", image), image


# ------------------------------------------------------------------ run for real

def health_command(compose: dict, name: str) -> list[str]:
    """The compose health check's command, run by this interpreter instead of the
    image's `python` (the same packages are installed in this environment)."""
    test = service(compose, name)["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"], test
    return [sys.executable, *test[2:]]


def run_health_check(command: list[str], **variables: str) -> int:
    env = {**os.environ, **variables}
    return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode


@pytest.mark.integration
def test_the_health_checks_pass_on_a_serving_service_and_fail_without_one(
        compose, tmp_path, kafka_bootstrap, declared_topics_created):
    grpc_check = health_command(compose, "needs-intake")
    metrics_check = health_command(compose, "stream-processors")
    with running_service(NEEDS, database_url=f"sqlite:///{tmp_path}/needs.db",
                         kafka_bootstrap=kafka_bootstrap, metrics_port=free_port()) as runtime:
        assert run_health_check(grpc_check, MHIN_GRPC_PORT=str(runtime.port)) == 0
        metrics_port = str(runtime.grpc.metrics_port)
        assert run_health_check(metrics_check, MHIN_METRICS_PORT=metrics_port) == 0
    nobody = str(free_port())
    assert run_health_check(grpc_check, MHIN_GRPC_PORT=nobody) != 0
    assert run_health_check(metrics_check, MHIN_METRICS_PORT=nobody) != 0


@pytest.mark.integration
def test_the_init_script_creates_every_database(compose, postgres_server_url):
    # Unique names, so a shared test server keeps nothing of this run.
    suffix = uuid.uuid4().hex[:8]
    declared = service(compose, "postgres")["environment"]["MHIN_DATABASES"].split()
    databases = [f"{name}_{suffix}" for name in declared]
    server = urlsplit(postgres_server_url)
    env = {**os.environ, "PGHOST": server.hostname, "PGPORT": str(server.port),
           "PGPASSWORD": server.password or "", "POSTGRES_USER": server.username,
           "MHIN_DATABASES": " ".join(databases)}
    script = REPO / "deploy" / "docker" / "postgres" / "create-databases.sh"
    assert os.access(script, os.X_OK), "the postgres image runs only executable *.sh files"
    mounted = f"./{script.relative_to(REPO)}:/docker-entrypoint-initdb.d/{script.name}:ro"
    assert mounted in service(compose, "postgres")["volumes"]
    libpq_url = postgres_server_url.replace("postgresql+psycopg://", "postgresql://")
    try:
        subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True, timeout=60)
        with psycopg.connect(libpq_url) as connection:
            rows = connection.execute("SELECT datname FROM pg_database").fetchall()
        assert set(databases) <= {name for (name,) in rows}
    finally:
        with psycopg.connect(libpq_url, autocommit=True) as connection:
            for name in databases:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
