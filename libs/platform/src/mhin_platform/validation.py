"""Building domain models from request data, with errors that name the request field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mhin_platform.errors import InvalidArgument

M = TypeVar("M", bound=BaseModel)


def field_path(location: tuple[int | str, ...], prefix: str = "") -> str:
    path = ".".join(str(part) for part in location)
    return f"{prefix}.{path}" if prefix and path else prefix or path


def first_error(exc: ValidationError, prefix: str = "") -> InvalidArgument:
    """The first problem of a pydantic error as an InvalidArgument naming its field."""
    error = exc.errors()[0]
    message = error["msg"].removeprefix("Value error, ")
    return InvalidArgument(field_path(error["loc"], prefix), message)


def build(model: type[M], data: dict[str, Any], prefix: str = "") -> M:
    """``model`` validated from ``data``; InvalidArgument names ``prefix.<field>``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise first_error(exc, prefix) from None
