"""A throwaway PostgreSQL cluster for tests and local development, without Docker.

``LocalPostgres`` runs the PostgreSQL server binaries installed on this machine (the
Debian ``postgresql`` package, or any ``initdb``/``postgres`` on PATH): it creates a
cluster in a temporary directory, starts it on a free port of 127.0.0.1 and removes
everything on ``stop()``. The cluster is for throwaway data only: fsync is off and any
local TCP client is trusted.

PostgreSQL refuses to run as root; when this process is root, the server runs as the
``postgres`` system user (which the Debian package creates), falling back to ``nobody``.

    with LocalPostgres() as pg:
        url = pg.create_database("orders")   # postgresql+psycopg://postgres@127.0.0.1:PORT/orders

``python -m mhin_devkit.postgres`` starts one and prints its URL until Ctrl-C.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "LocalPostgres",
    "PostgresUnavailable",
    "create_database",
    "drop_database",
    "find_server_binaries",
]

SUPERUSER = "postgres"
DEBIAN_PACKAGE = "postgresql"
_SERVER_TOOLS = ("initdb", "postgres")
_DEFAULT_ROOTS = ("/usr/lib/postgresql",)
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Unix socket paths are limited to ~107 bytes; keep the socket directory short.
_MAX_SOCKET_DIR = 80


# Clusters still running when the interpreter exits are stopped then.
_RUNNING: weakref.WeakSet[LocalPostgres] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for cluster in list(_RUNNING):
        cluster.stop()


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be found or started."""


def find_server_binaries(
    path: str | None = None, roots: Iterable[str] = _DEFAULT_ROOTS
) -> Path:
    """The directory holding ``initdb`` and ``postgres``.

    Looks on PATH first (symlinks resolved, so /usr/local/bin links to a versioned
    directory work), then in ``<root>/<version>/bin`` for each root, newest version
    first. Raises ``PostgresUnavailable`` naming the Debian package when none is found.
    """
    search_path = os.environ.get("PATH", "") if path is None else path
    for entry in search_path.split(os.pathsep):
        if not entry:
            continue
        initdb = shutil.which("initdb", path=entry)
        if initdb is None:
            continue
        bindir = Path(initdb).resolve().parent
        if _has_server_tools(bindir):
            return bindir
    candidates: list[tuple[tuple[int, ...], Path]] = []
    for root in roots:
        for found in glob.glob(os.path.join(root, "*", "bin")):
            version = os.path.basename(os.path.dirname(found))
            if _has_server_tools(Path(found)):
                candidates.append((_version_key(version), Path(found)))
    if candidates:
        return max(candidates)[1]
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, postgres) were not found on PATH or under "
        f"{', '.join(str(r) + '/*/bin' for r in roots)}. Install them with "
        f"`apt-get install -y {DEBIAN_PACKAGE}` (Debian/Ubuntu), or point the tests at an "
        "existing server with MHIN_TEST_POSTGRES_URL=postgresql://user:password@host:port/db."
    )


def _has_server_tools(bindir: Path) -> bool:
    return all(os.access(bindir / tool, os.X_OK) for tool in _SERVER_TOOLS)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)) or (0,)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


# --- URLs and databases (work against any server, local or not) ---------------------


def _with_driver(url: str) -> str:
    """The URL with SQLAlchemy's psycopg 3 dialect (``postgresql+psycopg://``)."""
    scheme, rest = url.split("://", 1)
    if scheme.split("+", 1)[0] not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    return f"postgresql+psycopg://{rest}"


def _libpq_conninfo(url: str) -> str:
    """A libpq URI psycopg accepts (no SQLAlchemy driver suffix)."""
    return "postgresql://" + url.split("://", 1)[1]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _admin_execute(server_url: str, statement: str) -> None:
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is pinned in requirements.lock
        raise PostgresUnavailable(
            "psycopg (PostgreSQL driver) is not installed: pip install 'psycopg[binary]'"
        ) from exc
    with psycopg.connect(_libpq_conninfo(server_url), autocommit=True, connect_timeout=10) as conn:
        conn.execute(statement)


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server at ``server_url``; return its SQLAlchemy URL."""
    if not _NAME_RE.match(name):
        raise ValueError(f"database name must match {_NAME_RE.pattern}: {name!r}")
    _admin_execute(server_url, f'CREATE DATABASE "{name}"')
    return _with_database(_with_driver(server_url), name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name``, ending any sessions still connected to it."""
    if not _NAME_RE.match(name):
        raise ValueError(f"database name must match {_NAME_RE.pattern}: {name!r}")
    _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the local cluster -----------------------------------------------------------------


class LocalPostgres:
    """A PostgreSQL cluster in a temporary directory, on a free port of 127.0.0.1.

    Starts in the constructor unless ``start=False``. Use as a context manager or call
    ``stop()``; a cluster that fails to start raises ``PostgresUnavailable`` with the
    tail of the server log and leaves nothing behind.
    """

    def __init__(
        self,
        *,
        bindir: str | os.PathLike[str] | None = None,
        start: bool = True,
        startup_timeout: float = 30.0,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.bindir = Path(bindir) if bindir is not None else find_server_binaries()
        self.startup_timeout = startup_timeout
        self.extra_settings = dict(settings or {})
        self.port: int | None = None
        self.dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: BinaryIO | None = None
        self.startup_seconds: float | None = None
        if start:
            self.start()

    # -- public API

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the ``postgres`` database as the superuser."""
        if self.port is None or not self.running:
            raise PostgresUnavailable("LocalPostgres is not running")
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path | None:
        return None if self.dir is None else self.dir / "server.log"

    def create_database(self, name: str) -> str:
        """Create a database; return its SQLAlchemy URL."""
        return create_database(self.url, name)

    def drop_database(self, name: str) -> None:
        drop_database(self.url, name)

    def start(self) -> LocalPostgres:
        if self.running:
            return self
        began = time.monotonic()
        user = self._server_user()
        self.dir = self._make_dir(user)
        try:
            self._initdb(user)
            # A free port can be taken between probing and binding: retry on that only.
            for attempt in range(3):
                self.port = _free_port()
                self._write_config()
                self._spawn(user)
                try:
                    self._wait_ready()
                    break
                except _PortTaken as exc:
                    self._kill()
                    if attempt == 2:
                        message = self._failure("could not bind a free port")
                        raise PostgresUnavailable(message) from exc
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        _RUNNING.add(self)
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then remove the cluster directory."""
        _RUNNING.discard(self)
        proc = self._process
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # "fast" shutdown: abort sessions, no waiting
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGQUIT)  # "immediate"
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __del__(self) -> None:  # last resort: never leave a server behind
        try:
            self.stop()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = f"port={self.port}" if self.running else "stopped"
        return f"<LocalPostgres {self.bindir} {state}>"

    # -- internals

    @staticmethod
    def _server_user() -> pwd.struct_passwd | None:
        """Who runs the server: ourselves, or (as root) the postgres/nobody user."""
        if os.geteuid() != 0:
            return None
        for name in (SUPERUSER, "nobody"):
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        raise PostgresUnavailable(
            "running as root, and PostgreSQL refuses to: no 'postgres' or 'nobody' user to "
            f"run it as (the Debian package {DEBIAN_PACKAGE} creates 'postgres')"
        )

    @staticmethod
    def _make_dir(user: pwd.struct_passwd | None) -> Path:
        base = tempfile.gettempdir()
        if len(base) > _MAX_SOCKET_DIR - 30:
            base = "/tmp"
        path = Path(tempfile.mkdtemp(prefix="mhin-pg-", dir=base))
        (path / "socket").mkdir()
        if user is not None:
            for p in (path, path / "socket"):
                os.chown(p, user.pw_uid, user.pw_gid)
        return path

    def _env(self, user: pwd.struct_passwd | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C", TZ="UTC")
        if user is not None:
            env.update(HOME=str(self.dir), USER=user.pw_name, LOGNAME=user.pw_name)
        return env

    @staticmethod
    def _as_user(user: pwd.struct_passwd | None) -> dict[str, Any]:
        if user is None:
            return {}
        return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def _initdb(self, user: pwd.struct_passwd | None) -> None:
        assert self.dir is not None
        cmd = [
            str(self.bindir / "initdb"),
            "--pgdata", str(self.dir / "data"),
            "--username", SUPERUSER,
            "--auth", "trust",
            "--encoding", "UTF8",
            "--locale", "C",
            "--no-sync",
            "--no-instructions",
        ]
        result = subprocess.run(
            cmd,
            cwd=self.dir,
            env=self._env(user),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
            **self._as_user(user),
        )
        if result.returncode != 0:
            output = "\n".join(result.stdout.decode(errors="replace").splitlines()[-40:])
            raise PostgresUnavailable(
                f"initdb failed (exit {result.returncode}): {' '.join(cmd)}\n{output}"
            )
        # Trust TCP connections from 127.0.0.1 only; nothing else is accepted.
        (self.dir / "data" / "pg_hba.conf").write_text(
            "# mhin_devkit LocalPostgres: throwaway test cluster\n"
            "host all all 127.0.0.1/32 trust\n"
        )

    def _write_config(self) -> None:
        assert self.dir is not None and self.port is not None
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.dir / 'socket'}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "32MB",
            "logging_collector": "off",
            "log_min_messages": "warning",
            "timezone": "'UTC'",
        }
        settings.update(self.extra_settings)
        body = "".join(f"{key} = {value}\n" for key, value in settings.items())
        # postgresql.auto.conf is read last, so these win over postgresql.conf.
        (self.dir / "data" / "postgresql.auto.conf").write_text(body)

    def _spawn(self, user: pwd.struct_passwd | None) -> None:
        assert self.dir is not None
        if self._log_file is not None:
            self._log_file.close()
        self._log_file = open(self.dir / "server.log", "ab")
        self._process = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", str(self.dir / "data")],
            cwd=self.dir,
            env=self._env(user),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, not the server
            **self._as_user(user),
        )

    def _wait_ready(self) -> None:
        assert self._process is not None and self.log_path is not None
        try:
            import psycopg
        except ImportError as exc:  # pragma: no cover
            raise PostgresUnavailable(
                "psycopg (PostgreSQL driver) is not installed: pip install 'psycopg[binary]'"
            ) from exc
        conninfo = f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres"
        deadline = time.monotonic() + self.startup_timeout
        last_error: Exception | None = None
        while True:
            if self._process.poll() is not None:
                if "could not bind" in self.log_path.read_text(errors="replace"):
                    raise _PortTaken()
                raise PostgresUnavailable(
                    self._failure(f"the server exited with code {self._process.returncode}")
                )
            try:
                with psycopg.connect(conninfo, connect_timeout=2) as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError as exc:
                last_error = exc
            if time.monotonic() > deadline:
                raise PostgresUnavailable(
                    self._failure(
                        f"not accepting connections after {self.startup_timeout:.0f}s "
                        f"(last error: {last_error})"
                    )
                )
            time.sleep(0.05)

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None

    def _failure(self, what: str) -> str:
        log = _tail(self.log_path) if self.log_path is not None else "(no log)"
        return (
            f"PostgreSQL ({self.bindir}) failed to start on 127.0.0.1:{self.port}: {what}\n"
            f"--- server log (tail) ---\n{log}"
        )


class _PortTaken(Exception):
    pass


def main() -> None:  # pragma: no cover - manual tool
    with LocalPostgres() as pg:
        print(f"PostgreSQL {pg.bindir} ready in {pg.startup_seconds:.2f}s at {pg.url}", flush=True)
        print("Ctrl-C stops it and removes its data.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
