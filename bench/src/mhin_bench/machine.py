"""The machine and software a benchmark ran on, so figures can be compared."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

KEY_PACKAGES = (
    "aiokafka", "kafka-python", "faust-streaming", "grpcio", "protobuf", "SQLAlchemy",
    "pydantic", "mhin-platform", "mhin-needs", "mhin-evaluation", "mhin-aggregator",
)  # fmt: skip


def _first_match(path: str, pattern: str) -> str | None:
    try:
        match = re.search(pattern, Path(path).read_text(), re.MULTILINE)
    except OSError:
        return None
    return match.group(1).strip() if match else None


def cpu_model() -> str:
    return _first_match("/proc/cpuinfo", r"^model name\s*:\s*(.+)$") or platform.processor()


def memory_gib() -> float | None:
    kib = _first_match("/proc/meminfo", r"^MemTotal:\s*(\d+) kB")
    return round(int(kib) / 1024**2, 1) if kib else None


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: how busy the machine was with other work."""
    return [round(value, 2) for value in os.getloadavg()]


def java_description(java: str) -> str:
    result = subprocess.run([java, "-version"], capture_output=True, text=True)
    return (result.stderr or result.stdout).splitlines()[0].strip()


def kafka_version(jars: Path) -> str:
    """The broker's version, from the kafka-clients jar on its classpath."""
    for jar in jars.glob("kafka-clients-*.jar"):
        return jar.stem.removeprefix("kafka-clients-")
    return "unknown"


def package_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in KEY_PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def git_commit(root: Path) -> str:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def describe(java: str, jars: Path, root: Path) -> dict[str, object]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "java": java_description(java),
        "kafka": kafka_version(jars),
        "git_commit": git_commit(root),
        "packages": package_versions(),
    }
