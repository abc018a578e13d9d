"""Protobuf enums as command-line words (``PHASE_SET_UP`` is ``set_up``, or
``set-up`` where a command group hyphenates), and reference values (ARC, priority
area, organisation type) given by code, name or slug."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mhin_platform.protoconv import enum_to_proto, enum_unset

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

V = TypeVar("V", bound=int)


def _prefix(enum: _EnumTypeWrapper[V]) -> str:
    """What every value's name starts with: the zero value's name less UNSPECIFIED."""
    return enum.DESCRIPTOR.values[0].name.removesuffix("UNSPECIFIED")


def enum_words(enum: _EnumTypeWrapper[V], separator: str = "_") -> list[str]:
    """The words of every value but the unspecified zero, for a click.Choice."""
    return [enum_word(enum, enum.Value(name), separator) for name in enum.keys()[1:]]


def enum_number(enum: _EnumTypeWrapper[V], word: str | None, separator: str = "_") -> V:
    """The value a word names; the unspecified zero where none is given."""
    if not word:
        return enum_unset(enum)
    return enum.Value(_prefix(enum) + word.upper().replace(separator, "_"))


def enum_word(enum: _EnumTypeWrapper[V], number: V, separator: str = "_") -> str:
    """The word a value shows as; ``-`` for the unspecified zero."""
    if not number:
        return "-"
    return enum.Name(number).removeprefix(_prefix(enum)).lower().replace("_", separator)


def reference_number(parse: Callable[[str], Any], enum: _EnumTypeWrapper[V], option: str,
                     text: str | None) -> V:
    """A reference value parsed by ``parse`` (code, name or slug); zero where none is
    given; a word it does not know is a bad value of ``option``."""
    if not text:
        return enum_unset(enum)
    try:
        return enum_to_proto(parse(text), enum)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
