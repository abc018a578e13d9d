"""docs/events.md's topic catalogue, generated from topics.toml and the contracts,
so the page subscribers read cannot drift from what the platform publishes.

    python -m mhin_devkit.eventdocs write   # rewrite the generated part
    python -m mhin_devkit.eventdocs check   # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from mhin_devkit.protogen import CONTRACTS_SRC, PACKAGE_ROOT, find_repo_root
from mhin_platform.events.topics import TopicSpec, declared_topics

DOC = Path("docs") / "events.md"
BEGIN = "<!-- BEGIN GENERATED: python -m mhin_devkit.eventdocs write -->"
END = "<!-- END GENERATED -->"

_TYPE_NAMES = {
    FieldDescriptor.TYPE_DOUBLE: "double", FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_INT64: "int64", FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_INT32: "int32", FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_STRING: "string", FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_UINT32: "uint32",
}


def load_contracts(root: Path) -> None:
    """Import every generated module so the default pool knows every message."""
    base = root / CONTRACTS_SRC
    for path in sorted((base / PACKAGE_ROOT).rglob("*_pb2.py")):
        importlib.import_module(".".join(path.relative_to(base).with_suffix("").parts))


def message(full_name: str) -> Descriptor:
    return descriptor_pool.Default().FindMessageTypeByName(full_name)


def _field_type(field: FieldDescriptor) -> str:
    if field.message_type is not None:
        name = field.message_type.full_name
    elif field.enum_type is not None:
        name = field.enum_type.full_name
    else:
        name = _TYPE_NAMES.get(field.type, str(field.type))
    return f"repeated {name}" if field.is_repeated else name


def _retention(spec: TopicSpec) -> str:
    if spec.retention_ms < 0:
        return "forever"
    return f"{spec.retention_ms / 86_400_000:g} days"


def _topic_section(spec: TopicSpec) -> list[str]:
    lines = [
        f"### `{spec.name}`", "",
        spec.description, "",
        "| | |", "|---|---|",
        f"| writer | {spec.writer} |",
        f"| platform readers | {', '.join(spec.readers) or '—'} |",
        f"| key | {spec.key} |",
        f"| partitions | {spec.partitions} |",
        f"| cleanup | {spec.cleanup_policy}, retention {_retention(spec)} |",
        f"| dead letters | {f'`{spec.dlq_name}`' if spec.dlq else '—'} |",
        "",
    ]
    for event_type in spec.events:
        descriptor = message(event_type)
        fields = ", ".join(f"`{f.name}` ({_field_type(f)})" for f in descriptor.fields)
        lines.append(f"- **`{event_type}`** — {fields}")
    if spec.events:
        lines.append("")
    return lines


def render() -> str:
    lines = [BEGIN, ""]
    for spec in declared_topics(include_dlq=False):
        lines += _topic_section(spec)
    lines.append(END)
    return "\n".join(lines)


def updated(document: str) -> str:
    head, _, rest = document.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return head + render() + tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["write", "check"])
    args = parser.parse_args(argv)
    root = find_repo_root(Path.cwd())
    load_contracts(root)
    path = root / DOC
    current = path.read_text(encoding="utf-8")
    if BEGIN not in current or END not in current:
        print(f"{DOC} lacks the generated-section markers", file=sys.stderr)
        return 1
    fresh = updated(current)
    if args.command == "write":
        path.write_text(fresh, encoding="utf-8")
        return 0
    if fresh != current:
        print(f"{DOC} is stale: run `python -m mhin_devkit.eventdocs write`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
