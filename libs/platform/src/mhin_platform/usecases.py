"""What every service's use cases stand on: the database each runs its one
transaction in, the clock and the source of new ids, both replaceable so that
tests can fix time and identity."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from mhin_platform.db import Database


def utc_now() -> datetime:
    return datetime.now(UTC)


def random_id() -> str:
    return str(uuid.uuid4())


class UseCases:
    """Base of a service's use-case classes (``app``)."""

    def __init__(self, database: Database, clock: Callable[[], datetime] = utc_now,
                 new_id: Callable[[], str] = random_id) -> None:
        self._db = database
        self._clock = clock
        self._new_id = new_id
