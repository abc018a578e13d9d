"""A platform process the benchmarks start as deployed: its own interpreter, its
configuration in ``MHIN_*`` variables, its output in a log file."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from mhin_bench.context import BenchError
from mhin_devkit.kafka_broker import _die_with_parent
from mhin_devkit.supervisor import health, script_path

STOP_TIMEOUT_SECONDS = 30.0
READY_TIMEOUT_SECONDS = 120.0


class ServiceProcess:
    def __init__(self, command: str, settings: dict[str, str], log: Path) -> None:
        self.command = command
        self.environment = {**os.environ,
                            **{f"MHIN_{name.upper()}": v for name, v in settings.items()}}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                [str(script_path(self.command))], env=self.environment,
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # a killed suite leaves no worker behind
            )  # fmt: skip

    def wait_until_serving(self, address: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while health(address) != "SERVING":
            self.check_alive()
            if time.monotonic() > deadline:
                raise BenchError(f"{self.command} is not SERVING on {address}; log {self.log}")
            time.sleep(0.2)

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            output = self.log.read_text(errors="replace")[-3000:]
            raise BenchError(f"{self.command} exited with {self.process.returncode}:\n{output}")

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), SIGKILL if it takes too long."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self) -> ServiceProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
