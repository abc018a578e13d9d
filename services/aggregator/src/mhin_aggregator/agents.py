"""The agent: observation events in batches through the processor, then through
the SPC stage, which acknowledges them; the sums rebuilt from the table whenever
partitions are recovered."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from faust.exceptions import ConsumerNotStarted

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
signals = SignalStage(
    processor, interval=settings.spc_interval_ms / 1000, max_pending=settings.spc_max_pending
)
app.add_dependency(signals)
# Catching up (see ``aggregate``): with more than settings.catch_up_backlog events on
# the broker behind a take (a steady stream leaves a few behind each take: it is not
# behind), the next take joins it, for at most catch_up_ms beyond the batch wait and at
# most catch_up_events events waiting for their acknowledgement.


@app.agent(topics.observations)
async def aggregate(stream: Any) -> AsyncIterator[dict[str, int]]:
    """Yields each batch's outcome counts once its aggregates are sent (what a test
    context records); its events are acknowledged later, by the SPC stage, once
    every record of the batch is on the broker.

    Behind the stream (a backlog on the broker), takes are applied one after another
    and published together: a backfill changes its ARC, project and national
    aggregates in take after take, and each then goes out once instead of once per
    take."""
    within = settings.batch_wait_ms / 1000
    await processor.prepare()
    held: list[Any] = []
    holding_since = 0.0
    async for events in stream.noack_take(settings.batch_size, within=within):
        if not held:
            holding_since = time.monotonic()
        processor.apply(event.message for event in events)
        held += events
        if (len(held) < settings.catch_up_events
                and time.monotonic() - holding_since < settings.catch_up_ms / 1000
                and _backlog(events) > settings.catch_up_backlog):
            continue
        batch = await processor.publish_batch()
        await signals.submit(batch.changed, len(held), _acknowledger(stream, held))
        held = []
        yield batch.outcomes


def _backlog(events: Sequence[Any]) -> int:
    """How many events the broker holds after these in their partitions."""
    newest = {event.message.tp: event.message.offset for event in events}
    consumer = app.consumer
    try:
        assigned = consumer.assignment()
    except ConsumerNotStarted:  # faust's test context: events are put, not consumed
        return 0
    return sum(max((consumer.highwater(tp) or 0) - offset - 1, 0)
               for tp, offset in newest.items() if tp in assigned)


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
