"""A real Apache Kafka broker on this machine, from Maven jars, without Docker.

The broker's runtime classpath is resolved from Maven Central by the pom in
``deploy/kafka/`` into ``.cache/kafka/libs``; :class:`LocalBroker` formats KRaft
storage and runs ``kafka.Kafka`` as a single-node broker+controller, then waits
until it answers a metadata request. Used by ``make kafka-jars|kafka-up|kafka-down``::

    python -m mhin_devkit.kafka_broker jars     # resolve the jars (only if the pom changed)
    python -m mhin_devkit.kafka_broker up       # 127.0.0.1:9092, data in .cache/kafka/data
    python -m mhin_devkit.kafka_broker status
    python -m mhin_devkit.kafka_broker down

and by the pytest fixture (:mod:`mhin_devkit.kafka_fixture`), which runs a private
broker on free ports for a test session.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9092
DEFAULT_CONTROLLER_PORT = 9093
MIN_JAVA = 17
STAMP_NAME = ".pom-sha256"


class BrokerError(RuntimeError):
    """The broker could not be fetched, started or stopped; the message says why."""


# --------------------------------------------------------------------------- paths


def _looks_like_root(path: Path) -> bool:
    return (path / "deploy" / "kafka" / "pom.xml").is_file()


def repo_root() -> Path:
    """The workspace root: found from this module's location (editable install) or the cwd."""
    candidates = [Path(__file__).resolve(), Path.cwd().resolve()]
    for start in candidates:
        for path in (start, *start.parents):
            if _looks_like_root(path):
                return path
    raise BrokerError(
        "cannot find the repository root (a folder with deploy/kafka/pom.xml) from "
        f"{Path(__file__).resolve()} or the current directory {Path.cwd()}"
    )


def deploy_dir() -> Path:
    return repo_root() / "deploy" / "kafka"


def cache_dir() -> Path:
    return repo_root() / ".cache" / "kafka"


def jars_dir() -> Path:
    return cache_dir() / "libs"


# --------------------------------------------------------------------------- jars


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pom_hash(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def ensure_jars(*, force: bool = False, quiet: bool = False) -> Path:
    """Resolve the broker's jars into ``.cache/kafka/libs``; return that folder.

    Maven runs only when the folder is missing or the pom changed since the last
    resolve (a stamp holds the pom's hash). The jars are resolved into a temporary
    folder and swapped in whole, under a file lock, so concurrent callers and an
    interrupted download never leave a half-filled classpath.
    """
    pom = deploy_dir() / "pom.xml"
    target = jars_dir()
    stamp = target / STAMP_NAME
    wanted = _pom_hash(pom)
    if not force and stamp.is_file() and stamp.read_text().strip() == wanted:
        return target
    with _file_lock(cache_dir() / ".jars.lock"):
        if not force and stamp.is_file() and stamp.read_text().strip() == wanted:
            return target
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError(
                "Maven (`mvn`) is not on PATH; it resolves the Kafka broker jars from Maven "
                "Central. Install it (Debian/Ubuntu: apt-get install maven; macOS: brew "
                "install maven) or use docker-compose.yml instead."
            )
        staging = target.with_name("libs.partial")
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
            "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        ]  # fmt: skip
        if not quiet:
            print(f"resolving Kafka jars with Maven into {target} ...", file=sys.stderr)
        result = subprocess.run(command, capture_output=True, text=True)
        jars = list(staging.glob("*.jar")) if staging.is_dir() else []
        if result.returncode != 0 or not jars:
            output = (result.stdout + result.stderr).strip().splitlines()
            raise BrokerError(
                f"Maven could not resolve the Kafka jars (exit {result.returncode}): "
                f"{' '.join(command)}\n" + "\n".join(output[-40:])
            )
        (staging / STAMP_NAME).write_text(wanted + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        if not quiet:
            print(f"{len(jars)} jars in {target}", file=sys.stderr)
    return target


# --------------------------------------------------------------------------- java


def find_java() -> str:
    """``$JAVA_HOME/bin/java`` when JAVA_HOME is set, else ``java`` from PATH; must be >= 17."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        java = str(Path(java_home) / "bin" / "java")
        if not os.access(java, os.X_OK):
            raise BrokerError(f"JAVA_HOME={java_home} has no executable bin/java")
    else:
        found = shutil.which("java")
        if found is None:
            raise BrokerError(
                f"Java {MIN_JAVA}+ is needed to run the Kafka broker and `java` is not on "
                "PATH (and JAVA_HOME is not set). Install a JDK/JRE 17 or newer "
                "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless)."
            )
        java = found
    version = java_version(java)
    if version < MIN_JAVA:
        raise BrokerError(
            f"Kafka 4.x needs Java {MIN_JAVA} or newer; {java} is Java {version}. "
            "Point JAVA_HOME at a newer JDK or put one first on PATH."
        )
    return java


def java_version(java: str) -> int:
    """The feature release of a java executable (8 for 1.8.0_x, 17 for 17.0.15)."""
    result = subprocess.run([java, "-version"], capture_output=True, text=True)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if result.returncode != 0 or not match:
        raise BrokerError(f"cannot tell the version of {java}: {result.stderr.strip()}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # 1.8.0_392 -> 8
        major = int(match.group(2))
    return major


# --------------------------------------------------------------------------- probes


def port_is_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def bootstrap_addresses(bootstrap_servers: str) -> list[tuple[str, int]]:
    """``"a:9092,b:9093"`` as ``[("a", 9092), ("b", 9093)]``; a pair without a port or
    with one that is not a number is refused, naming it."""
    addresses = []
    for server in bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bootstrap server {server.strip()!r} is not host:port")
        addresses.append((host.strip("[]"), int(port)))
    return addresses


def broker_answers(bootstrap_servers: str, timeout: float = 5.0) -> bool:
    """True when a Kafka broker at ``bootstrap_servers`` answers a metadata request
    listing at least one broker (kafka-python negotiates API versions first). With
    several ``host:port`` pairs (comma-separated), any one that answers will do."""
    if not any(port_is_open(host, port, timeout=min(timeout, 1.0))
               for host, port in bootstrap_addresses(bootstrap_servers)):
        return False
    from kafka import KafkaAdminClient  # imported late: `jars` and `down` do not need it
    from kafka.errors import KafkaError

    timeout_ms = int(timeout * 1000)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="mhin-broker-probe",
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
        )
    except (KafkaError, OSError):
        return False
    try:
        cluster = admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except (KafkaError, OSError):
        return False
    finally:
        with contextlib.suppress(Exception):
            admin.close()


def wait_for_broker(bootstrap_servers: str, timeout: float) -> bool:
    """Poll :func:`broker_answers` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while not broker_answers(bootstrap_servers, timeout=2.0):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a broker log, after any ERROR/FATAL lines found before them
    (the cause of a failed start is often well above the shutdown noise)."""
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    last_run = max((i for i, line in enumerate(content) if line.startswith("=== ")), default=0)
    content = content[last_run:]
    errors = [line for line in content[:-lines] if re.search(r"\] (ERROR|FATAL) ", line)]
    shown = errors[:10] + (["..."] if errors else []) + content[-lines:]
    return "\n".join(shown)


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (what
    ``StorageTool random-uuid`` prints, without a JVM start)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka avoids ids that look like a CLI flag
            return text


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the broker gets SIGTERM when the process that started it dies
    (a test session killed with -9 does not leave a broker behind)."""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setsid()


# --------------------------------------------------------------------------- broker


class LocalBroker:
    """One Kafka process in KRaft mode, broker and controller together.

    ``start`` formats the storage (once), runs the broker and returns when it answers
    a metadata request; it raises :class:`BrokerError` with the tail of the log if the
    process dies or does not answer in time. ``stop`` sends SIGTERM and falls back to
    SIGKILL. ``attach`` adopts a running broker from its pid (the CLI's ``down``).
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        *,
        jars: Path | None = None,
        heap: str = "512m",
        die_with_parent: bool = False,
    ) -> None:
        self.host = host
        self.jars = jars
        self.heap = heap
        self.die_with_parent = die_with_parent
        self.port: int | None = None
        self.controller_port: int | None = None
        self.data_dir: Path | None = None
        self.log_file: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.startup_seconds: float | None = None

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise BrokerError("the broker has not been started")
        return f"{self.host}:{self.port}"

    # -- configuration

    def _write_config(self, data_dir: Path) -> Path:
        template = (deploy_dir() / "server.properties").read_text()
        values = {
            "HOST": self.host,
            "PORT": str(self.port),
            "CONTROLLER_PORT": str(self.controller_port),
            "LOG_DIRS": str(data_dir / "kraft"),
        }
        text = template
        for name, value in values.items():
            text = text.replace(f"@{name}@", value)
        settings = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        left = re.findall(r"@[A-Z_]+@", "\n".join(settings))
        if left:
            raise BrokerError(f"server.properties has placeholders nothing fills: {left}")
        path = data_dir / "server.properties"
        path.write_text(text)
        return path

    def _format(self, java: str, config: Path, data_dir: Path) -> None:
        """Format KRaft storage once; a data folder keeps its cluster id and ports."""
        state_file = data_dir / "mhin-broker.json"
        meta = data_dir / "kraft" / "meta.properties"
        if meta.is_file() and state_file.is_file():
            state = json.loads(state_file.read_text())
            if state.get("controller_port") != self.controller_port:
                raise BrokerError(
                    f"{data_dir} was formatted for controller port {state.get('controller_port')}, "
                    f"not {self.controller_port} (the standalone KRaft quorum remembers its "
                    "endpoint); use that port or delete the folder"
                )
            return
        cluster_id = new_cluster_id()
        command = [
            java, *self._jvm_common(), "kafka.tools.StorageTool", "format",
            "-t", cluster_id, "-c", str(config), "--standalone", "--ignore-formatted",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise BrokerError(
                f"formatting KRaft storage in {data_dir} failed (exit {result.returncode}):\n"
                + (result.stdout + result.stderr).strip()
            )
        state_file.write_text(
            json.dumps({"cluster_id": cluster_id, "controller_port": self.controller_port})
        )

    def _jvm_common(self) -> list[str]:
        assert self.jars is not None
        return [
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={deploy_dir() / 'log4j2.properties'}",
            "-cp",
            f"{self.jars}/*",
        ]

    # -- lifecycle

    def start(
        self,
        port: int = DEFAULT_PORT,
        controller_port: int = DEFAULT_CONTROLLER_PORT,
        data_dir: Path | str | None = None,
        log_file: Path | str | None = None,
        *,
        timeout: float = 90.0,
        detach: bool = False,
    ) -> LocalBroker:
        """Format (if needed) and run the broker; return once it answers metadata requests.

        ``detach`` puts the broker in its own session so it outlives this process
        (``make kafka-up``); otherwise it is bound to this process.
        """
        began = time.monotonic()
        self.launch(port, controller_port, data_dir, log_file, detach=detach)
        self.wait_until_ready(began + timeout)
        self.startup_seconds = time.monotonic() - began
        return self

    def launch(
        self,
        port: int,
        controller_port: int,
        data_dir: Path | str | None = None,
        log_file: Path | str | None = None,
        *,
        detach: bool = False,
    ) -> None:
        """Format (if needed) and start the broker process without waiting for it (the
        nodes of a cluster must all be running before any can answer)."""
        if self.process is not None and self.process.poll() is None:
            raise BrokerError(f"this broker is already running (pid {self.process.pid})")
        self.port, self.controller_port = port, controller_port
        self.data_dir = Path(data_dir) if data_dir else cache_dir() / "data"
        self.log_file = Path(log_file) if log_file else self.data_dir.parent / "broker.log"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        for busy in (port, controller_port):
            if port_is_open(self.host, busy):
                raise BrokerError(f"{self.host}:{busy} is already in use by another process")

        java = find_java()
        if self.jars is None:
            self.jars = ensure_jars()
        config = self._write_config(self.data_dir)
        self._format(java, config, self.data_dir)
        command = [
            java, f"-Xms{min(256, _megabytes(self.heap))}m", f"-Xmx{self.heap}",
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", *self._jvm_common(),
            "kafka.Kafka", str(config),
        ]  # fmt: skip
        with open(self.log_file, "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=detach,
                preexec_fn=_die_with_parent if (self.die_with_parent and not detach) else None,
            )
        self.pid = self.process.pid

    def wait_until_ready(self, deadline: float) -> None:
        """Return once the broker answers; BrokerError if it dies or ``deadline`` passes."""
        assert self.process is not None and self.log_file is not None
        while True:
            code = self.process.poll()
            if code is not None:
                raise BrokerError(
                    f"the Kafka broker exited with code {code} during start-up; "
                    f"last lines of {self.log_file}:\n{tail(self.log_file)}"
                )
            if broker_answers(self.bootstrap_servers, timeout=2.0):
                return
            if time.monotonic() > deadline:
                log_tail = tail(self.log_file)
                self.stop()
                raise BrokerError(
                    f"the Kafka broker did not answer on {self.bootstrap_servers} in time; "
                    f"last lines of {self.log_file}:\n{log_tail}"
                )
            time.sleep(0.2)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (a clean controlled shutdown), then SIGKILL after ``timeout`` seconds."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(10)
            self.process = None
        elif self.pid is not None and _alive(self.pid):
            _terminate_pid(self.pid, timeout)
        self.pid = None

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would, and wait until it is gone."""
        if self.process is None:
            raise BrokerError("this broker was not started by this process")
        self.process.kill()
        self.process.wait(30)

    def restart(self, *, timeout: float = 90.0) -> LocalBroker:
        """Start the broker again on the same ports and data (after :meth:`kill`)."""
        if self.port is None or self.controller_port is None or self.data_dir is None:
            raise BrokerError("the broker has not been started")
        return self.start(self.port, self.controller_port, self.data_dir, self.log_file,
                          timeout=timeout)

    def __enter__(self) -> LocalBroker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _megabytes(heap: str) -> int:
    match = re.fullmatch(r"(\d+)([mMgG])", heap)
    if not match:
        raise BrokerError(f"heap size {heap!r} is not like 512m or 1g")
    return int(match.group(1)) * (1024 if match.group(2).lower() == "g" else 1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (our own, unreaped child) counts as gone
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        if fields and fields[0] == "Z":
            return False
    return True


def _is_kafka(pid: int) -> bool:
    """Guard against a stale pid file whose pid now belongs to something else."""
    try:
        return b"kafka.Kafka" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return _alive(pid)  # no /proc (macOS): trust the pid file


def _terminate_pid(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.1)


# --------------------------------------------------------------------------- CLI


def _pid_file() -> Path:
    return cache_dir() / "broker.pid"


def _running_pid() -> int | None:
    path = _pid_file()
    try:
        pid = int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if _alive(pid) and _is_kafka(pid):
        return pid
    path.unlink(missing_ok=True)  # stale
    return None


def cmd_jars(args: argparse.Namespace) -> int:
    folder = ensure_jars(force=args.force)
    print(f"Kafka jars ready in {folder}")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    bootstrap = f"{args.host}:{args.port}"
    pid = _running_pid()
    if pid is not None:
        if wait_for_broker(bootstrap, args.timeout):  # it may still be starting
            print(f"Kafka broker already running (pid {pid}) on {bootstrap}")
            return 0
        print(f"Kafka broker pid {pid} runs but does not answer on {bootstrap}", file=sys.stderr)
        return 1
    if broker_answers(bootstrap):
        print(f"a Kafka broker not started by this tool already answers on {bootstrap}; using it")
        return 0
    broker = LocalBroker(args.host)
    try:
        broker.start(
            args.port,
            args.controller_port,
            data_dir=cache_dir() / "data",
            log_file=cache_dir() / "broker.log",
            timeout=args.timeout,
            detach=True,
        )
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _pid_file().write_text(f"{broker.pid}\n")
    print(
        f"Kafka broker up on {bootstrap} (pid {broker.pid}, ready in "
        f"{broker.startup_seconds:.1f}s; data {cache_dir() / 'data'}, log {broker.log_file})"
    )
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    pid = _running_pid()
    if pid is None:
        print("Kafka broker not running")
        return 0
    _terminate_pid(pid, args.timeout)
    _pid_file().unlink(missing_ok=True)
    print(f"Kafka broker (pid {pid}) stopped")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    bootstrap = f"{args.host}:{args.port}"
    pid = _running_pid()
    answers = broker_answers(bootstrap)
    if pid is not None:
        state = "answering" if answers else "NOT answering"
        print(f"Kafka broker running (pid {pid}), {state} on {bootstrap}")
        return 0 if answers else 1
    if answers:
        print(f"no broker started by this tool; another Kafka broker answers on {bootstrap}")
        return 0
    print("Kafka broker not running")
    return 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mhin_devkit.kafka_broker", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    jars = sub.add_parser("jars", help="resolve the broker jars with Maven (if the pom changed)")
    jars.add_argument("--force", action="store_true", help="resolve even if up to date")
    jars.set_defaults(func=cmd_jars)
    for name, func, help_text in (
        ("up", cmd_up, "start the broker (harmless if it runs)"),
        ("down", cmd_down, "stop the broker (harmless if it does not run)"),
        ("status", cmd_status, "say whether the broker runs and answers"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--host", default=DEFAULT_HOST)
        command.add_argument("--port", type=int, default=DEFAULT_PORT)
        command.add_argument("--controller-port", type=int, default=DEFAULT_CONTROLLER_PORT)
        command.add_argument("--timeout", type=float, default=90.0, help="seconds")
        command.set_defaults(func=func)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
