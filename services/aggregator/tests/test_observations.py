"""Reading observation records, without I/O: what is counted, ignored or refused."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mhin.evaluation.v1.aggregate_events_pb2 import AggregateUpdated
from mhin_aggregator.observations import Unusable, read_cell
from mhin_aggregator.rollup import Measure
from mhin_devkit.synthetic import Observation
from mhin_measures.rates import MeasureType
from mhin_measures.spc import Direction
from mhin_platform.events.envelope import new_event
from mhin_platform.reference import Arc

TOPIC = "mhin.evaluation.observation"
GOOD = Observation(measure_id="m1", site_id="site-1", arc=Arc.GREATER_MANCHESTER,
                   period="2024-03", stratum="ethnicity=Black", numerator=4, denominator=20,
                   version=2, measure_type=MeasureType.PROPORTION, multiplier=100.0,
                   direction=Direction.UP)


def record(observation: Observation = GOOD, *, key: str | None = None, partition: int = 3):
    event = observation.event(TOPIC)
    return (TOPIC, partition, (key or event.key).encode(), event.data, event.headers())


def test_an_observation_becomes_a_cell_of_its_partition():
    cell = read_cell(*record())
    assert cell is not None
    assert (cell.measure_id, cell.site_id, cell.arc, cell.project_id) == \
        ("m1", "site-1", "GREATER_MANCHESTER", "project-1")
    assert (cell.period, cell.stratum, cell.numerator, cell.denominator, cell.version) == \
        ("2024-03", "ethnicity=Black", 4.0, 20.0, 2)
    assert cell.measure == Measure(MeasureType.PROPORTION, 100.0, Direction.UP)
    assert cell.partition == 3


def test_another_event_type_on_the_topic_is_ignored():
    event = new_event(topic=TOPIC, key="m1", source="evaluation", message=AggregateUpdated())
    assert read_cell(TOPIC, 0, b"m1", event.data, event.headers()) is None


@pytest.mark.parametrize("change, reason", [
    ({"numerator": 30.0}, "below the numerator"),
    ({"stratum": "ethnicity=black"}, "not canonical"),
    ({"stratum": "colour=Blue"}, "unknown stratifier"),
    ({"period": "2024-3"}, "not a period id"),
    ({"version": 0}, "version must be 1 or more"),
    ({"site_id": ""}, "site_id is required"),
    ({"numerator": -1.0}, "must not be negative"),
    ({"multiplier": 0.0}, "multiplier must be a positive number"),
])
def test_an_observation_that_would_corrupt_the_sums_is_refused(change, reason):
    with pytest.raises(Unusable, match=reason):
        read_cell(*record(replace(GOOD, **change)))


def test_a_record_not_keyed_by_its_measure_is_refused():
    with pytest.raises(Unusable, match="is not the measure id"):
        read_cell(*record(key="site-1"))


def test_a_record_that_is_not_a_cloud_event_is_refused():
    with pytest.raises(Unusable, match="missing CloudEvents header"):
        read_cell(TOPIC, 0, b"m1", b"\x00garbage", [])
    topic, partition, key, _, headers = record()
    with pytest.raises(Unusable, match="does not parse"):
        read_cell(topic, partition, key, b"\xff\xff\xff", headers)
