"""The peer: a bare aiokafka loop that decodes the observation events (CloudEvents
headers, then the ObservationRecorded protobuf, with the platform's envelope code)
and sums numerators and denominators in a dict. No framework, no state store, no
output: the most a plain Python consumer gets through on this machine."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

from mhin.evaluation.v1.observation_events_pb2 import ObservationRecorded
from mhin_bench.context import BenchContext, BenchError, Sizes
from mhin_bench.figures import Figure
from mhin_bench.observations import ObservationSet
from mhin_platform.events.envelope import event_from_record

TIMEOUT_SECONDS = 300.0


def sum_observations(records, sums: dict[tuple[str, str, str], list[float]]) -> int:
    for record in records:
        event = event_from_record(record.topic, record.key, record.value, record.headers)
        observation = event.decode(ObservationRecorded)
        cell = sums[(observation.measure_id, observation.period, observation.stratum)]
        cell[0] += observation.numerator
        cell[1] += observation.denominator
    return len(records)


async def _consume(bootstrap: str, events: ObservationSet) -> float:
    async with events.reader(bootstrap) as consumer:
        sums: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        done, began = 0, None
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while done < events.count:
            if time.monotonic() > deadline:
                raise BenchError(f"the aiokafka loop read {done} of {events.count} events")
            batches = await consumer.getmany(timeout_ms=500)
            if batches and began is None:
                began = time.perf_counter()
            for partition, records in batches.items():
                end = events.end[partition.partition]
                done += sum_observations([r for r in records if r.offset < end], sums)
        assert began is not None
        return events.count / (time.perf_counter() - began)


def peer_rate(context: BenchContext, events: ObservationSet) -> float:
    """Events/s of the bare loop over ``events``, timed from its first fetched batch."""
    return asyncio.run(_consume(context.bootstrap, events))


def run(context: BenchContext, sizes: Sizes) -> list[Figure]:
    events = context.observations()
    rates = [peer_rate(context, events) for _ in range(sizes.runs)]
    return [Figure("bare aiokafka loop", "events/s", rates,
                   note=f"{events.count:,} observation events decoded and summed in a dict")]
