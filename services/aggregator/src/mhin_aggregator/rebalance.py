"""The stream partitions held still while faust rebalances.

Faust drops the stream records it fetches while a rebalance is under way (its flow
stopped, an older generation, a seek in flight) and relies on seeking every partition
back to its committed offset once its tables are recovered. aiokafka's
``seek_to_committed`` does nothing for a partition committed at offset 0 or not at
all, so records dropped there were never read: a worker starting while observations
already waited on the broker now and then left the rest of a batch unread for good,
its group's commit stuck before them (the storyline read 121 of 270 once, and once
all but a gap of 19).

So the worker pauses the stream partitions in aiokafka itself as they are assigned,
before anything is fetched for them, and resumes them once faust is ready. A paused
partition returns nothing, so faust has nothing to drop; its records wait on the
broker and are read from where the group committed (the earliest without a commit).
The changelog partitions are left alone: faust reads them to recover the tables.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import AppT

log = logging.getLogger(__name__)


def _stream_partitions(app: AppT, partitions: Iterable[Any]) -> list[Any]:
    changelogs = app.tables.changelog_topics
    return [tp for tp in partitions if tp.topic not in changelogs]


class _HoldingRebalanceListener(faust_aiokafka.ConsumerRebalanceListener):
    async def on_partitions_assigned(self, assigned: Iterable[Any]) -> None:
        # runs in the consumer's thread, before the new assignment is fetched
        held = _stream_partitions(self._thread.app, assigned)
        self._thread._ensure_consumer().pause(*held)
        log.info("stream partitions held until the worker is ready",
                 extra={"partitions": len(held)})
        await super().on_partitions_assigned(assigned)


class _HoldingConsumer(faust_aiokafka.Consumer):
    RebalanceListener = _HoldingRebalanceListener


class _HoldingTransport(faust_aiokafka.Transport):
    Consumer = _HoldingConsumer


class HoldingApp(faust.App):
    """A faust app whose stream partitions are fetched only once it is ready."""

    def _new_transport(self) -> _HoldingTransport:
        return _HoldingTransport(self.conf.broker_consumer, self)

    def on_rebalance_end(self) -> None:
        """Faust's recovery calls this last, once it has sought the stream
        partitions to their commits and resumed its flow: "Worker ready"."""
        super().on_rebalance_end()
        self.add_future(self._resume_streams(self.consumer_generation_id))

    async def _resume_streams(self, generation: int) -> None:
        thread = self.consumer._thread  # type: ignore[attr-defined]

        async def resume() -> None:  # in the consumer's thread, like the pause
            if self.consumer_generation_id != generation:
                return  # a newer assignment holds its partitions until it is ready
            consumer = thread._ensure_consumer()
            held = _stream_partitions(self, consumer.paused())
            consumer.resume(*held)
            log.info("stream partitions resumed", extra={"partitions": len(held)})

        await thread.call_thread(resume)
