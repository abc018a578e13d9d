"""Need events: each state change is written to the outbox in the same transaction
(topic ``mhin.needs.need``, key = need id, data = the need after the change)."""

from __future__ import annotations

from google.protobuf.message import Message
from sqlalchemy.orm import Session

from mhin.needs.v1 import events_pb2
from mhin_needs import SERVICE_NAME
from mhin_needs.convert import AREA, alignment_to_proto, need_to_proto
from mhin_needs.domain import Alignment, Need
from mhin_platform.events import topic_names
from mhin_platform.events.envelope import new_event
from mhin_platform.events.outbox import add_to_outbox
from mhin_platform.protoconv import enum_to_proto
from mhin_platform.reference import PriorityArea

TOPIC = topic_names.NEEDS_NEED
SOURCE = f"/mhin/{SERVICE_NAME}"


def _record(session: Session, need: Need, message: Message) -> None:
    add_to_outbox(
        session,
        new_event(topic=TOPIC, key=need.id, source=SOURCE, subject=need.id, message=message),
    )


def need_submitted(session: Session, need: Need) -> None:
    _record(session, need, events_pb2.NeedSubmitted(need=need_to_proto(need)))


def need_categorised(session: Session, need: Need, previous: PriorityArea) -> None:
    _record(session, need, events_pb2.NeedCategorised(
        need=need_to_proto(need), previous_priority_area=enum_to_proto(previous, AREA)))


def need_aligned(session: Session, need: Need, alignment: Alignment) -> None:
    _record(session, need, events_pb2.NeedAligned(
        need=need_to_proto(need), alignment=alignment_to_proto(alignment)))


def need_withdrawn(session: Session, need: Need) -> None:
    _record(session, need, events_pb2.NeedWithdrawn(need=need_to_proto(need)))
