"""The images of deploy/docker/, read statically (no Docker engine here to build them):
one Dockerfile per platform process, multi-stage, a base pinned by version and
digest, a non-root user, the process's ports and command, only its own workspace
packages installed with the requirements.lock constraints, and a build context
(.dockerignore) that lets those packages in and nothing private."""

from __future__ import annotations

import json
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mhin_platform.processes import PLATFORM

REPO = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO / "deploy" / "docker"
PINNED_IMAGE = re.compile(r"^[a-z0-9./_-]+:(?P<version>\d[\w.-]*)@sha256:[0-9a-f]{64}$")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [arguments for word, arguments in self.instructions if word == keyword]


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) of each instruction: continuations joined, comments dropped."""
    found, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        found.append((keyword.upper(), arguments.strip()))
        pending = ""
    return found


def stages(text: str) -> list[Stage]:
    """The build stages, each FROM resolved against the ARGs declared before it."""
    args: dict[str, str] = {}
    result: list[Stage] = []
    for keyword, arguments in instructions(text):
        if keyword == "ARG" and not result:
            name, _, default = arguments.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = [word for word in arguments.split() if not word.startswith("--")]
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(base, name))
        else:
            result[-1].instructions.append((keyword, arguments))
    return result


def env(stage: Stage) -> dict[str, str]:
    pairs = [pair for arguments in stage.arguments("ENV") for pair in shlex.split(arguments)]
    return dict(pair.split("=", 1) for pair in pairs)


def copy_sources(stage: Stage) -> list[str]:
    """What a stage copies from the build context (not from another stage)."""
    sources = []
    for arguments in stage.arguments("COPY"):
        words = arguments.split()
        if not any(word.startswith("--from=") for word in words):
            sources += [word for word in words[:-1] if not word.startswith("--")]
    return sources


def installed_packages(stage: Stage) -> list[str]:
    """The workspace packages a stage's `pip install` names; it must be constrained."""
    (command,) = [a for a in stage.arguments("RUN") if "pip install" in a]
    words = shlex.split(command)
    assert "--constraint requirements.lock" in " ".join(words), command
    return [word.removeprefix("./") for word in words if word.startswith("./")]


# ------------------------------------------------------------------ .dockerignore

def _pattern_regex(pattern: str) -> str:
    """A .dockerignore pattern as a regular expression (Go filepath.Match plus `**`)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def excluded_from_context(path: str) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context: the last pattern
    matching the path or one of its parent folders decides; `!` lets it back in."""
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for pattern in patterns:
        regex = _pattern_regex(pattern.removeprefix("!").strip("/"))
        if any(re.fullmatch(regex, prefix) for prefix in prefixes):
            excluded = not pattern.startswith("!")
    return excluded


def test_the_ignore_rules_are_read_as_docker_reads_them():
    assert not excluded_from_context("libs/platform/src/mhin_platform/runtime.py")
    assert excluded_from_context("libs/platform/src/mhin_platform/__pycache__/runtime.pyc")
    assert excluded_from_context("services/needs/tests/test_domain.py")
    assert excluded_from_context("libs/devkit/src/mhin_devkit/harness.py")


def test_nothing_private_or_local_reaches_a_build():
    for path in (".cache/run/auth/mhin-national.key.json", ".venv/bin/python", ".git/config",
                 "needs-intake.db", "services/needs/needs-intake.db", "node_modules/x",
                 "services/needs/src/mhin_needs.egg-info/PKG-INFO"):
        assert excluded_from_context(path), path


# ------------------------------------------------------------------ the images

def dockerfile(name: str) -> list[Stage]:
    return stages((DOCKER_DIR / f"{name}.Dockerfile").read_text())


def test_one_dockerfile_per_platform_process():
    assert {path.name.removesuffix(".Dockerfile") for path in DOCKER_DIR.glob("*.Dockerfile")} \
        == {spec.name for spec in PLATFORM}


def test_every_image_starts_from_the_same_pinned_base():
    bases = {stage.base for spec in PLATFORM for stage in dockerfile(spec.name)}
    assert len(bases) == 1, bases


def test_multi_stage_from_a_base_pinned_by_version_and_digest(spec):
    build_stages = dockerfile(spec.name)
    assert len(build_stages) >= 2
    names = {stage.name for stage in build_stages}
    for stage in build_stages:
        if stage.base in names:
            continue
        pinned = PINNED_IMAGE.match(stage.base)
        assert pinned, f"{stage.base} is not pinned as name:version@sha256:digest"
        # requirements.lock is resolved on this Python; the image must run the same one
        assert pinned["version"].startswith("{}.{}.".format(*sys.version_info[:2]))
    runtime = build_stages[-1]
    assert any(a.startswith(f"--from={build_stages[0].name} ") for a in runtime.arguments("COPY"))
    assert "pip install" not in " ".join(runtime.arguments("RUN"))


def test_the_runtime_runs_as_a_numeric_non_root_user(spec):
    users = dockerfile(spec.name)[-1].arguments("USER")
    assert users, "no USER in the final stage: the process would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0 and (not gid or int(gid) > 0), users[-1]


def test_the_runtime_exposes_and_runs_the_process(spec, ports, listens_on):
    runtime = dockerfile(spec.name)[-1]
    exposed = {int(port) for arguments in runtime.arguments("EXPOSE") for port in arguments.split()}
    assert exposed == ports
    assert json.loads(runtime.arguments("CMD")[-1]) == [spec.command]
    variables = env(runtime)
    assert variables["MHIN_SERVICE_NAME"] == spec.name
    assert variables[listens_on] == "0.0.0.0"
    assert variables["MHIN_METRICS_PORT"] == str(spec.metrics_port)
    assert variables.get("MHIN_GRPC_PORT") == (str(spec.grpc_port) if spec.grpc_port else None)
    assert variables.get("MHIN_HTTP_PORT") == (str(spec.http_port) if spec.http_port else None)


def test_the_image_installs_its_own_workspace_packages_and_no_others(spec, package,
                                                                      package_paths):
    build = dockerfile(spec.name)[0]
    assert set(installed_packages(build)) == package_paths
    assert set(copy_sources(build)) == package_paths | {"requirements.lock"}


def test_what_the_build_copies_is_in_the_build_context(spec, package, package_paths):
    for folder in package_paths:
        files = [REPO / folder / "pyproject.toml", *(REPO / folder / "src").rglob("*.py")]
        for path in files:
            relative = str(path.relative_to(REPO))
            if "__pycache__" not in relative:
                assert not excluded_from_context(relative), f"{relative} is kept out of the build"
    assert not excluded_from_context("requirements.lock")

