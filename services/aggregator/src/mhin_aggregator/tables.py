"""The ``cells`` table: the latest version of every measure x site x period x
stratum, the stream processors' only durable state (its changelog)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import faust

from mhin_aggregator.app import app, publisher, settings
from mhin_aggregator.publisher import BatchPublisher
from mhin_aggregator.settings import CELLS_CHANGELOG_TOPIC

_source_partition: ContextVar[int] = ContextVar("source_partition")


class CellTable(faust.Table):
    """A faust table whose changelog writes go out with the batch they belong to.

    - A write goes to the changelog partition named by :meth:`writing_for`: the
      partition of the observation being applied, so that the changelog stays
      co-partitioned with the observation topic. Faust would take it from the current
      event, which a batch from ``take()`` does not set (faust-streaming#497).
    - The write is queued on the batch publisher, so it is confirmed by the same
      ``flush`` as the batch's aggregates, before the batch's events are
      acknowledged. Faust's own path (one send per write through its producer buffer,
      which holds up consumption whenever more than 100 writes wait) costs more than
      the rest of an observation, and its commit-time flush gives up after 0.1 s
      without progress, so it could commit an offset ahead of a write later lost.
      Everything else is faust's (recovery reads the changelog back as usual).
    """

    def __init__(self, *args: Any, publisher: BatchPublisher, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._publisher = publisher

    @contextmanager
    def writing_for(self, partition: int) -> Iterator[None]:
        token = _source_partition.set(partition)
        try:
            yield
        finally:
            _source_partition.reset(token)

    def partition_for_key(self, key: Any) -> int:
        try:
            return _source_partition.get()
        except LookupError:
            raise RuntimeError("cells are written only inside writing_for(partition)") from None

    def on_key_set(self, key: Any, value: Any) -> None:
        serializers = self.app.serializers
        self._publisher.add(
            self.changelog_topic_name,
            serializers.dumps_key(self.key_type, key, serializer=self.key_serializer),
            serializers.dumps_value(self.value_type, value, serializer=self.value_serializer),
            [],
            partition=self.partition_for_key(key),
        )
        self._sensor_on_set(self, key, value)

    def on_key_del(self, key: Any) -> None:
        raise NotImplementedError("cells are never deleted: a correction is a new version")


cells = CellTable(
    app,
    name="cells",
    publisher=publisher,
    beacon=app.tables.beacon,
    changelog_topic=app.topic(
        settings.topic_name(CELLS_CHANGELOG_TOPIC),
        compacting=True,
        internal=True,
        key_serializer="json",
        value_serializer="json",
    ),
    help="Latest observation version per measure|site|period|stratum",
)
app.tables.add(cells)
