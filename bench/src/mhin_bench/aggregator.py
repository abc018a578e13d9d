"""Ours: the faust aggregator over the same observation events, with the ratios to
the bare aiokafka loop (the peer) and to ConsumerPerformance (the limit).

Each run copies the events to a fresh topic and, on that copy, measures the limit,
then the peer, then the aggregator, one after another: every ratio compares runs
made within the same minute. The aggregator's rate is the events it applied (one
write to its cells table each) over the time from its first write, as the broker
timestamped them: over all the events, or over the first ``aggregator_seconds`` when
it is slower than that. Its start-up and group join are not counted, as the
references' are not.
"""

from __future__ import annotations

from mhin_bench.context import BenchContext, Sizes
from mhin_bench.figures import Figure, at_least, ratios
from mhin_bench.kafka_limit import consumer_rate
from mhin_bench.observations import ObservationSet, copy
from mhin_bench.peer import peer_rate
from mhin_bench.worker import AggregatorWorker, record_times

EVENTS_PER_S = 20_000
OF_PEER = 0.5
START_TIMEOUT_SECONDS = 120.0
TIMESTAMP_RESOLUTION_SECONDS = 0.001  # Kafka timestamps are in milliseconds


def aggregator_rate(worker: AggregatorWorker, events: ObservationSet, seconds: float) -> float:
    from mhin_aggregator.settings import CELLS_CHANGELOG_TOPIC

    changelog = worker.topic(CELLS_CHANGELOG_TOPIC)
    worker.start()
    worker.wait_until_committed(events.topic, events.end, timeout=START_TIMEOUT_SECONDS,
                                after_first_write_to=(changelog, seconds))
    worker.stop()
    worker.check_nothing_dead_lettered(events.topic)
    writes = sorted(record_times(worker.context.bootstrap, changelog))
    first, last = writes[0], min(writes[-1], writes[0] + seconds)
    applied = len([moment for moment in writes if moment <= last])
    return applied / max(last - first, TIMESTAMP_RESOLUTION_SECONDS)


def run(context: BenchContext, sizes: Sizes) -> list[Figure]:
    from mhin_aggregator.settings import OBSERVATION_TOPIC

    events = context.observations()
    ours, peer, limit = [], [], []
    for number in range(sizes.runs):
        with AggregatorWorker(context, f"throughput{number}") as worker:
            copied = copy(context.bootstrap, events, worker.topic(OBSERVATION_TOPIC))
            limit.append(consumer_rate(context, copied))
            peer.append(peer_rate(context, copied))
            ours.append(aggregator_rate(worker, copied, sizes.aggregator_seconds))
    note = (f"{events.count:,} observation events (or the first {sizes.aggregator_seconds:.0f} s "
            "of them); one worker process, its default settings")
    return [
        Figure("faust aggregator", "events/s", ours, target=at_least(EVENTS_PER_S), note=note),
        Figure("aggregator / bare aiokafka loop", "×", ratios(ours, peer),
               target=at_least(OF_PEER), note="paired runs on the same copy of the events"),
        Figure("aggregator / ConsumerPerformance", "×", ratios(ours, limit),
               note="paired runs on the same copy of the events"),
    ]
