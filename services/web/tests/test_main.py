"""The web process as deployed: a bad setting stops it naming the variable, and a
follower that cannot follow the topics stops it with a non-zero status (so the
supervisor or Kubernetes restarts it) instead of serving pages that never update."""

from __future__ import annotations

import os
import subprocess
import sys

from mhin_devkit.kafka_broker import free_port

COMMAND = [sys.executable, "-m", "mhin_web.main"]


def environment(**variables: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MHIN_")},
            "MHIN_METRICS_PORT": "0", "MHIN_HTTP_PORT": str(free_port()), **variables}


def test_a_bad_setting_stops_the_process_naming_it():
    result = subprocess.run(COMMAND, env=environment(MHIN_HTTP_PORT="eighty"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "MHIN_HTTP_PORT" in result.stderr


def test_without_a_broker_to_follow_the_process_stops_with_an_error():
    nobody = f"127.0.0.1:{free_port()}"
    result = subprocess.run(COMMAND, env=environment(MHIN_KAFKA_BOOTSTRAP_SERVERS=nobody),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "the topic follower died" in result.stdout + result.stderr
