"""The suite's results as a table (printed and in docs/performance.md) and as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mhin_bench.figures import Figure

BEGIN = "<!-- bench:begin (written by `make bench`: edit the prose around it, not this) -->"
END = "<!-- bench:end -->"


@dataclass
class Outcome:
    """What became of one benchmark: "ran" (with figures), "skipped" or "failed"."""

    name: str
    status: str
    reason: str = ""
    seconds: float = 0.0
    figures: list[Figure] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "status": self.status, "reason": self.reason,
                "seconds": round(self.seconds, 1),
                "figures": [figure.as_dict() for figure in self.figures]}


@dataclass
class SuiteResult:
    started_at: str
    quick: bool
    machine: dict[str, object]
    settings: dict[str, object]
    load_average_start: list[float]
    load_average_end: list[float] = field(default_factory=list)
    seconds: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def figures(self) -> list[Figure]:
        return [figure for outcome in self.outcomes for figure in outcome.figures]

    def as_dict(self) -> dict[str, object]:
        return {
            "started_at": self.started_at, "seconds": round(self.seconds, 1),
            "quick": self.quick, "machine": self.machine, "settings": self.settings,
            "load_average_start": self.load_average_start,
            "load_average_end": self.load_average_end,
            "benchmarks": [outcome.as_dict() for outcome in self.outcomes],
        }  # fmt: skip


def number(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def table(figures: list[Figure]) -> str:
    lines = [
        "| benchmark | figure | min | median | max | unit | target | verdict | how |",
        "|---|---|--:|--:|--:|---|---|---|---|",
    ]
    for f in figures:
        lines.append(
            f"| {f.benchmark} | {f.name} | {number(f.min)} | {number(f.median)} | "
            f"{number(f.max)} | {f.unit} | {f.target or ''} | {f.verdict} | {f.note} |"
        )
    return "\n".join(lines)


def summary(result: SuiteResult) -> str:
    """The machine, the run and the table, in markdown."""
    machine = result.machine
    packages = ", ".join(f"{name} {v}" for name, v in machine["packages"].items() if v)
    lines = [
        f"Run of {result.started_at} ({result.seconds:.0f} s, commit {machine['git_commit']}"
        f"{', quick sizes' if result.quick else ''}).",
        "",
        f"- Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, "
        f"{machine['os']}",
        f"- Python {machine['python']}; {machine['java']}; Kafka {machine['kafka']} "
        "(a private single-node broker the suite starts)",
        f"- Packages: {packages}",
        f"- Load average (1/5/15 min) at start {result.load_average_start}, at end "
        f"{result.load_average_end}",
        f"- Settings: {json.dumps(result.settings)}",
        "",
        table(result.figures),
    ]
    left_out = [o for o in result.outcomes if o.status != "ran"]
    if left_out:
        lines.append("")
        lines += [f"- {o.name}: {o.status}: {o.reason}" for o in left_out]
    return "\n".join(lines)


def write_json(result: SuiteResult, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = result.started_at.replace(":", "").replace("-", "")
    path = folder / f"{stamp}.json"
    path.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return path


def update_docs(path: Path, text: str) -> None:
    """Replace what lies between the markers (appended at the end if they are missing)."""
    block = f"{BEGIN}\n{text}\n{END}"
    current = path.read_text() if path.exists() else ""
    if BEGIN in current and END in current:
        before, rest = current.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        path.write_text(before + block + after)
    else:
        path.write_text(current.rstrip("\n") + ("\n\n" if current else "") + block + "\n")
