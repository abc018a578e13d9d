"""The contracts: protos/ is lint-clean, and libs/contracts holds fresh, importable,
well-formed generated code for it."""

from __future__ import annotations

import importlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FileDescriptor

from mhin_devkit import protogen

ROOT = protogen.find_repo_root(Path(__file__).resolve().parent)
CONTRACTS_SRC = ROOT / protogen.CONTRACTS_SRC
GENERATED = CONTRACTS_SRC / protogen.PACKAGE_ROOT


def generated_modules() -> list[str]:
    """Dotted names of every generated module (mhin is a namespace package, which
    pkgutil does not walk, so the files are listed instead)."""
    return sorted(
        ".".join(path.relative_to(CONTRACTS_SRC).with_suffix("").parts)
        for path in GENERATED.rglob("*.py")
    )


def message_modules() -> list[str]:
    return [name for name in generated_modules() if name.endswith("_pb2")]


# ------------------------------------------------------------------ freshness


def test_generated_code_is_fresh() -> None:
    differences = protogen.check(ROOT)
    assert not differences, (
        f"{protogen.CONTRACTS_SRC}/{protogen.PACKAGE_ROOT} is stale against protos/; "
        f"run `make proto` and commit the result:\n{differences.report()}"
    )


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A throwaway repository with protos/ and freshly generated libs/contracts."""
    (tmp_path / "Makefile").write_text("")
    shutil.copytree(ROOT / protogen.PROTOS_DIR, tmp_path / protogen.PROTOS_DIR)
    protogen.generate(tmp_path)
    assert not protogen.check(tmp_path)
    return tmp_path


def test_check_fails_on_a_changed_proto(
    repo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arc = repo_copy / protogen.PROTOS_DIR / "mhin/common/v1/arc.proto"
    arc.write_text(arc.read_text().replace("ARC_WEST = 13;", "ARC_WEST = 13;\n  ARC_TEST = 16;"))

    differences = protogen.check(repo_copy)
    assert differences.stale == ["mhin/common/v1/arc_pb2.py", "mhin/common/v1/arc_pb2.pyi"]
    assert not differences.missing and not differences.extra

    assert protogen.main(["--root", str(repo_copy), "check"]) == 1
    assert "stale: mhin/common/v1/arc_pb2.py" in capsys.readouterr().err


def test_check_fails_on_missing_and_extra_files(repo_copy: Path) -> None:
    service_dir = repo_copy / protogen.PROTOS_DIR / "mhin/probe/v1"
    service_dir.mkdir(parents=True)
    (service_dir / "probe.proto").write_text(PROBE_SERVICE)
    leftover = repo_copy / protogen.CONTRACTS_SRC / "mhin/common/v1/removed_pb2.py"
    leftover.write_text("# generated from a proto that no longer exists\n")

    differences = protogen.check(repo_copy)
    assert differences.missing == [
        "mhin/probe/py.typed",
        "mhin/probe/v1/probe_pb2.py",
        "mhin/probe/v1/probe_pb2.pyi",
        "mhin/probe/v1/probe_pb2_grpc.py",
        "mhin/probe/v1/probe_pb2_grpc.pyi",
    ]
    assert differences.extra == ["mhin/common/v1/removed_pb2.py"]
    assert not differences.stale


def test_generate_rewrites_the_tree_and_drops_stale_files(repo_copy: Path) -> None:
    leftover = repo_copy / protogen.CONTRACTS_SRC / "mhin/common/v1/removed_pb2.py"
    leftover.write_text("# generated from a proto that no longer exists\n")
    edited = repo_copy / protogen.CONTRACTS_SRC / "mhin/common/v1/arc_pb2.py"
    edited.write_text(edited.read_text() + "# edited by hand\n")

    assert protogen.main(["--root", str(repo_copy), "generate"]) == 0

    assert not leftover.exists()
    assert "edited by hand" not in edited.read_text()
    assert not protogen.check(repo_copy)


def test_grpc_modules_only_for_files_with_services(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    shutil.copytree(ROOT / protogen.PROTOS_DIR, protos)
    (protos / "mhin/probe/v1").mkdir(parents=True)
    (protos / "mhin/probe/v1/probe.proto").write_text(PROBE_SERVICE)

    files = protogen.generate_into(protos, tmp_path / "out")

    assert "mhin/probe/v1/probe_pb2_grpc.py" in files
    assert not [f for f in files if f.startswith("mhin/common/") and "_grpc" in f]


PROBE_SERVICE = """\
syntax = "proto3";

package mhin.probe.v1;

import "mhin/common/v1/page.proto";

// ProbeService exists only in tests.
service ProbeService {
  // ListProbes lists probes.
  rpc ListProbes(ListProbesRequest) returns (ListProbesResponse);
}

// ListProbesRequest asks for probes.
message ListProbesRequest {
  // Which page.
  mhin.common.v1.PageRequest page = 1;
}

// ListProbesResponse returns probes.
message ListProbesResponse {
  // Paging.
  mhin.common.v1.PageResponse page = 1;
}
"""


# ------------------------------------------------------------ generated modules


@pytest.mark.parametrize("module_name", generated_modules())
def test_generated_module_imports(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert Path(module.__file__).resolve().is_relative_to(GENERATED.resolve()), (
        f"{module_name} was imported from {module.__file__}, not from {GENERATED}"
    )


def test_every_service_package_is_typed() -> None:
    packages = {path.relative_to(GENERATED).parts[0] for path in GENERATED.rglob("*_pb2.py")}
    assert packages
    for package in packages:
        assert (GENERATED / package / "py.typed").is_file(), package
    stubs = {path.with_suffix("") for path in GENERATED.rglob("*.pyi")}
    assert stubs == {path.with_suffix("") for path in GENERATED.rglob("*.py")}


def _enums(file: FileDescriptor) -> Iterator[EnumDescriptor]:
    def nested(message: Descriptor) -> Iterator[EnumDescriptor]:
        yield from message.enum_types
        for inner in message.nested_types:
            yield from nested(inner)

    yield from file.enum_types_by_name.values()
    for message in file.message_types_by_name.values():
        yield from nested(message)


def test_every_enum_has_an_unspecified_zero_value() -> None:
    checked = []
    for module_name in message_modules():
        for enum in _enums(importlib.import_module(module_name).DESCRIPTOR):
            first = enum.values[0]
            assert first.number == 0 and first.name.endswith("_UNSPECIFIED"), (
                f"{enum.full_name}: the first value must be *_UNSPECIFIED = 0, "
                f"found {first.name} = {first.number}"
            )
            checked.append(enum.full_name)
    assert "mhin.common.v1.Arc" in checked


def test_common_enums_hold_the_domain() -> None:
    from mhin.common.v1 import arc_pb2, priority_area_pb2

    arcs = [v.name for v in arc_pb2.DESCRIPTOR.enum_types_by_name["Arc"].values if v.number]
    assert len(arcs) == 15
    assert {"ARC_SOUTH_LONDON", "ARC_EAST_OF_ENGLAND", "ARC_YORKSHIRE_AND_HUMBER"} <= set(arcs)
    areas = priority_area_pb2.DESCRIPTOR.enum_types_by_name["PriorityArea"].values
    assert len([v for v in areas if v.number]) == 8  # seven areas + uncategorised
    assert priority_area_pb2.PRIORITY_AREA_UNCATEGORISED != 0


def test_cloud_event_round_trips() -> None:
    from mhin.common.v1 import event_pb2, period_pb2

    data = period_pb2.Period(
        start_date=period_pb2.Date(year=2024, month=4, day=1),
        granularity=period_pb2.PERIOD_GRANULARITY_QUARTER,
    )
    event = event_pb2.CloudEvent(
        id="1",
        source="mhin/test",
        spec_version="1.0",
        type=data.DESCRIPTOR.full_name,
        subject="aggregate-1",
        data_content_type="application/protobuf",
        extensions={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        data=data.SerializeToString(),
    )
    event.time.FromJsonString("2024-04-01T09:00:00Z")

    decoded = event_pb2.CloudEvent.FromString(event.SerializeToString())
    assert decoded == event
    assert period_pb2.Period.FromString(decoded.data) == data


# ------------------------------------------------------------------------ lint


def test_buf_lint_is_clean() -> None:
    buf = ROOT / protogen.BUF
    if not buf.exists():
        pytest.fail(f"{protogen.BUF} is missing: run `npm ci` at {ROOT} to install the buf CLI")
    result = subprocess.run(
        [str(buf), "lint", protogen.PROTOS_DIR], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, f"buf lint protos:\n{result.stdout}{result.stderr}"


# ------------------------------------------------------------------- breaking


def test_no_breaking_change_against_main() -> None:
    """What CI runs: the working tree's contracts against the main branch's."""
    assert protogen.breaking(ROOT) == 0


def test_breaking_detects_a_change_that_would_break_subscribers(tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    (tmp_path / "protos" / "mhin" / "demo" / "v1").mkdir(parents=True)
    shutil.copy(ROOT / protogen.PROTOS_DIR / "buf.yaml", tmp_path / "protos" / "buf.yaml")
    (tmp_path / "node_modules").symlink_to(ROOT / "node_modules")
    proto = tmp_path / "protos" / "mhin" / "demo" / "v1" / "demo.proto"
    proto.write_text('syntax = "proto3";\npackage mhin.demo.v1;\n'
                     "// Demo is a demo.\nmessage Demo {\n  // Count.\n  int32 count = 1;\n}\n")
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "protos"], check=True)
    subprocess.run([*git, "commit", "-qm", "demo"], check=True)
    assert protogen.breaking(tmp_path) == 0
    proto.write_text(proto.read_text().replace("int32 count", "string count"))
    assert protogen.breaking(tmp_path) != 0
