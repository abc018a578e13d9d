"""Page tokens for list RPCs (keyset pagination).

A token carries the sort key of the last item returned and a fingerprint of the
request's filters, so a token reused with different filters is rejected instead of
silently returning the wrong page. Tokens are opaque to clients (base64 JSON);
they are not secret, and they grant nothing a new request could not ask for.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from enum import Enum
from typing import Any, TypeVar

from mhin_platform.errors import InvalidArgument

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def page_size(requested: int, *, default: int = DEFAULT_PAGE_SIZE,
              maximum: int = MAX_PAGE_SIZE, field: str = "page.page_size") -> int:
    if requested < 0:
        raise InvalidArgument(field, f"must not be negative, got {requested}")
    return min(requested or default, maximum)


def _fingerprint(filters: dict[str, Any]) -> str:
    canonical = json.dumps(filters, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_page_token(after: list[Any], filters: dict[str, Any]) -> str:
    body = json.dumps({"after": after, "filters": _fingerprint(filters)}, default=str)
    return base64.urlsafe_b64encode(body.encode()).decode()


def decode_page_token(token: str, filters: dict[str, Any],
                      field: str = "page.page_token") -> list[Any] | None:
    """The sort key to continue after, or None for the first page."""
    if not token:
        return None
    try:
        body = json.loads(base64.urlsafe_b64decode(token.encode()))
        after, fingerprint = body["after"], body["filters"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument(field, "is not a token this service issued") from None
    if fingerprint != _fingerprint(filters):
        raise InvalidArgument(field, "was issued for a request with other filters")
    return list(after)


def page_of(found: Sequence[T], page_size: int, filters: dict[str, Any],
            sort_key: Callable[[T], list[Any]]) -> tuple[list[T], str]:
    """The page from ``found`` (fetched with ``limit=page_size + 1``) and the token of
    the next page: empty when this is the last."""
    page = list(found[:page_size])
    more = len(found) > page_size
    return page, encode_page_token(sort_key(page[-1]), filters) if more else ""


@dataclass(frozen=True)
class Filter:
    """Base of what a list request filters on (a frozen dataclass of optional
    fields). ``as_dict`` is the filters as plain values, what a page token is bound
    to: enum names, ISO dates, and None for a field left empty."""

    def as_dict(self) -> dict[str, Any]:
        return {field.name: _plain(getattr(self, field.name)) for field in fields(self)}


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, date):
        return value.isoformat()
    return value or None
