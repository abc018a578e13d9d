"""Generate, check and guard the Python code of the MHIN contracts.

    python -m mhin_devkit.protogen generate   # protos/ -> libs/contracts/src/mhin/
    python -m mhin_devkit.protogen check      # exit 1 when libs/contracts is stale
    python -m mhin_devkit.protogen breaking   # buf breaking against the main branch

Generation runs locally with the protoc bundled in grpcio-tools (buf's remote
plugins are not used): ``*_pb2.py`` (messages), ``*_pb2_grpc.py`` (only for files
that declare services) and ``.pyi`` stubs from mypy-protobuf, plus a ``py.typed``
marker in each service package. Everything under ``libs/contracts/src/mhin/`` is
generated: ``generate`` deletes that tree and writes it again, so a file there that
no proto produces any more disappears. The output depends only on the proto files
and the pinned generator versions (requirements.lock), so ``check`` can compare
byte for byte.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import descriptor_pb2

PROTOS_DIR = "protos"
CONTRACTS_SRC = "libs/contracts/src"
PACKAGE_ROOT = "mhin"  # the namespace package every generated module lives under
BUF = "node_modules/.bin/buf"
DEFAULT_BASE_BRANCH = "main"

# Files a generator run leaves behind that are not part of the output.
_IGNORED_DIRS = {"__pycache__"}
_IGNORED_SUFFIXES = (".pyc",)


class ProtogenError(Exception):
    """A problem the user has to fix (missing tool, misplaced proto file, ...)."""


# --------------------------------------------------------------------------- paths


def find_repo_root(start: Path | None = None) -> Path:
    """The repository root: the directory holding ``protos/`` and the Makefile.

    Asks git first (from ``start``, default the working directory), then walks up
    from ``start`` and from this file, so it also works outside a git checkout.
    """
    start = (start or Path.cwd()).resolve()

    def is_root(path: Path) -> bool:
        return (path / "Makefile").is_file() and (path / PROTOS_DIR).is_dir()

    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=start,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        top = ""
    if top and is_root(Path(top)):
        return Path(top)
    for origin in (start, Path(__file__).resolve().parent):
        for path in (origin, *origin.parents):
            if is_root(path):
                return path
    raise ProtogenError(
        f"cannot find the repository root (a directory with a Makefile and {PROTOS_DIR}/) "
        f"from {start}; run from inside the repository or pass --root"
    )


def list_protos(protos_dir: Path) -> list[str]:
    """Every .proto file under ``protos_dir``, as sorted paths relative to it."""
    files = sorted(p.relative_to(protos_dir).as_posix() for p in protos_dir.rglob("*.proto"))
    if not files:
        raise ProtogenError(f"no .proto files under {protos_dir}")
    misplaced = [f for f in files if not f.startswith(PACKAGE_ROOT + "/")]
    if misplaced:
        raise ProtogenError(
            f"proto files must live under {protos_dir}/{PACKAGE_ROOT}/<service>/v1/: "
            + ", ".join(misplaced)
        )
    return files


# ---------------------------------------------------------------------- generation


def _grpc_tools_include() -> Path:
    """protoc's own well-known types (google/protobuf/*.proto) shipped in grpcio-tools."""
    import grpc_tools

    return Path(grpc_tools.__file__).resolve().parent / "_proto"


def _plugin(name: str, entry_point: str, scratch: Path) -> Path:
    """Path of a mypy-protobuf protoc plugin run by this interpreter.

    The console script next to the interpreter is used when it exists; otherwise a
    small wrapper calling the same entry point is written into ``scratch``. Never a
    plugin found on PATH: it could belong to another environment and version.
    """
    sibling = Path(sys.executable).parent / name
    if sibling.is_file() and os.access(sibling, os.X_OK):
        return sibling
    module, func = entry_point.split(":")
    wrapper = scratch / name
    wrapper.write_text(
        f"#!{sys.executable}\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n"
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return wrapper


def generate_into(protos_dir: Path, out_dir: Path) -> list[str]:
    """Generate the Python code for every proto under ``protos_dir`` into ``out_dir``.

    ``out_dir`` must be empty or absent; the result is ``out_dir/mhin/...``.
    Returns the generated files as sorted paths relative to ``out_dir``.
    """
    protos_dir = protos_dir.resolve()
    files = list_protos(protos_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise ProtogenError(f"{out_dir} is not empty")
    with tempfile.TemporaryDirectory(prefix="mhin-protogen-") as scratch_name:
        scratch = Path(scratch_name)
        descriptors = scratch / "descriptors.binpb"
        mypy = _plugin("protoc-gen-mypy", "mypy_protobuf.main:main", scratch)
        mypy_grpc = _plugin("protoc-gen-mypy_grpc", "mypy_protobuf.main:grpc", scratch)
        command = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"--proto_path={protos_dir}",
            f"--proto_path={_grpc_tools_include()}",
            f"--plugin=protoc-gen-mypy={mypy}",
            f"--plugin=protoc-gen-mypy_grpc={mypy_grpc}",
            f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            f"--mypy_out={out_dir}",
            f"--mypy_grpc_out={out_dir}",
            f"--descriptor_set_out={descriptors}",
            *files,
        ]
        result = subprocess.run(command, cwd=protos_dir, capture_output=True, text=True)
        if result.returncode != 0:
            raise ProtogenError("protoc failed:\n" + (result.stderr or result.stdout).strip())
        descriptor_set = descriptor_pb2.FileDescriptorSet.FromString(descriptors.read_bytes())

    # grpc_python_out writes a *_pb2_grpc.py for every file; keep it only where the
    # file declares a service.
    for proto in descriptor_set.file:
        if not proto.service:
            stem = out_dir / proto.name.removesuffix(".proto")
            for suffix in ("_pb2_grpc.py", "_pb2_grpc.pyi"):
                Path(f"{stem}{suffix}").unlink(missing_ok=True)

    # One PEP 561 marker per service package (mhin/<service>/): `mhin` itself is an
    # implicit namespace package, which PEP 561 says should carry no marker.
    for service_dir in sorted((out_dir / PACKAGE_ROOT).iterdir()):
        if service_dir.is_dir():
            (service_dir / "py.typed").write_bytes(b"")

    return _tree(out_dir)


def _tree(directory: Path) -> list[str]:
    """Regular files under ``directory`` (caches excluded), sorted, relative, posix."""
    found = []
    for path in directory.rglob("*"):
        rel = path.relative_to(directory)
        if any(part in _IGNORED_DIRS for part in rel.parts) or path.name.endswith(
            _IGNORED_SUFFIXES
        ):
            continue
        if path.is_file():
            found.append(rel.as_posix())
    return sorted(found)


def generate(root: Path) -> list[str]:
    """Regenerate ``libs/contracts/src/mhin/`` from ``protos/``; returns the files."""
    src = root / CONTRACTS_SRC
    target = src / PACKAGE_ROOT
    with tempfile.TemporaryDirectory(prefix="mhin-protogen-out-") as tmp:
        generated = generate_into(root / PROTOS_DIR, Path(tmp))
        if target.exists():
            shutil.rmtree(target)
        for rel in generated:
            destination = src / rel
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes((Path(tmp) / rel).read_bytes())
    return generated


# --------------------------------------------------------------------------- check


@dataclass
class Staleness:
    """How the committed generated code differs from what the protos produce."""

    stale: list[str] = field(default_factory=list)  # present, but with other content
    missing: list[str] = field(default_factory=list)  # would be generated, not present
    extra: list[str] = field(default_factory=list)  # present, no proto produces it

    def __bool__(self) -> bool:
        return bool(self.stale or self.missing or self.extra)

    def report(self) -> str:
        lines = []
        for label, paths in (
            ("stale", self.stale),
            ("missing", self.missing),
            ("extra", self.extra),
        ):
            lines += [f"  {label}: {p}" for p in paths]
        return "\n".join(lines)


def compare(protos_dir: Path, contracts_src: Path) -> Staleness:
    """Generate into a temporary directory and compare with ``contracts_src/mhin``."""
    with tempfile.TemporaryDirectory(prefix="mhin-protogen-check-") as tmp:
        fresh_dir = Path(tmp)
        fresh = set(generate_into(protos_dir, fresh_dir))
        target = contracts_src / PACKAGE_ROOT
        current = {f"{PACKAGE_ROOT}/{rel}" for rel in _tree(target)} if target.is_dir() else set()
        result = Staleness(
            missing=sorted(fresh - current),
            extra=sorted(current - fresh),
        )
        for rel in sorted(fresh & current):
            if (fresh_dir / rel).read_bytes() != (contracts_src / rel).read_bytes():
                result.stale.append(rel)
    return result


def check(root: Path) -> Staleness:
    return compare(root / PROTOS_DIR, root / CONTRACTS_SRC)


# ------------------------------------------------------------------------ breaking


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def buf_path(root: Path) -> Path:
    buf = root / BUF
    if not buf.exists():
        raise ProtogenError(f"{BUF} is missing: run `npm ci` in {root} to install the buf CLI")
    return buf


def breaking(root: Path, branch: str = DEFAULT_BASE_BRANCH) -> int:
    """Run ``buf breaking`` on protos/ against protos/ on ``branch``.

    Uses the local branch, or else its remote-tracking branch ``origin/<branch>`` (a
    CI checkout often has only that). Skipped (exit 0, with a message) when neither
    exists or the branch has no protos/buf.yaml yet: nothing to be compatible with.
    """
    buf = buf_path(root)
    candidates = {
        f"refs/heads/{branch}": f"branch={branch}",
        f"refs/remotes/origin/{branch}": f"ref=refs/remotes/origin/{branch}",
    }
    found = [
        ref
        for ref in candidates
        if _git(root, "rev-parse", "--verify", "--quiet", ref).returncode == 0
    ]
    if not found:
        print(f"protogen breaking: skipped, there is no branch {branch!r} to compare with")
        return 0
    ref, selector = found[0], candidates[found[0]]
    if _git(root, "cat-file", "-e", f"{ref}:{PROTOS_DIR}/buf.yaml").returncode != 0:
        print(f"protogen breaking: skipped, {branch} has no {PROTOS_DIR}/buf.yaml yet")
        return 0
    # The common git dir also works from a linked worktree, where .git is a file.
    git_dir = _git(root, "rev-parse", "--path-format=absolute", "--git-common-dir").stdout.strip()
    against = f"{git_dir}#{selector},subdir={PROTOS_DIR}"
    print(f"protogen breaking: {BUF} breaking {PROTOS_DIR} --against '{against}'", flush=True)
    return subprocess.run(
        [str(buf), "breaking", PROTOS_DIR, "--against", against], cwd=root
    ).returncode


# ----------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mhin_devkit.protogen", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--root", type=Path, help="repository root (default: found from git)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("generate", help=f"regenerate {CONTRACTS_SRC}/{PACKAGE_ROOT} from protos/")
    commands.add_parser("check", help="exit 1 when the generated code is stale")
    brk = commands.add_parser("breaking", help="buf breaking against the main branch")
    brk.add_argument("--branch", default=DEFAULT_BASE_BRANCH, help="branch to compare with")
    args = parser.parse_args(argv)

    try:
        root = args.root.resolve() if args.root else find_repo_root()
        if args.command == "generate":
            files = generate(root)
            print(f"protogen: generated {len(files)} files into {CONTRACTS_SRC}/{PACKAGE_ROOT}")
            return 0
        if args.command == "check":
            differences = check(root)
            if differences:
                print(
                    f"protogen check: {CONTRACTS_SRC}/{PACKAGE_ROOT} is out of date with "
                    f"{PROTOS_DIR}/; run `make proto` and commit the result:\n"
                    + differences.report(),
                    file=sys.stderr,
                )
                return 1
            print(f"protogen check: {CONTRACTS_SRC}/{PACKAGE_ROOT} is up to date")
            return 0
        return breaking(root, args.branch)
    except ProtogenError as error:
        print(f"protogen {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
