"""`make run`: the whole platform on this machine until Ctrl-C.

Starts the local broker (if it is not running), creates the declared topics, then
every service process of :data:`mhin_platform.processes.PLATFORM` that is installed,
each with its own SQLite database under ``.cache/run/``. Waits until each gRPC
service answers SERVING on the standard health service (and the web dashboard its
/healthz), prints where everything is (the dashboard's URL and a sign-in token),
and watches: a process that dies, or a gRPC service that stops answering SERVING
on its health check, is reported loudly (with the tail of its log) and restarted, a
few times at most. Ctrl-C (or SIGTERM) stops the services
gracefully, then the broker it started. Data stays in ``.cache/`` so the next run
carries on where this one left off.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mhin_devkit import kafka_broker, kafka_cluster
from mhin_devkit.kafka_broker import DEFAULT_HOST, DEFAULT_PORT, broker_answers, cache_dir, tail
from mhin_devkit.kafka_cluster import LocalCluster, cluster_dir
from mhin_devkit.local_auth import ensure_local_auth, signing_key, signing_key_path
from mhin_platform.events.topics import ensure_topics
from mhin_platform.processes import PLATFORM, ProcessSpec, arc_layout, parse_arcs
from mhin_platform.reference import Arc
from mhin_platform.tokens import issue_token

BOOTSTRAP = f"{DEFAULT_HOST}:{DEFAULT_PORT}"
READY_TIMEOUT_SECONDS = 60
MAX_RESTARTS = 5
STOP_GRACE_SECONDS = 15
# A running service not SERVING for this long is stuck: it is stopped and restarted.
UNHEALTHY_SECONDS = 20.0
HEALTH_INTERVAL_SECONDS = 2.0


def script_path(command: str) -> Path:
    """A console script of this virtual environment (it need not be on PATH)."""
    return Path(sys.executable).parent / command


def run_dir() -> Path:
    path = cache_dir().parent / "run"
    (path / "logs").mkdir(parents=True, exist_ok=True)
    return path


def instance_arcs(processes: tuple[ProcessSpec, ...]) -> list[Arc]:
    """The ARCs that run instances of their own in this layout."""
    return sorted({Arc[spec.env["MHIN_INSTANCE_ARC"]] for spec in processes
                   if "MHIN_INSTANCE_ARC" in spec.env}, key=lambda arc: arc.name)


@dataclass
class Child:
    spec: ProcessSpec
    log: Path
    process: subprocess.Popen | None = None
    restarts: int = 0
    # By when a gRPC service must answer SERVING (again) before it counts as stuck.
    serving_due: float = 0.0

    @property
    def running(self) -> subprocess.Popen:
        """The process of a started child."""
        if self.process is None:
            raise RuntimeError(f"{self.spec.name} has not been started")
        return self.process

    @property
    def argv(self) -> list[str]:
        return [str(script_path(self.spec.command))]

    def start(self, env: dict[str, str], ready_seconds: float = READY_TIMEOUT_SECONDS) -> None:
        handle = self.log.open("a")
        self.process = subprocess.Popen(
            self.argv, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.serving_due = time.monotonic() + ready_seconds

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within the grace period."""
        self.terminate()
        self.wait_stopped()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"{self.spec.name} did not stop in {STOP_GRACE_SECONDS}s; killing it",
                  file=sys.stderr)
            self.process.kill()
            self.process.wait()

    def stopped_serving(self, patience: float) -> bool:
        """Whether this gRPC service has not answered SERVING for ``patience`` seconds
        (a process just started has until its ready time for its first answer)."""
        if not self.spec.grpc_port:
            return False
        now = time.monotonic()
        if health(self.address) == "SERVING":
            self.serving_due = now + patience
            return False
        return now > self.serving_due

    @property
    def address(self) -> str:
        return f"{DEFAULT_HOST}:{self.spec.grpc_port}" if self.spec.grpc_port else "-"

    @property
    def url(self) -> str:
        return f"http://{DEFAULT_HOST}:{self.spec.http_port}/"


def child_env(spec: ProcessSpec, trust_file: Path, bootstrap: str = BOOTSTRAP) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MHIN_")}
    env.update(
        MHIN_SERVICE_NAME=spec.name,
        MHIN_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        MHIN_METRICS_PORT=str(spec.metrics_port),
        MHIN_DATA_DIR=str(run_dir() / spec.name),
        **spec.env,
    )
    if spec.grpc_port:  # a gRPC service: its own database, and tokens to check
        env.update(
            MHIN_GRPC_PORT=str(spec.grpc_port),
            MHIN_DATABASE_URL=f"sqlite:///{run_dir() / (spec.name + '.db')}",
            MHIN_AUTH_TRUST=str(trust_file),
        )
    if spec.http_port:  # the web dashboard: its port, and where the gRPC services are
        env.update(MHIN_HTTP_PORT=str(spec.http_port), **service_addresses())
    return env


def service_addresses(processes: tuple[ProcessSpec, ...] = PLATFORM) -> dict[str, str]:
    """MHIN_<SERVICE>_ADDRESS of each national gRPC service, as `make run` places them."""
    return {spec.address_variable: f"{DEFAULT_HOST}:{spec.grpc_port}"
            for spec in processes if spec.grpc_port}


def http_ready(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url + "healthz", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def health(address: str, timeout: float = 1.0) -> str:
    try:
        with grpc.insecure_channel(address) as channel:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    except grpc.RpcError as exc:
        return exc.code().name


def wait_until_serving(children: list[Child]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    def ready(child: Child) -> bool:
        if child.spec.grpc_port:
            return health(child.address) == "SERVING"
        return not child.spec.http_port or http_ready(child.url)

    for child in children:
        while not ready(child):
            if child.running.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{child.spec.name} did not start:\n{tail(child.log)}")
            time.sleep(0.2)


def print_banner(children: list[Child], arcs: list[Arc], bootstrap: str) -> None:
    token = issue_token(signing_key(), "local-admin", "national_admin")
    print("\nMHIN platform is running (Ctrl-C stops it):\n")
    print(f"  {'kafka':<20} {bootstrap}")
    for child in children:
        served = f"http {child.url:<18}" if child.spec.http_port else f"grpc {child.address:<18}"
        print(f"  {child.spec.name:<20} {served} "
              f"metrics :{child.spec.metrics_port}  log {child.log}")
    print("\nUse the CLI from another terminal (a national admin token for this machine):")
    print(f"  export MHIN_TOKEN={token}")
    print("  .venv/bin/mhin --help")
    print("\nTo issue other tokens (mhin token issue), the national issuer's key and, for its")
    print("members, each ARC's own:")
    print(f"  export MHIN_AUTH_SIGNING_KEY={signing_key_path()}")
    for arc in arcs:
        print(f"  # {arc.name}: MHIN_AUTH_SIGNING_KEY={signing_key_path(arc)}")
    for child in children:
        if child.spec.http_port:
            print(f"\nThe dashboard: open {child.url} and sign in with the token above.")
    print(flush=True)


class Supervisor:
    def __init__(self, processes: tuple[ProcessSpec, ...] = PLATFORM, *,
                 unhealthy_seconds: float = UNHEALTHY_SECONDS,
                 ready_seconds: float = READY_TIMEOUT_SECONDS, cluster: bool = False) -> None:
        self.processes = processes
        # a three-node replicated cluster (make run-cluster) instead of one broker
        self.cluster = cluster
        self.bootstrap = LocalCluster(cluster_dir()).bootstrap_servers if cluster else BOOTSTRAP
        self.unhealthy_seconds = unhealthy_seconds
        self.ready_seconds = ready_seconds
        self.stopping = False
        self.started_broker = False
        self.children: list[Child] = []

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def start(self) -> None:
        if broker_answers(self.bootstrap, timeout=2.0):
            print(f"kafka: using the broker already running on {self.bootstrap} (left running)")
        else:
            if (kafka_cluster if self.cluster else kafka_broker).main(["up"]) != 0:
                raise SystemExit("the Kafka broker did not start")
            self.started_broker = True
        ensure_topics(self.bootstrap)
        trust_file = ensure_local_auth(instance_arcs(self.processes))
        self.env_for = {spec.name: child_env(spec, trust_file, self.bootstrap)
                        for spec in self.processes}
        installed = [spec for spec in self.processes if script_path(spec.command).exists()]
        for spec in self.processes:
            if spec not in installed:
                print(f"{spec.name}: not installed ({spec.command}); skipped", file=sys.stderr)
        self.children = [Child(spec, run_dir() / "logs" / f"{spec.name}.log")
                         for spec in installed]
        for child in self.children:
            child.start(self.env_for[child.spec.name])
        wait_until_serving(self.children)
        print_banner(self.children, instance_arcs(self.processes), self.bootstrap)

    def watch(self) -> None:
        next_health_check = 0.0
        while not self.stopping:
            time.sleep(0.5)
            check_health = time.monotonic() >= next_health_check
            if check_health:
                next_health_check = time.monotonic() + HEALTH_INTERVAL_SECONDS
            for child in self.children:
                if self.stopping:
                    break
                code = child.running.poll()
                if code is not None:
                    self._restart(child, f"exited with status {code}")
                elif check_health and child.stopped_serving(self.unhealthy_seconds):
                    self._restart(child, f"has not answered SERVING for "
                                         f"{self.unhealthy_seconds:.0f}s; stopping it")

    def _restart(self, child: Child, what: str) -> None:
        print(f"\n!!! {child.spec.name} {what}; last lines of {child.log}:\n"
              f"{tail(child.log, 20)}\n", file=sys.stderr, flush=True)
        child.stop()
        if child.restarts >= MAX_RESTARTS:
            raise SystemExit(f"{child.spec.name} keeps failing; stopping the platform")
        child.restarts += 1
        print(f"restarting {child.spec.name} ({child.restarts}/{MAX_RESTARTS})",
              file=sys.stderr, flush=True)
        child.start(self.env_for[child.spec.name], self.ready_seconds)

    def stop(self) -> None:
        running = [c for c in self.children if c.process and c.process.poll() is None]
        for child in running:
            child.terminate()
        for child in running:
            child.wait_stopped()
        if self.started_broker:
            (kafka_cluster if self.cluster else kafka_broker).main(["down"])
        print("MHIN platform stopped; data kept in", cache_dir().parent)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--arcs", default="",
        help="also run these ARCs' own instances of the ARC-data services, comma-separated "
             "(e.g. greater-manchester,yorkshire-and-humber)")
    parser.add_argument(
        "--cluster", action="store_true",
        help="run Kafka as a three-node replicated cluster (replication factor 3, "
             "min.insync.replicas 2) instead of one broker")
    args = parser.parse_args(argv)
    supervisor = Supervisor(arc_layout(parse_arcs(args.arcs)), cluster=args.cluster)
    signal.signal(signal.SIGINT, supervisor._on_signal)
    signal.signal(signal.SIGTERM, supervisor._on_signal)
    try:
        supervisor.start()
        supervisor.watch()
    finally:
        supervisor.stop()


if __name__ == "__main__":
    main()
