"""`make run`'s supervisor restarts a service that is still running but has stopped
answering SERVING, not only one that exited (a real process, a real gRPC port)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from mhin_devkit.harness import eventually
from mhin_devkit.kafka_broker import free_port
from mhin_devkit.supervisor import Child, Supervisor, health
from mhin_platform.processes import ProcessSpec

STALLING_SERVICE = Path(__file__).parents[1] / "support" / "stalling_service.py"


class StallingChild(Child):
    stall_file: Path

    @property
    def argv(self) -> list[str]:
        return [sys.executable, str(STALLING_SERVICE), str(self.spec.grpc_port),
                str(self.stall_file)]



def test_a_service_that_stops_serving_is_stopped_and_restarted(tmp_path, capsys):
    spec = ProcessSpec("stalling-service", "unused", free_port(), 0)
    child = StallingChild(spec, tmp_path / "stalling-service.log")
    child.stall_file = tmp_path / "stall"
    supervisor = Supervisor((spec,), unhealthy_seconds=2.0, ready_seconds=10.0)
    supervisor.children = [child]
    supervisor.env_for = {spec.name: dict(os.environ)}
    child.start(supervisor.env_for[spec.name], supervisor.ready_seconds)
    watching = threading.Thread(target=supervisor.watch, daemon=True)
    watching.start()
    try:
        eventually(lambda: health(child.address) == "SERVING", "the service to serve")
        stalled = child.process
        child.stall_file.write_text(str(stalled.pid))
        eventually(lambda: child.process is not stalled, "the supervisor to restart it")
        assert stalled.poll() is not None, "the stalled process was left running"
        assert child.restarts == 1
        eventually(lambda: health(child.address) == "SERVING", "the restarted service")
    finally:
        supervisor.stopping = True
        watching.join(10)
        child.stop()
    assert "has not answered SERVING" in capsys.readouterr().err
