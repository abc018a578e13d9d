"""What every service's use cases stand on: the database each runs its one
transaction in, the clock and the source of new ids (both replaceable so that
tests can fix time and identity), and the shapes most use cases take: read one
aggregate, read a page of them, and load → rule → replace → publish."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from mhin_platform.db import Database
from mhin_platform.db.documents import Documents, M
from mhin_platform.errors import InvalidArgument
from mhin_platform.paging import decode_page_token, page_of

T = TypeVar("T")
K = TypeVar("K")
MAX_ID_LENGTH = 64


def utc_now() -> datetime:
    return datetime.now(UTC)


def random_id() -> str:
    return str(uuid.uuid4())


def check_id(value: str, field: str, max_length: int = MAX_ID_LENGTH) -> None:
    """InvalidArgument naming ``field`` unless ``value`` could be an id."""
    if not value:
        raise InvalidArgument(field, "is required")
    if len(value) > max_length:
        raise InvalidArgument(field, f"is not an id (at most {max_length} characters)")


def time_keyset(after: list[Any]) -> tuple[datetime, str]:
    """The (time, id) keyset of a page token whose sort key is ``[iso time, id]``."""
    return datetime.fromisoformat(after[0]), str(after[1])


class UseCases:
    """Base of a service's use-case classes (``app``). ``max_id_length`` is the
    longest id its aggregates have: a longer one is refused as not an id."""

    max_id_length = MAX_ID_LENGTH

    def __init__(self, database: Database, clock: Callable[[], datetime] = utc_now,
                 new_id: Callable[[], str] = random_id) -> None:
        self._db = database
        self._clock = clock
        self._new_id = new_id

    def _check_id(self, value: str, field: str) -> None:
        check_id(value, field, self.max_id_length)

    def _one(self, documents: Documents[M], item_id: str, field: str) -> M:
        """The aggregate ``item_id`` (its id checked first, naming ``field``)."""
        self._check_id(item_id, field)
        with self._db.read() as session:
            return documents.get(session, item_id)

    def _page(self, fetch: Callable[[Session, K | None, int], Sequence[T]], page_size: int,
              page_token: str, filters: dict[str, Any], sort_key: Callable[[T], list[Any]],
              keyset: Callable[[list[Any]], K]) -> tuple[list[T], str]:
        """One page of ``fetch(session, after, limit)``, ``after`` the ``keyset`` that
        ``page_token`` continues after (None on the first page), and the token of
        the next page (empty on the last)."""
        after = decode_page_token(page_token, filters)
        try:
            keys = None if after is None else keyset(after)
        except (ValueError, IndexError, TypeError):
            raise InvalidArgument("page.page_token",
                                  "is not a token this service issued") from None
        with self._db.read() as session:
            found = fetch(session, keys, page_size + 1)
        return page_of(found, page_size, filters, sort_key)

    def _change(self, documents: Documents[M], item_id: str, field: str,
                rule: Callable[[M], M | None], publish: Callable[[Session, M], None]) -> M:
        """Load → rule → replace → publish, in one transaction: ``rule`` gives the
        changed aggregate, or None when there is nothing to change (then the stored
        one is returned and nothing is written)."""
        self._check_id(item_id, field)
        with self._db.transaction() as session:
            stored = documents.get(session, item_id)
            changed = rule(stored)
            if changed is None:
                return stored
            documents.replace(session, changed)
            publish(session, changed)
        return changed
