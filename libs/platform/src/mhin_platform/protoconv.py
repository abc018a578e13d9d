"""Translation between protobuf messages and domain values, used by every
service's ``api`` module so that bad input is reported the same way everywhere:
an ``InvalidArgument`` naming the request field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Literal, TypeVar, overload

from google.protobuf.descriptor import EnumDescriptor
from google.protobuf.timestamp_pb2 import Timestamp

from mhin.common.v1 import period_pb2
from mhin_platform.errors import InvalidArgument

if TYPE_CHECKING:
    # The generated stubs type each protobuf enum as a wrapper of its own value type.
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

E = TypeVar("E", bound=Enum)
V = TypeVar("V", bound=int)


def _prefix(descriptor: EnumDescriptor) -> str:
    """The common prefix of an enum's value names: ``ARC_`` for ``ARC_UNSPECIFIED``."""
    return descriptor.values_by_number[0].name.removesuffix("UNSPECIFIED")


@overload
def enum_from_proto(
    domain: type[E], enum: _EnumTypeWrapper[V], number: int, field: str,
    *, required: Literal[True] = True,
) -> E: ...


@overload
def enum_from_proto(
    domain: type[E], enum: _EnumTypeWrapper[V], number: int, field: str, *, required: bool
) -> E | None: ...


def enum_from_proto(
    domain: type[E], enum: _EnumTypeWrapper[V], number: int, field: str, *, required: bool = True
) -> E | None:
    """The domain member for a protobuf enum number; InvalidArgument names ``field``
    when the value is unset (and required) or unknown to this version."""
    descriptor = enum.DESCRIPTOR
    if number == 0:
        if required:
            raise InvalidArgument(field, f"is required (one of {_choices(domain)})")
        return None
    value = descriptor.values_by_number.get(number)
    if value is None:
        raise InvalidArgument(field, f"unknown value {number}")
    name = value.name.removeprefix(_prefix(descriptor))
    try:
        return domain[name]
    except KeyError:
        raise InvalidArgument(field, f"{value.name} is not accepted here") from None


def enum_to_proto(member: Enum | None, enum: _EnumTypeWrapper[V]) -> V:
    """The protobuf value of a domain member, typed as its enum's value type."""
    name = "UNSPECIFIED" if member is None else member.name
    return enum.Value(_prefix(enum.DESCRIPTOR) + name)


def _choices(domain: type[Enum]) -> str:
    return ", ".join(member.name for member in domain)


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC))
    return stamp


def from_timestamp(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def date_from_proto(message: period_pb2.Date, field: str, *, required: bool = True) -> date | None:
    if (message.year, message.month, message.day) == (0, 0, 0):
        if required:
            raise InvalidArgument(field, "is required")
        return None
    try:
        return date(message.year, message.month, message.day)
    except ValueError as exc:
        raise InvalidArgument(field, str(exc)) from None


def date_to_proto(value: date | None) -> period_pb2.Date:
    if value is None:
        return period_pb2.Date()
    return period_pb2.Date(year=value.year, month=value.month, day=value.day)


def enum_unset(enum: _EnumTypeWrapper[V]) -> V:
    """An enum's zero value (``*_UNSPECIFIED``), typed as its value type."""
    return enum.Value(enum.DESCRIPTOR.values_by_number[0].name)
