"""Growth of the aggregator's recovery: the time from a worker's restart to its
first fresh aggregate, against the size of its changelog (the cells table).

For each size, a worker aggregates that many observation events and stops; then,
run after run, it is restarted and one new observation is sent at once: the
restricted aggregate it causes can only be published after the worker has read
its changelog back and rebuilt its sums. The time includes starting Python and
faust, which the smallest size shows on its own.
"""

from __future__ import annotations

import time
import uuid

from mhin.evaluation.v1.observation_events_pb2 import ObservationRecorded
from mhin_bench.context import BenchContext, BenchError, Sizes
from mhin_bench.figures import Figure
from mhin_bench.observations import copy, end_offsets, observation_event
from mhin_bench.worker import AggregatorWorker
from mhin_platform.events.envelope import new_event
from mhin_platform.events.producer import SEND_TIMEOUT_SECONDS, create_producer

TIMEOUT_SECONDS = 300.0
POLL_SECONDS = 0.05


def restart_seconds(worker: AggregatorWorker, observation_topic: str, partition: int,
                    output_topic: str) -> float:
    """Seconds from starting ``worker`` to the aggregate of an observation of a site
    no other event has (so it must change an aggregate), sent right after the start to
    ``partition``, one the worker has consumed and committed before, as every
    partition of a long-running worker is: the restart alone is measured. (A record
    on a never-committed partition is the case services/aggregator/tests/test_restart.py
    covers; see docs/performance.md.)"""
    message = observation_event(0).decode(ObservationRecorded)
    message.site_id = f"probe-{uuid.uuid4().hex[:8]}"
    event = new_event(topic=observation_topic, key=message.measure_id, source="bench",
                      message=message)
    before = sum(end_offsets(worker.context.bootstrap, output_topic).values())
    producer = create_producer(worker.context.bootstrap, client_id="mhin-bench-probe")
    try:
        began = time.monotonic()
        worker.start()
        producer.send(observation_topic, key=event.key.encode(), value=event.data,
                      headers=event.headers(), partition=partition)
        producer.flush(timeout=SEND_TIMEOUT_SECONDS)
        while sum(end_offsets(worker.context.bootstrap, output_topic).values()) <= before:
            worker.check_alive()
            if time.monotonic() - began > TIMEOUT_SECONDS:
                log = worker.log.read_text(errors="replace")[-2000:]
                raise BenchError(f"no aggregate {TIMEOUT_SECONDS:.0f} s after a restart; the "
                                 f"end of {worker.log}:\n{log}")
            time.sleep(POLL_SECONDS)
        return time.monotonic() - began
    finally:
        producer.close()
        worker.stop()


def run(context: BenchContext, sizes: Sizes) -> list[Figure]:
    from mhin_aggregator.settings import (
        CELLS_CHANGELOG_TOPIC,
        OBSERVATION_TOPIC,
        RESTRICTED_AGGREGATE_TOPIC,
    )

    events = context.observations()
    figures = []
    for count in sizes.recovery_events:
        with AggregatorWorker(context, f"recovery{count}") as worker:
            observations = worker.topic(OBSERVATION_TOPIC)
            copied = copy(context.bootstrap, events, observations, count)
            worker.start()
            worker.wait_until_committed(observations, copied.end, TIMEOUT_SECONDS)
            worker.stop()
            changelog = sum(end_offsets(context.bootstrap,
                                        worker.topic(CELLS_CHANGELOG_TOPIC)).values())
            consumed = max(copied.end, key=lambda p: copied.end[p] - copied.start.get(p, 0))
            seconds = [restart_seconds(worker, observations, consumed,
                                       worker.topic(RESTRICTED_AGGREGATE_TOPIC))
                       for _ in range(sizes.runs)]
        figures.append(Figure(f"restart to fresh aggregate, {changelog:,} changelog records",
                              "s", seconds, note=f"after {copied.count:,} observation events"))
    return figures
