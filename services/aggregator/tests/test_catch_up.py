"""Catching up (``agents.aggregate``): a worker far behind its stream applies take
after take and publishes each changed aggregate once for all of them, instead of
once per take; the aggregates are exact either way."""

from __future__ import annotations

import pytest

from mhin.evaluation.v1 import aggregate_events_pb2 as pb
from mhin_aggregator.checker import read_topic
from mhin_aggregator.settings import RESTRICTED_AGGREGATE_TOPIC
from mhin_devkit.synthetic import workload
from mhin_platform.events.envelope import event_from_record

pytestmark = pytest.mark.integration

NEVER = str(10**9)  # a backlog no test reaches: the worker publishes take by take


def national_aggregates_published(run, catch_up_backlog: str) -> tuple[int, int]:
    """Publish the same backfill (about 2,900 observations, 184 national aggregates),
    start the worker on it, require exact aggregates, and count the national
    aggregate records it published and the aggregates they are about."""
    run.env.update(MHIN_CATCH_UP_BACKLOG=catch_up_backlog, MHIN_CATCH_UP_MS="5000")
    run.publish(run.event(o) for o in workload(measures=3, sites=20, months=8, seed=7))
    run.start()
    run.checked()
    topic = run.settings.topic_name(RESTRICTED_AGGREGATE_TOPIC)
    national = [record for record in read_topic(run.settings.kafka_bootstrap_servers, topic)
                if _level(record) == pb.LEVEL_NATIONAL]
    return len(national), len({record.key for record in national})


def _level(record) -> int:
    event = event_from_record(record.topic, record.key, record.value, record.headers)
    return event.decode(pb.AggregateUpdated).level


def test_a_backlog_publishes_each_national_aggregate_about_once(worker_run, other_worker_run):
    records, aggregates = national_aggregates_published(worker_run, catch_up_backlog="100")
    take_by_take, same_aggregates = national_aggregates_published(other_worker_run, NEVER)

    assert same_aggregates == aggregates > 100
    assert records <= 1.5 * aggregates  # only the last takes, within 100 of the end, add
    assert take_by_take > records  # the same events, take by take (measured: 2.7 per aggregate)
