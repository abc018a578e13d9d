"""The agent: observation events in batches through the processor, then through
the SPC stage, which acknowledges them; the sums rebuilt from the table whenever
partitions are recovered."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from mhin_aggregator import topics
from mhin_aggregator.app import app, publisher, settings
from mhin_aggregator.processor import ObservationProcessor, OutputTopics
from mhin_aggregator.settings import AGGREGATE_TOPIC, RESTRICTED_AGGREGATE_TOPIC, SPC_SIGNAL_TOPIC
from mhin_aggregator.signals import SignalStage
from mhin_aggregator.tables import cells
from mhin_platform.events.dead_letter import dead_letter_topic

processor = ObservationProcessor(
    cells,
    publisher,
    OutputTopics(
        aggregates=settings.topic_name(AGGREGATE_TOPIC),
        restricted_aggregates=settings.topic_name(RESTRICTED_AGGREGATE_TOPIC),
        spc_signals=settings.topic_name(SPC_SIGNAL_TOPIC),
        dead_observations=dead_letter_topic(topics.observations.get_topic_name()),
    ),
    threshold=settings.disclosure_threshold,
)
signals = app.add_dependency(SignalStage(
    processor, interval=settings.spc_interval_ms / 1000, max_pending=settings.spc_max_pending
))


@app.agent(topics.observations)
async def aggregate(stream: Any) -> AsyncIterator[dict[str, int]]:
    """Yields each batch's outcome counts once its aggregates are sent (what a test
    context records); its events are acknowledged later, by the SPC stage, once
    every record of the batch is on the broker."""
    within = settings.batch_wait_ms / 1000
    await processor.prepare()
    async for events in stream.noack_take(settings.batch_size, within=within):
        batch = await processor.process(event.message for event in events)
        await signals.submit(batch.changed, len(events), _acknowledger(stream, events))
        yield batch.outcomes


def _acknowledger(stream: Any, events: Sequence[Any]) -> Callable[[], Awaitable[None]]:
    async def acknowledge() -> None:
        for event in events:
            await stream.ack(event)

    return acknowledge


@cells.on_recover
async def rebuild_sums() -> None:
    observation_topic = topics.observations.get_topic_name()
    processor.rebuild({
        tp.partition for tp in app.assignor.assigned_actives() if tp.topic == observation_topic
    })
    signals.watch.keep_only(processor.rollup.series())
    # the rebuilt sums and the recovered cells live long: keep the cyclic garbage
    # collector from walking them again and again (full collections pause the loop)
    gc.freeze()
