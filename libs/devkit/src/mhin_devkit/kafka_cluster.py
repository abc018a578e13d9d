"""A replicated Kafka cluster on this machine, from the same jars as the single broker:
three combined broker+controller KRaft nodes on loopback ports, one cluster id, a
static three-voter quorum, replication factor 3 with ``min.insync.replicas=2`` and
unclean leader election off, so a write the cluster acknowledged survives the loss of
any one node. All nodes are launched before any is waited for: a quorum cannot form
from the first node alone. Each node has its own data folder, log and pid.

Used by ``make run-cluster`` (``python -m mhin_devkit.kafka_cluster up|down``) and by
the fault tests, which kill, pause and restart single nodes."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mhin_devkit.kafka_broker import (
    DEFAULT_HOST,
    BrokerError,
    LocalBroker,
    _alive,
    _terminate_pid,
    cache_dir,
    free_port,
    new_cluster_id,
)

SIZE = 3
# Settings of a replicated cluster, over deploy/kafka/server.properties' single-node ones.
REPLICATED = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "unclean.leader.election.enable": "false",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "2",
}
# The node's own id and the quorum replace the single node's.
REPLACED = {"node.id", "controller.quorum.bootstrap.servers", *REPLICATED}


class ClusterNode(LocalBroker):
    """One node of a :class:`LocalCluster`: its id, the quorum's voters, the cluster id."""

    def __init__(self, node_id: int, voters: str, cluster_id: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.node_id = node_id
        self.voters = voters
        self.cluster_id = cluster_id

    def _write_config(self, data_dir: Path) -> Path:
        path = super()._write_config(data_dir)
        kept = [line for line in path.read_text().splitlines()
                if line.partition("=")[0].strip() not in REPLACED]
        settings = {"node.id": str(self.node_id), "controller.quorum.voters": self.voters,
                    **REPLICATED}
        path.write_text("\n".join(kept + [f"{k}={v}" for k, v in settings.items()]) + "\n")
        return path

    def _format(self, java: str, config: Path, data_dir: Path) -> None:
        """Format once with the cluster's id (a static quorum: no --standalone)."""
        if (data_dir / "kraft" / "meta.properties").is_file():
            return
        command = [java, *self._jvm_common(), "kafka.tools.StorageTool", "format",
                   "-t", self.cluster_id, "-c", str(config), "--ignore-formatted"]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise BrokerError(f"formatting node {self.node_id} in {data_dir} failed:\n"
                              + (result.stdout + result.stderr).strip())


class LocalCluster:
    """Three nodes in ``folder``; the folder keeps the cluster id and the ports, so a
    cluster stopped and started again is the same cluster."""

    def __init__(self, folder: Path, *, host: str = DEFAULT_HOST, heap: str = "512m",
                 die_with_parent: bool = True) -> None:
        self.folder = folder
        self.host = host
        state = self._state()
        self.cluster_id: str = state["cluster_id"]
        self.ports: list[tuple[int, int]] = [tuple(pair) for pair in state["ports"]]
        voters = ",".join(f"{number}@{host}:{controller}"
                          for number, (_, controller) in enumerate(self.ports, start=1))
        self.nodes = [ClusterNode(number, voters, self.cluster_id, host=host, heap=heap,
                                  die_with_parent=die_with_parent)
                      for number in range(1, SIZE + 1)]

    def _state(self) -> dict:
        path = self.folder / "cluster.json"
        if not path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            ports = [(free_port(self.host), free_port(self.host)) for _ in range(SIZE)]
            path.write_text(json.dumps({"cluster_id": new_cluster_id(), "ports": ports}))
        return json.loads(path.read_text())

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{self.host}:{port}" for port, _ in self.ports)

    def node(self, node_id: int) -> ClusterNode:
        return self.nodes[node_id - 1]

    def start(self, *, timeout: float = 180.0, detach: bool = False) -> LocalCluster:
        """Launch every node, then wait until each answers and all brokers are known."""
        deadline = time.monotonic() + timeout
        for node, (port, controller) in zip(self.nodes, self.ports, strict=True):
            self._launch(node, port, controller, detach)
        for node in self.nodes:
            node.wait_until_ready(deadline)
        self.wait_for_brokers(SIZE, deadline)
        return self

    def _launch(self, node: ClusterNode, port: int, controller: int, detach: bool) -> None:
        node.launch(port, controller, self.folder / f"node-{node.node_id}",
                    self.folder / f"node-{node.node_id}.log", detach=detach)
        (self.folder / f"node-{node.node_id}.pid").write_text(f"{node.pid}\n")

    def wait_for_brokers(self, count: int, deadline: float) -> None:
        """Wait until the cluster's metadata lists ``count`` live brokers."""
        while len(self.live_brokers()) < count:
            if time.monotonic() > deadline:
                raise BrokerError(f"the cluster did not have {count} brokers in time")
            time.sleep(0.5)

    def live_brokers(self) -> list[int]:
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap_servers,
                                     request_timeout_ms=5_000, bootstrap_timeout_ms=5_000)
        except (KafkaError, OSError):
            return []
        try:
            return sorted(broker["broker_id"] for broker in admin.describe_cluster()["brokers"]
                          if not broker.get("is_fenced"))
        except (KafkaError, OSError):
            return []
        finally:
            admin.close()

    def leader(self, topic: str, partition: int = 0) -> int:
        """The node id leading ``topic``'s ``partition`` now."""
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap_servers,
                                 request_timeout_ms=10_000)
        try:
            (described,) = admin.describe_topics([topic])
        finally:
            admin.close()
        return next(p["leader_id"] for p in described["partitions"]
                    if p["partition_index"] == partition)

    # -- faults

    def kill(self, node_id: int) -> None:
        self.node(node_id).kill()

    def restart(self, *node_ids: int, timeout: float = 120.0) -> None:
        """Start the nodes again, all of them before waiting for any: with two of the
        three controllers down, the first alone may not be let back in before its
        registration times out."""
        for node_id in node_ids:
            port, controller = self.ports[node_id - 1]
            self._launch(self.node(node_id), port, controller, detach=False)
        deadline = time.monotonic() + timeout
        for node_id in node_ids:
            self.node(node_id).wait_until_ready(deadline)

    def pause(self, node_id: int) -> None:
        """SIGSTOP: a hung node, not a dead one."""
        os.kill(self._pid(node_id), signal.SIGSTOP)

    def resume(self, node_id: int) -> None:
        os.kill(self._pid(node_id), signal.SIGCONT)

    def _pid(self, node_id: int) -> int:
        pid = self.node(node_id).pid
        if pid is None:
            raise BrokerError(f"node {node_id} is not running")
        return pid

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _pids(folder: Path) -> list[int]:
    pids = []
    for path in sorted(folder.glob("node-*.pid")):
        try:
            pids.append(int(path.read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            continue
    return [pid for pid in pids if _alive(pid)]


def cluster_dir() -> Path:
    return cache_dir() / "cluster"


def cmd_up(args: argparse.Namespace) -> int:
    folder = cluster_dir()
    if _pids(folder):
        cluster = LocalCluster(folder)
        print(f"Kafka cluster already running on {cluster.bootstrap_servers}")
        return 0
    cluster = LocalCluster(folder, die_with_parent=False)
    try:
        cluster.start(timeout=args.timeout, detach=True)
    except BrokerError as exc:
        cluster.stop()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Kafka cluster up on {cluster.bootstrap_servers} (3 nodes, data {folder})")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    pids = _pids(cluster_dir())
    for pid in pids:
        _terminate_pid(pid, args.timeout)
    print(f"Kafka cluster stopped ({len(pids)} nodes)" if pids else "Kafka cluster not running")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mhin_devkit.kafka_cluster",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in (("up", cmd_up), ("down", cmd_down)):
        command = sub.add_parser(name)
        command.add_argument("--timeout", type=float, default=180.0, help="seconds")
        command.set_defaults(func=func)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
