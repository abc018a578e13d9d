"""pytest fixtures for real databases: SQLite files and a real PostgreSQL server.

Fixtures (star-imported by ``mhin_devkit.pytest_plugin``):

``postgres_server_url`` (session)
    SQLAlchemy URL (``postgresql+psycopg://...``) of a PostgreSQL server's maintenance
    database, found in this order:

    1. ``MHIN_TEST_POSTGRES_URL`` when set (any ``postgresql://`` URL of a role that may
       CREATE DATABASE);
    2. a testcontainers ``PostgresContainer`` when a Docker engine answers;
    3. a throwaway ``LocalPostgres`` cluster from the installed server binaries.

    Never skipped: when none of these works the tests that need it fail, saying why.

``database_url`` (function, parametrised ``[sqlite]`` and ``[postgresql]``)
    A fresh, empty database: a new SQLite file under ``tmp_path``, or a newly created,
    uniquely named database on the session server (dropped afterwards). A test that
    takes it runs once per backend.

``postgres_database_url`` (function)
    The PostgreSQL case alone, for tests about PostgreSQL behaviour.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import pytest

from mhin_devkit.postgres import (
    LocalPostgres,
    PostgresUnavailable,
    _with_driver,
    create_database,
    drop_database,
)

__all__ = ["postgres_server_url", "database_url", "postgres_database_url"]

ENV_URL = "MHIN_TEST_POSTGRES_URL"
CONTAINER_IMAGE = os.environ.get("MHIN_TEST_POSTGRES_IMAGE", "postgres:15-alpine")
BACKENDS = ("sqlite", "postgresql")


def _docker_answers(timeout: float = 3.0) -> bool:
    """True when a Docker engine answers a ping quickly; never raises, never hangs long."""
    try:
        import docker
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=timeout)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def _start_container() -> tuple[str, object]:
    try:
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:  # testcontainers < 4.14
        from testcontainers.postgres import PostgresContainer
    container = PostgresContainer(CONTAINER_IMAGE, driver="psycopg")
    container.start()
    return container.get_connection_url(), container


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of a real PostgreSQL server for this test session (see module docstring)."""
    configured = os.environ.get(ENV_URL, "").strip()
    if configured:
        try:
            url = _with_driver(configured)
        except ValueError as exc:
            pytest.fail(f"{ENV_URL} is not a PostgreSQL URL: {exc}", pytrace=False)
        yield url
        return

    problems: list[str] = []
    if _docker_answers():
        try:
            url, container = _start_container()
        except Exception as exc:  # fall through to the local cluster, but keep the reason
            problems.append(f"testcontainers PostgresContainer({CONTAINER_IMAGE}): {exc}")
        else:
            try:
                yield url
            finally:
                container.stop()  # type: ignore[attr-defined]
            return
    else:
        problems.append("no Docker engine answered")

    cluster: LocalPostgres | None = None
    try:
        cluster = LocalPostgres()
    except PostgresUnavailable as exc:
        problems.append(f"local server: {exc}")
    if cluster is None:
        pytest.fail(
            f"No PostgreSQL server for the tests ({ENV_URL} is not set). Tried:\n- "
            + "\n- ".join(problems),
            pytrace=False,
        )
    try:
        yield cluster.url
    finally:
        cluster.stop()


def _database_name(request: pytest.FixtureRequest) -> str:
    """A unique, valid database name that still says which test it belongs to."""
    stem = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower()).strip("_")
    return f"t_{stem[:40]}_{uuid.uuid4().hex[:12]}"


def _fresh_postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    server_url: str = request.getfixturevalue("postgres_server_url")
    name = _database_name(request)
    url = create_database(server_url, name)
    try:
        yield url
    finally:
        drop_database(server_url, name)


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh database: ``[sqlite]`` a new file, ``[postgresql]`` a new server database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite3'}"
    else:
        yield from _fresh_postgres_database(request)


@pytest.fixture
def postgres_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, uniquely named database on the session's PostgreSQL server."""
    yield from _fresh_postgres_database(request)
