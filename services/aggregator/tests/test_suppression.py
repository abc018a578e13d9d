"""The shared topic as a worker publishes it, attacked: for an outsider (the shared
topic alone) and for each ARC (the shared topic and its own aggregates in full), no
suppressed figure can be recovered by subtraction (``tests/support/disclosure_audit``),
and the checker confirms every shared record follows the disclosure pattern."""

from __future__ import annotations

import random
from typing import Any

import pytest
from disclosure_audit import Seen, attack, audience_own_data, audience_shares, random_table

from mhin.evaluation.v1.aggregate_events_pb2 import AggregateUpdated
from mhin_aggregator.checker import read_topic
from mhin_aggregator.settings import AGGREGATE_TOPIC, RESTRICTED_AGGREGATE_TOPIC
from mhin_devkit.synthetic import Observation
from mhin_measures.rates import MeasureType
from mhin_platform.events.envelope import event_from_record
from mhin_platform.reference import Arc

pytestmark = pytest.mark.integration

ARCS = (Arc.GREATER_MANCHESTER.name, Arc.YORKSHIRE_AND_HUMBER.name, Arc.NORTH_WEST_COAST.name)
PERIODS = ("2025-01", "2025-02")


def test_the_shared_topic_gives_no_suppressed_figure_away(worker_run):
    rng = random.Random("aggregator-complementary")
    tables = {}
    events = []
    for kind in (MeasureType.COUNT, MeasureType.PROPORTION):
        measure = f"m-{kind.value}"
        for period in PERIODS:
            table = random_table(rng, kind, stratifiers=("sex",), arcs=ARCS,
                                 project="project-1", most_sites=2)
            tables[(measure, period)] = table
            events += [worker_run.event(Observation(
                measure_id=measure, site_id=site, arc=Arc[arc], period=period,
                numerator=numerator, denominator=denominator, stratum=stratum,
                measure_type=kind, multiplier=100.0 if kind is MeasureType.PROPORTION else 1.0))
                for site, arc, stratum, numerator, denominator in table.observations]
    worker_run.publish(events)
    worker_run.start()
    worker_run.checked()  # every shared record as the pattern has it, every figure exact

    shared = latest(worker_run, AGGREGATE_TOPIC)
    restricted = latest(worker_run, RESTRICTED_AGGREGATE_TOPIC)
    secondary = 0
    for (measure, period), table in tables.items():
        for arc in ("", *ARCS):
            seen = {}
            for key, cell in table.cells.items():
                record = f"{measure}|{key.level}|{key.unit}|{period}|{key.stratum}"
                message = restricted[record] if cell.owner == arc and arc else shared[record]
                secondary += message.secondary_suppressed
                seen[key] = Seen(None, None) if message.suppressed else Seen(
                    message.numerator, message.denominator)
            audit = attack(table.measure_type, seen, table.parents, 5,
                           audience_own_data(table.measure_type, table.cells, table.parents, arc),
                           audience_shares(table.cells, table.parents, arc), table.cells)
            assert audit.findings == [], (measure, period, arc, audit.findings[:3])
    assert secondary, "some aggregates are withheld only to protect others"


def latest(run: Any, topic: str) -> dict[str, AggregateUpdated]:
    records = read_topic(run.settings.kafka_bootstrap_servers, run.settings.topic_name(topic))
    return {record.key.decode(): event_from_record(
        record.topic, record.key, record.value, record.headers).decode(AggregateUpdated)
        for record in records}

