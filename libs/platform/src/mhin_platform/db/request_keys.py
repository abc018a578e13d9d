"""Idempotent creation: the key a client sends with a request that creates an
aggregate, remembered in the platform's ``mhin_request_keys`` in the same transaction,
so that a retried request finds what its first attempt made instead of making it
again."""

from __future__ import annotations

from typing import Generic

from sqlalchemy import and_, insert
from sqlalchemy.orm import Session

from mhin_platform.db.documents import Documents, M, aggregate_id
from mhin_platform.events.tables import request_keys


class RequestKeys(Generic[M]):
    """The request keys of the aggregates in ``documents``, scoped by its table."""

    def __init__(self, documents: Documents[M]) -> None:
        self._documents = documents
        self._scope = documents.table.name

    def find(self, session: Session, key: str) -> M | None:
        """The aggregate the request with ``key`` created, if one did."""
        documents = self._documents
        made_by = and_(request_keys.c.aggregate_id == documents.table.c.id,
                       request_keys.c.scope == self._scope, request_keys.c.key == key)
        return documents.first(session, documents.select().join(request_keys, made_by))

    def remember(self, session: Session, key: str, item: M) -> None:
        """Record that the request with ``key`` created ``item``."""
        session.execute(insert(request_keys).values(
            scope=self._scope, key=key, aggregate_id=aggregate_id(item)))
