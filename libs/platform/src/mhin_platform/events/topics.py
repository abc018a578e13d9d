"""The declared Kafka topics (``topics.toml`` next to this module) and the tool that
creates them.

Topics are declared in one file and created by this module, never auto-created by
the broker::

    python -m mhin_platform.events.topics list
    python -m mhin_platform.events.topics create [--bootstrap-servers HOST:PORT]

The bootstrap servers default to ``MHIN_KAFKA_BOOTSTRAP_SERVERS``, else
``127.0.0.1:9092``. Creation is idempotent; a topic that exists with a different
partition count is an error (the count decides which partition a key lands on, so it
is never changed silently).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from mhin_platform.events.dead_letter import DLQ_SUFFIX

TOPICS_FILE = "topics.toml"
DEFAULT_BOOTSTRAP_SERVERS = "127.0.0.1:9092"
BOOTSTRAP_ENV = "MHIN_KAFKA_BOOTSTRAP_SERVERS"
TOPIC_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"


class TopicsFileError(ValueError):
    """The topics file is not valid; the message says which topic and why."""


class TopicMismatchError(RuntimeError):
    """A topic exists on the broker with settings that differ from its declaration
    in a way that cannot be fixed in place (the partition count)."""


CleanupPolicy = Literal["delete", "compact", "compact,delete"]


def _forever_or_positive(value: int) -> int:
    if value == 0:
        raise ValueError("retention_ms must be -1 (forever) or a positive number")
    return value


# Kafka's retention.ms: -1 keeps records forever; 0 would delete them at once.
RetentionMs = Annotated[int, Field(ge=-1), AfterValidator(_forever_or_positive)]


class DeadLetterSettings(BaseModel):
    """The ``[dead_letter]`` table: settings of every ``<name>.dlq`` topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    partitions: int = Field(default=1, ge=1, le=1000)
    cleanup_policy: CleanupPolicy = "delete"
    retention_ms: RetentionMs = -1


class TopicSpec(BaseModel):
    """One declared topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=245, pattern=TOPIC_NAME_PATTERN)
    writer: str = Field(min_length=1)
    readers: tuple[str, ...] = ()
    key: str = ""
    partitions: int = Field(ge=1, le=1000)
    cleanup_policy: CleanupPolicy
    retention_ms: RetentionMs
    dlq: bool = False
    description: str = Field(min_length=1)
    configs: Mapping[str, str] = Field(default_factory=dict)
    # The event types (full protobuf message names) its writer may publish on it:
    # the contract subscribers rely on, checked when an event enters the outbox.
    events: tuple[str, ...] = ()
    dead_letter_of: str | None = None

    @field_validator("configs")
    @classmethod
    def _configs(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        for reserved in ("cleanup.policy", "retention.ms"):
            if reserved in value:
                raise ValueError(f"set {reserved!r} with its own field, not in configs")
        return dict(value)

    @property
    def dlq_name(self) -> str | None:
        """``<name>.dlq`` when the topic has a dead-letter topic."""
        return self.name + DLQ_SUFFIX if self.dlq else None

    @property
    def compacted(self) -> bool:
        return "compact" in self.cleanup_policy

    def topic_configs(self) -> dict[str, str]:
        """The topic-level configs to create the topic with."""
        return {
            "cleanup.policy": self.cleanup_policy,
            "retention.ms": str(self.retention_ms),
            **self.configs,
        }

    def dead_letter_spec(self, settings: DeadLetterSettings | None = None) -> TopicSpec:
        """The spec of this topic's ``.dlq`` topic (raises if it has none)."""
        if not self.dlq:
            raise ValueError(f"topic {self.name} has no dead-letter topic")
        settings = settings or DeadLetterSettings()
        return TopicSpec(
            name=self.name + DLQ_SUFFIX,
            writer=" / ".join(self.readers) or "its readers",
            key=self.key,
            partitions=settings.partitions,
            cleanup_policy=settings.cleanup_policy,
            retention_ms=settings.retention_ms,
            description=f"Dead letters of {self.name}: records its readers could not decode "
            "or validate, with the reason and source offset in headers",
            dead_letter_of=self.name,
        )


# --------------------------------------------------------------------------- loading


def parse_topics(document: Mapping[str, Any], *, source: str = TOPICS_FILE) -> list[TopicSpec]:
    """Validate a parsed topics document; return the declared topics followed by
    their dead-letter topics. Raises :class:`TopicsFileError` naming the problem."""
    unknown = set(document) - {"topic", "dead_letter"}
    if unknown:
        raise TopicsFileError(f"{source}: unknown top-level keys {sorted(unknown)}")
    try:
        dead_letter = DeadLetterSettings(**document.get("dead_letter", {}))
    except ValidationError as exc:
        raise TopicsFileError(f"{source}: [dead_letter]: {_explain(exc)}") from None
    entries = document.get("topic", [])
    if not isinstance(entries, list) or not entries:
        raise TopicsFileError(f"{source}: no [[topic]] declared")

    declared: list[TopicSpec] = []
    for index, entry in enumerate(entries, start=1):
        label = entry.get("name", f"#{index}") if isinstance(entry, dict) else f"#{index}"
        if not isinstance(entry, dict):
            raise TopicsFileError(f"{source}: topic {label}: not a table")
        if "dead_letter_of" in entry:
            raise TopicsFileError(f"{source}: topic {label}: dead_letter_of is not declared")
        try:
            spec = TopicSpec(**entry)
        except ValidationError as exc:
            raise TopicsFileError(f"{source}: topic {label}: {_explain(exc)}") from None
        if spec.name.endswith(DLQ_SUFFIX):
            raise TopicsFileError(
                f"{source}: topic {spec.name}: do not declare `{DLQ_SUFFIX}` topics; "
                f"set dlq = true on {spec.name.removesuffix(DLQ_SUFFIX)}"
            )
        declared.append(spec)

    specs = declared + [s.dead_letter_spec(dead_letter) for s in declared if s.dlq]
    seen: set[str] = set()
    for spec in specs:
        # Kafka treats '.' and '_' as the same in metric names: they collide too
        normal = spec.name.replace(".", "_")
        if spec.name in seen or normal in seen:
            raise TopicsFileError(
                f"{source}: topic {spec.name} is declared more than once (or collides "
                "with another name: Kafka treats '.' and '_' alike)"
            )
        seen.update({spec.name, normal})
    return specs


def _explain(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error["loc"]) or "(table)"
        parts.append(f"{field}: {error['msg']}")
    return "; ".join(parts)


def load_topics(path: Path | str | None = None) -> list[TopicSpec]:
    """Read and validate a topics file (the packaged ``topics.toml`` by default);
    the result holds every topic to create, dead-letter topics included."""
    if path is None:
        text = resources.files(__package__).joinpath(TOPICS_FILE).read_text(encoding="utf-8")
        source = TOPICS_FILE
    else:
        text = Path(path).read_text(encoding="utf-8")
        source = str(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TopicsFileError(f"{source}: not valid TOML: {exc}") from None
    return parse_topics(document, source=source)


_CACHE: list[TopicSpec] | None = None


def declared_topics(*, include_dlq: bool = True) -> list[TopicSpec]:
    """Every topic the platform declares (with the ``.dlq`` topics unless told not to)."""
    global _CACHE
    if _CACHE is None:
        _CACHE = load_topics()
    return [s for s in _CACHE if include_dlq or s.dead_letter_of is None]


def topic(name: str) -> TopicSpec:
    """The declaration of one topic (``.dlq`` topics included); KeyError if undeclared."""
    for spec in declared_topics():
        if spec.name == name:
            return spec
    raise KeyError(f"topic {name!r} is not declared in {TOPICS_FILE}")


def event_classes(name: str) -> list[type[Message]]:
    """The message classes of the event types ``name`` carries, as topics.toml lists them."""
    return [_message_class(event_type) for event_type in topic(name).events]


def _message_class(full_name: str) -> type[Message]:
    package = full_name.rpartition(".")[0]
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if module.name.endswith("_pb2"):
            importlib.import_module(f"{package}.{module.name}")
    descriptor = descriptor_pool.Default().FindMessageTypeByName(full_name)
    return message_factory.GetMessageClass(descriptor)


# --------------------------------------------------------------------------- creation


def _with_dead_letters(specs: Iterable[TopicSpec]) -> list[TopicSpec]:
    """``specs`` plus the dead-letter topic of each one that has one (no duplicates)."""
    result: dict[str, TopicSpec] = {}
    for spec in specs:
        result.setdefault(spec.name, spec)
        if spec.dlq:
            dead = spec.dead_letter_spec()
            result.setdefault(dead.name, dead)
    return list(result.values())


def ensure_topics(
    bootstrap_servers: str,
    specs: Sequence[TopicSpec] | None = None,
    *,
    replication_factor: int | None = None,
    timeout_s: float = 30.0,
) -> dict[str, str]:
    """Create the topics of ``specs`` (default: every declared topic) that do not
    exist yet, with their configs, and wait until each has a leader.

    A spec with ``dlq`` brings its ``.dlq`` topic along. Returns ``{name: "created" |
    "exists"}``. Raises :class:`TopicMismatchError` if an existing topic has a different
    partition count. ``replication_factor`` defaults to min(3, brokers in the cluster).
    """
    from kafka import KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError

    wanted = _with_dead_letters(declared_topics() if specs is None else specs)
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="mhin-topics",
        request_timeout_ms=int(timeout_s * 1000),
        bootstrap_timeout_ms=int(min(timeout_s, 10.0) * 1000),
    )
    try:
        if replication_factor is None:
            brokers = admin.describe_cluster().get("brokers") or []
            replication_factor = max(1, min(3, len(brokers)))
        existing = set(admin.list_topics())
        missing = [s for s in wanted if s.name not in existing]
        outcome = {s.name: "exists" for s in wanted if s.name in existing}
        if missing:
            request = {
                s.name: {
                    "num_partitions": s.partitions,
                    "replication_factor": replication_factor,
                    "configs": s.topic_configs(),
                }
                for s in missing
            }
            response = admin.create_topics(
                request, timeout_ms=int(timeout_s * 1000), raise_errors=False
            )
            for result in response["topics"]:
                name, code = result["name"], result["error_code"]
                if code == 0:
                    outcome[name] = "created"
                elif code == TopicAlreadyExistsError.errno:  # created meanwhile by another
                    outcome[name] = "exists"
                else:
                    raise RuntimeError(
                        f"creating topic {name} failed: error {code} {result.get('error_message')}"
                    )
        _check_partitions(admin, wanted)
        admin.wait_for_topics([s.name for s in wanted], timeout_ms=int(timeout_s * 1000))
        return {s.name: outcome[s.name] for s in wanted}
    finally:
        admin.close()


def _check_partitions(admin: Any, specs: Sequence[TopicSpec]) -> None:
    described = {t["name"]: t for t in admin.describe_topics([s.name for s in specs])}
    wrong = []
    for spec in specs:
        info = described.get(spec.name)
        count = len(info.get("partitions") or []) if info else 0
        if info and info.get("error_code", 0) == 0 and count != spec.partitions:
            wrong.append(f"{spec.name} has {count} partitions, declared {spec.partitions}")
    if wrong:
        raise TopicMismatchError(
            "existing topics differ from their declaration (a partition count is never "
            "changed automatically: it moves keys between partitions): " + "; ".join(wrong)
        )


# --------------------------------------------------------------------------- CLI


def _cmd_list(_: argparse.Namespace) -> int:
    specs = declared_topics()
    width = max(len(s.name) for s in specs)
    for s in specs:
        retention = "forever" if s.retention_ms < 0 else f"{s.retention_ms / 86_400_000:g}d"
        print(
            f"{s.name:<{width}}  {s.partitions:>2}p  {s.cleanup_policy:<14} {retention:<8} "
            f"{s.writer:<18} {s.description}"
        )
    return 0


def _cmd_create(args: argparse.Namespace) -> int:
    result = ensure_topics(args.bootstrap_servers, replication_factor=args.replication_factor)
    created = [name for name, state in result.items() if state == "created"]
    for name in created:
        print(f"created {name}")
    print(
        f"{len(result)} declared topics on {args.bootstrap_servers}: "
        f"{len(created)} created, {len(result) - len(created)} already there"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mhin_platform.events.topics",
        description="List the declared Kafka topics or create the missing ones.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print the declared topics").set_defaults(func=_cmd_list)
    create = sub.add_parser("create", help="create missing declared topics (idempotent)")
    create.add_argument(
        "--bootstrap-servers",
        default=os.environ.get(BOOTSTRAP_ENV, DEFAULT_BOOTSTRAP_SERVERS),
        help=f"default: ${BOOTSTRAP_ENV} or {DEFAULT_BOOTSTRAP_SERVERS}",
    )
    create.add_argument("--replication-factor", type=int, default=None,
                        help="default: min(3, number of brokers)")
    create.set_defaults(func=_cmd_create)
    args = parser.parse_args(argv)
    from kafka.errors import KafkaError

    try:
        return int(args.func(args))
    except (TopicsFileError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KafkaError as exc:
        print(f"error: Kafka at {args.bootstrap_servers}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
