"""A restarted worker consumes every record waiting on the partitions it is assigned,
whether its group committed an offset there, committed offset 0 or never committed:
faust drops records it fetches while it rebalances and seeks back only to commits
above 0, so the worker fetches nothing until faust is ready (``rebalance``)."""

from __future__ import annotations

import pytest
from kafka.partitioner.default import murmur2

from mhin_aggregator.settings import OBSERVATION_TOPIC
from mhin_devkit.synthetic import Observation
from mhin_platform.events.topics import topic
from mhin_platform.reference import Arc

pytestmark = pytest.mark.integration

RESTARTS = 3  # the loss was a race: each restart gives it another chance to show


def measures_on_distinct_partitions(count: int) -> list[str]:
    """Measure ids whose records the producer puts on ``count`` different partitions
    (kafka-python's default partitioner: murmur2 of the key, the measure id)."""
    partitions = topic(OBSERVATION_TOPIC).partitions
    chosen: dict[int, str] = {}
    for number in range(1000):
        measure = f"measure-{number}"
        chosen.setdefault((murmur2(measure.encode()) & 0x7FFFFFFF) % partitions, measure)
        if len(chosen) == count:
            return list(chosen.values())
    raise AssertionError(f"fewer than {count} partitions reachable")


def observations(measure: str, sites: int) -> list[Observation]:
    return [Observation(measure_id=measure, site_id=f"site-{n}", arc=Arc.GREATER_MANCHESTER,
                        period="2025-01", numerator=float(n + 10)) for n in range(sites)]


def measures_after_a_first_run(worker_run) -> list[str]:
    """Run the worker once over 50 observations (so each later start restores a
    table), and return a measure for each restart, each on a partition of its own."""
    del worker_run.env["MHIN_INSTANCE_ID"]  # dynamic membership: each start rebalances
    first, *fresh = measures_on_distinct_partitions(1 + RESTARTS)
    worker_run.publish(worker_run.event(o) for o in observations(first, sites=50))
    worker_run.start()
    worker_run.wait_for_lag_below(0)
    worker_run.stop()
    return fresh


def test_a_record_on_a_partition_never_committed_is_consumed_after_a_restart(worker_run):
    fresh = measures_after_a_first_run(worker_run)

    for measure in fresh:
        worker_run.start()
        # sent as the worker starts: it is on the broker while the worker recovers
        worker_run.publish(worker_run.event(o) for o in observations(measure, sites=1))
        worker_run.wait_for_lag_below(0, timeout=90)
        worker_run.stop()

    report = worker_run.checked()
    assert report.observations == 50 + RESTARTS


def test_records_already_waiting_when_a_worker_starts_are_each_consumed(worker_run):
    """The storyline's case: a worker starts (restoring its table) while a batch it
    has not read yet is already on the broker, on a partition its group committed at
    offset 0. Faust drops the records it fetches during the rebalance and seeks back
    to the commits, which aiokafka does not do for offset 0: once in a few starts the
    rest of the batch was never read."""
    fresh = measures_after_a_first_run(worker_run)

    for measure in fresh:
        worker_run.commit_where_the_topic_ends()
        worker_run.publish(worker_run.event(o) for o in observations(measure, sites=300))
        worker_run.start()
        worker_run.wait_for_lag_below(0, timeout=90)
        worker_run.stop()

    report = worker_run.checked()
    assert report.observations == 50 + 300 * RESTARTS
