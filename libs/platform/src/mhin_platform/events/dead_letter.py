"""Dead-letter topics: a record that cannot be decoded or validated is copied to
``<topic>.dlq`` unchanged, with headers saying why and where it came from, so it is
never dropped silently and can be inspected and replayed."""

from __future__ import annotations

from datetime import UTC, datetime

DLQ_SUFFIX = ".dlq"
REASON_HEADER = "dlq_reason"


def dead_letter_topic(topic: str) -> str:
    return topic + DLQ_SUFFIX


def dead_letter_headers(
    *,
    reason: str,
    consumer: str,
    topic: str,
    partition: int,
    offset: int,
    original: list[tuple[str, bytes]] | None = None,
) -> list[tuple[str, bytes]]:
    """The original headers followed by the dead-letter ones."""
    extra = {
        REASON_HEADER: reason,
        "dlq_consumer": consumer,
        "dlq_source_topic": topic,
        "dlq_source_partition": str(partition),
        "dlq_source_offset": str(offset),
        "dlq_failed_at": datetime.now(UTC).isoformat(),
    }
    return list(original or []) + [(name, value.encode()) for name, value in extra.items()]
