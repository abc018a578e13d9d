"""What the catalogue consumes: needs-intake's need events on ``mhin.needs.need``
keep the catalogue's copy of needs (through the platform's idempotent EventConsumer;
a snapshot replaces the copy only if it is newer)."""

from __future__ import annotations

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from mhin_catalogue import convert, store
from mhin_platform.errors import InvalidArgument
from mhin_platform.events import topic_names
from mhin_platform.events.consumer import Handler
from mhin_platform.events.envelope import Event
from mhin_platform.events.topics import event_classes
from mhin_platform.runtime import ConsumerSpec

NEED_TOPIC = topic_names.NEEDS_NEED


def keep_need(session: Session, event: Event, message: Message) -> None:
    need = convert.known_need_from_proto(message.need)  # type: ignore[attr-defined]
    if need.id != event.key:
        raise InvalidArgument("need.id", f"is {need.id!r} but the event key is {event.key!r}")
    store.need_documents.keep_latest(session, need)


# Every need event carries the whole need, so one effect serves them all.
NEED_HANDLERS = [Handler(message_class, keep_need)
                 for message_class in event_classes(NEED_TOPIC)]

CONSUMERS = (ConsumerSpec(name="needs", topics=[NEED_TOPIC], handlers=NEED_HANDLERS),)
