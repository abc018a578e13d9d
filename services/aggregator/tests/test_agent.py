"""The agent's logic through faust's test context: observations put straight into
the agent (no consumer), the cells table in memory, and the records it writes sent
to a real broker (topics of this module's own)."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import uuid
from dataclasses import replace

import pytest
import pytest_asyncio

from mhin.evaluation.v1.aggregate_events_pb2 import AggregateUpdated
from mhin_aggregator.checker import read_topic
from mhin_devkit.harness import TopicReader
from mhin_devkit.synthetic import Observation
from mhin_measures.rates import MeasureType
from mhin_measures.spc import Direction
from mhin_platform.events.dead_letter import REASON_HEADER
from mhin_platform.events.topics import ensure_topics
from mhin_platform.reference import Arc

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

PROPORTION = Observation(
    measure_id="m-agent", site_id="site-1", arc=Arc.WEST, period="2024-01",
    stratum="ethnicity=Black", numerator=6, denominator=40,
    measure_type=MeasureType.PROPORTION, multiplier=100.0, direction=Direction.UP,
)


@pytest.fixture(scope="module")
def worker_modules(kafka_bootstrap, tmp_path_factory):
    """The app's modules, imported once for this module with its own topics (the app
    is configured from the environment when first imported)."""
    prefix = f"test.agent.{uuid.uuid4().hex[:8]}."
    environment = {
        "MHIN_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "MHIN_TOPIC_PREFIX": prefix,
        "MHIN_CONSUMER_GROUP": prefix + "group",
        "MHIN_DATA_DIR": str(tmp_path_factory.mktemp("faust")),
        "MHIN_SPC_INTERVAL_MS": "0",
    }
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        from mhin_aggregator.settings import current

        current.cache_clear()
        ensure_topics(kafka_bootstrap, current().topic_specs(), replication_factor=1)
        agents = importlib.import_module("mhin_aggregator.agents")
        agents.app.conf.store = "memory://"
        yield agents
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def agent(worker_modules):
    async with worker_modules.aggregate.test_context() as context:
        yield context
    await worker_modules.publisher.stop()
    await worker_modules.signals.stop()


def reader(worker_modules, kafka_bootstrap, topic: str) -> TopicReader:
    return TopicReader(kafka_bootstrap, worker_modules.settings.topic_name(topic))


async def put(agent, worker_modules, observation: Observation, partition: int = 2):
    """Put one observation through the agent; return the batch's outcome counts once
    its records are on the broker (the blocking readers below hold the event loop)."""
    event = observation.event("unused")
    await agent.put(value=event.data, key=event.key.encode(), partition=partition,
                    headers=event.headers())
    await worker_modules.publisher.flush()
    return agent.results[agent.processed_offset - 1]


def restricted(events) -> dict[str, AggregateUpdated]:
    return {event.key: event.decode(AggregateUpdated) for event in events}


async def test_an_observation_is_stored_and_its_aggregates_published(worker_modules, agent,
                                                                    kafka_bootstrap):
    aggregates = reader(worker_modules, kafka_bootstrap, "mhin.evaluation.aggregate-restricted")
    changelog = worker_modules.settings.topic_name("mhin.evaluation.aggregation-cells")

    assert await put(agent, worker_modules, PROPORTION) == {"applied": 1}

    assert worker_modules.cells[PROPORTION.cell_key]["numerator"] == 6.0
    published = restricted(aggregates.wait_for_count(8))  # 4 levels x 2 strata
    arc = published["m-agent|arc|WEST|2024-01|ethnicity=Black"]
    assert (arc.numerator, arc.denominator, arc.value) == (6.0, 40.0, 15.0)
    assert published["m-agent|national|national|2024-01|"].observation_count == 1
    [write] = read_topic(kafka_bootstrap, changelog)
    assert write.partition == 2  # the observation's partition
    assert json.loads(write.key) == PROPORTION.cell_key
    assert json.loads(write.value)["version"] == 1
    aggregates.close()


async def test_duplicates_and_older_versions_change_nothing_and_corrections_replace(
        worker_modules, agent):
    first = replace(PROPORTION, site_id="site-2")
    assert await put(agent, worker_modules, first) == {"applied": 1}
    assert await put(agent, worker_modules, first) == {"replayed": 1}
    corrected = first.corrected(numerator=8)
    assert await put(agent, worker_modules, corrected) == {"applied": 1}
    assert await put(agent, worker_modules, first) == {"stale": 1}

    rollup = worker_modules.processor.rollup
    site_2 = [total for key, total in rollup.totals.items()
              if key.unit == "site-2" and key.stratum == ""]
    assert [total.figures for total in site_2] == [(8.0, 40.0)]
    assert worker_modules.cells[first.cell_key]["version"] == 2


async def test_an_unusable_record_is_dead_lettered_with_its_reason(worker_modules, agent,
                                                                  kafka_bootstrap):
    bad = replace(PROPORTION, site_id="site-3", numerator=50.0)  # more than the denominator
    assert await put(agent, worker_modules, bad) == {"dead_lettered": 1}
    dead_letters = worker_modules.settings.topic_name("mhin.evaluation.observation") + ".dlq"
    [dead] = read_topic(kafka_bootstrap, dead_letters)
    assert b"below the numerator" in dict(dead.headers)[REASON_HEADER]
    assert dead.key == b"m-agent"
    assert bad.cell_key not in worker_modules.cells


async def test_a_shared_record_carries_the_time_of_its_restricted_record(worker_modules, agent,
                                                                         kafka_bootstrap):
    """Readers of both topics (the web, beside evaluation) match a shared record to the
    restricted one holding the same sums by their ``computed_at``."""
    restricted_reader = reader(worker_modules, kafka_bootstrap,
                               "mhin.evaluation.aggregate-restricted")
    shared_reader = reader(worker_modules, kafka_bootstrap, "mhin.evaluation.aggregate")
    observation = replace(PROPORTION, measure_id="m-agent-times", numerator=30.0)

    assert await put(agent, worker_modules, observation) == {"applied": 1}
    restricted_times = {key: record.computed_at.ToMicroseconds()
                        for key, record in restricted(restricted_reader.wait_for_count(8)).items()}
    # the shared records go out in the SPC round, on this loop: read them off it
    shared = restricted(await asyncio.to_thread(shared_reader.wait_for_count, 8))
    assert {key: record.computed_at.ToMicroseconds() for key, record in shared.items()} \
        == restricted_times
    restricted_reader.close()
    shared_reader.close()
