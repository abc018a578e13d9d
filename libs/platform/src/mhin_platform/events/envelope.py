"""CloudEvents 1.0 in the Kafka protocol binding, binary content mode.

The record key is the aggregate id; the value is the protobuf-encoded event data;
the context attributes travel as ``ce_*`` headers and the data content type as the
``content-type`` header. ``ce_type`` is the full protobuf name of the data message
(e.g. ``mhin.needs.v1.NeedSubmitted``), so a subscriber knows how to decode it.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/protobuf"
REQUIRED_HEADERS = ("ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time")
M = TypeVar("M", bound=Message)


class EnvelopeError(ValueError):
    """A Kafka record that is not a valid MHIN CloudEvent; the message says why."""


@dataclass(frozen=True)
class Event:
    """One event: CloudEvents context attributes plus protobuf data."""

    topic: str
    key: str
    type: str
    source: str
    data: bytes
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    correlation_id: str | None = None

    def headers(self) -> list[tuple[str, bytes]]:
        headers = [
            ("ce_specversion", SPEC_VERSION),
            ("ce_id", self.id),
            ("ce_source", self.source),
            ("ce_type", self.type),
            ("ce_time", _format_time(self.time)),
            ("content-type", CONTENT_TYPE),
        ]
        if self.subject:
            headers.append(("ce_subject", self.subject))
        if self.correlation_id:
            headers.append(("ce_correlationid", self.correlation_id))
        return [(name, value.encode()) for name, value in headers]

    def decode(self, message_class: builtins.type[M]) -> M:
        """Parse the data as ``message_class``; EnvelopeError if it does not parse."""
        expected = message_class.DESCRIPTOR.full_name
        if self.type != expected:
            raise EnvelopeError(f"ce_type is {self.type!r}, expected {expected!r}")
        message = message_class()
        try:
            message.ParseFromString(self.data)
        except DecodeError as exc:
            raise EnvelopeError(f"data does not parse as {expected}: {exc}") from None
        return message


def new_event(
    *,
    topic: str,
    key: str,
    source: str,
    message: Message,
    subject: str | None = None,
    correlation_id: str | None = None,
) -> Event:
    """An event carrying ``message``; its type is the message's full protobuf name."""
    if not key:
        raise ValueError("an event needs its aggregate id as key")
    return Event(
        topic=topic,
        key=key,
        type=message.DESCRIPTOR.full_name,
        source=source,
        data=message.SerializeToString(),
        subject=subject,
        correlation_id=correlation_id,
    )


def event_from_record(
    topic: str,
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]] | None,
) -> Event:
    """Read an Event back from a Kafka record's parts; EnvelopeError names what is wrong."""
    found = _decode_headers(headers or ())
    missing = [name for name in REQUIRED_HEADERS if not found.get(name)]
    if missing:
        raise EnvelopeError(f"missing CloudEvents header(s): {', '.join(missing)}")
    if found["ce_specversion"] != SPEC_VERSION:
        raise EnvelopeError(f"unsupported ce_specversion {found['ce_specversion']!r}")
    content_type = found.get("content-type", CONTENT_TYPE)
    if content_type != CONTENT_TYPE:
        raise EnvelopeError(f"content-type is {content_type!r}, expected {CONTENT_TYPE!r}")
    if not key:
        raise EnvelopeError("record has no key (the aggregate id)")
    if value is None:
        raise EnvelopeError("record has no value")
    try:
        decoded_key = key.decode()
    except UnicodeDecodeError:
        raise EnvelopeError("record key is not UTF-8") from None
    return Event(
        topic=topic,
        key=decoded_key,
        type=found["ce_type"],
        source=found["ce_source"],
        data=value,
        id=found["ce_id"],
        time=_parse_time(found["ce_time"]),
        subject=found.get("ce_subject"),
        correlation_id=found.get("ce_correlationid"),
    )


def _decode_headers(headers: Iterable[tuple[str, bytes | None]]) -> Mapping[str, str]:
    decoded: dict[str, str] = {}
    for name, raw in headers:
        if raw is None:
            continue
        try:
            decoded[name.lower()] = raw.decode()
        except UnicodeDecodeError:
            raise EnvelopeError(f"header {name!r} is not UTF-8") from None
    return decoded


def _format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("event time must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EnvelopeError(f"ce_time {text!r} is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise EnvelopeError(f"ce_time {text!r} has no time zone")
    return moment

