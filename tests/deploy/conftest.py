"""What the deployment tests compare against: the platform's processes as `make run`
starts them, and the workspace packages that provide them."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from mhin_devkit.supervisor import child_env
from mhin_platform.processes import PLATFORM, ProcessSpec

REPO = Path(__file__).resolve().parents[2]
# Set in every deployment though `make run` leaves it at its default: operators
# choose the log level.
DEPLOYMENT_ONLY_VARIABLES = {"MHIN_LOG_LEVEL"}


@dataclass(frozen=True)
class Package:
    name: str
    path: str  # relative to the repository root
    version: str
    dependencies: frozenset[str]
    scripts: frozenset[str]


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _read_package(pyproject: Path) -> Package:
    project = tomllib.loads(pyproject.read_text())["project"]
    return Package(
        name=project["name"],
        path=str(pyproject.parent.relative_to(REPO)),
        version=project["version"],
        dependencies=frozenset(_requirement_name(r) for r in project.get("dependencies", [])),
        scripts=frozenset(project.get("scripts", {})),
    )


WORKSPACE = {
    package.name: package
    for package in map(_read_package, sorted(REPO.glob("*/*/pyproject.toml")))
}


def providing_package(spec: ProcessSpec) -> Package | None:
    """The workspace package whose console script runs ``spec``, if it exists yet."""
    return next((p for p in WORKSPACE.values() if spec.command in p.scripts), None)


def workspace_closure(package: Package) -> set[str]:
    """Paths of ``package`` and every workspace package it needs, directly or not."""
    paths, pending = set(), [package]
    while pending:
        current = pending.pop()
        if current.path not in paths:
            paths.add(current.path)
            pending += [WORKSPACE[name] for name in current.dependencies if name in WORKSPACE]
    return paths


def listen_variable(spec: ProcessSpec) -> str:
    """What a container sets to 0.0.0.0 so that probes and Prometheus reach its ports
    (`make run` keeps the loopback default): a gRPC service's metrics listen where its
    gRPC server does, the web dashboard's where its HTTP server does."""
    if spec.grpc_port:
        return "MHIN_GRPC_HOST"
    return "MHIN_HTTP_HOST" if spec.http_port else "MHIN_METRICS_HOST"


def served_ports(spec: ProcessSpec) -> set[int]:
    """Every port the process listens on."""
    return {port for port in (spec.grpc_port, spec.http_port, spec.metrics_port) if port}


def make_run_variables(spec: ProcessSpec) -> set[str]:
    """The MHIN_* variables `make run` (the supervisor) gives this process."""
    return {name for name in child_env(spec, Path("trust.json")) if name.startswith("MHIN_")}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking ``spec`` runs once per platform process; one also taking
    ``package`` runs once per process whose package is in the workspace already
    (like `make run`, which starts what is installed, such checks apply to a service
    once it has landed)."""
    if "package" in metafunc.fixturenames:
        packaged = [(spec, package) for spec in PLATFORM if (package := providing_package(spec))]
        metafunc.parametrize(("spec", "package"), packaged, ids=[s.name for s, _ in packaged])
    elif "spec" in metafunc.fixturenames:
        metafunc.parametrize("spec", PLATFORM, ids=[spec.name for spec in PLATFORM])
    elif "grpc_service" in metafunc.fixturenames:  # those with a database and tokens
        services = [spec for spec in PLATFORM if spec.grpc_port]
        metafunc.parametrize("grpc_service", services, ids=[spec.name for spec in services])


@pytest.fixture
def deployed_variables(spec: ProcessSpec) -> set[str]:
    """The MHIN_* variables every deployment of ``spec`` sets, no more, no fewer."""
    return make_run_variables(spec) | DEPLOYMENT_ONLY_VARIABLES | {listen_variable(spec)}


@pytest.fixture
def ports(spec: ProcessSpec) -> set[int]:
    """Every port ``spec``'s process listens on."""
    return served_ports(spec)


@pytest.fixture
def listens_on(spec: ProcessSpec) -> str:
    """The variable that makes ``spec``'s container listen on every interface."""
    return listen_variable(spec)


@pytest.fixture
def package_paths(package: Package) -> set[str]:
    """The workspace packages an image of ``package`` must install, and only those."""
    return workspace_closure(package)


@pytest.fixture(scope="session")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())
