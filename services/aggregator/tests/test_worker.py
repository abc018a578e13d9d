"""The stream worker as it runs in production (a real process on a real broker),
judged by the checker: after duplicated deliveries, corrections, out-of-order
periods and SIGKILLs, every aggregate equals the recomputation from the
observation log, exactly, and no small count ever reaches the shared topic."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

import pytest

from mhin.evaluation.v1 import aggregate_events_pb2 as pb
from mhin.evaluation.v1.aggregate_events_pb2 import AggregateUpdated, SpcSignalRaised
from mhin_aggregator.checker import check, read_topic
from mhin_aggregator.checker import main as checker_main
from mhin_aggregator.settings import AGGREGATE_TOPIC, RESTRICTED_AGGREGATE_TOPIC, SPC_SIGNAL_TOPIC
from mhin_devkit.synthetic import Observation, workload
from mhin_measures.rates import MeasureType
from mhin_measures.spc import Direction
from mhin_platform.events.envelope import Event, event_from_record, new_event
from mhin_platform.reference import Arc

pytestmark = pytest.mark.integration

RECOVERY_STARTS = "Highwater for active changelog partitions"  # faust's log lines
WORKER_READY = "Worker ready"


def eventful_history(run, seed: int, *, sites: int, months: int) -> list[Event]:
    """A backfill as evaluation could publish it: periods out of order, a quarter of
    the cells corrected once or twice, a fifth of the events delivered twice, and
    some older versions delivered again after the newer ones."""
    rng = random.Random(seed)
    observations = list(workload(measures=3, sites=sites, months=months, seed=seed))
    rng.shuffle(observations)
    events = []
    for observation in observations:
        versions = [observation]
        for _ in range(rng.choice((0, 0, 0, 1, 2))):
            versions.append(versions[-1].corrected(
                numerator=min(versions[-1].denominator, versions[-1].numerator + rng.randint(0, 9))
                if observation.measure_type is MeasureType.PROPORTION
                else versions[-1].numerator + rng.randint(1, 9)))
        events += [run.event(version) for version in versions]
        if len(versions) > 1 and rng.random() < 0.5:
            events.append(run.event(versions[0]))  # stale: an older version, late
    duplicates = rng.sample(events, len(events) // 5)
    for duplicate in duplicates:
        events.insert(rng.randrange(events.index(duplicate), len(events) + 1), duplicate)
    return events


def latest(run, topic: str) -> dict[str, AggregateUpdated]:
    records = read_topic(run.settings.kafka_bootstrap_servers, run.settings.topic_name(topic))
    return {record.key.decode(): _decode(record, AggregateUpdated) for record in records}


def _decode(record, message_class):
    return event_from_record(record.topic, record.key, record.value,
                             record.headers).decode(message_class)


def test_duplicates_corrections_and_out_of_order_periods(worker_run):
    worker_run.publish(eventful_history(worker_run, seed=5, sites=6, months=4))
    worker_run.start()

    report = worker_run.checked()

    assert report.aggregates > 300
    shared = latest(worker_run, AGGREGATE_TOPIC)
    assert any(message.suppressed for message in shared.values())  # not vacuous


def test_a_correction_replaces_the_value_it_corrects(worker_run, monkeypatch, capsys):
    first = Observation(measure_id="m-count", site_id="site-a", arc=Arc.WEST, period="2024-02",
                        numerator=40)
    other = replace(first, site_id="site-b", numerator=10)
    worker_run.publish([worker_run.event(first), worker_run.event(other),
                        worker_run.event(first.corrected(numerator=25))])
    worker_run.start()
    worker_run.checked()

    restricted = latest(worker_run, RESTRICTED_AGGREGATE_TOPIC)
    arc = restricted["m-count|arc|WEST|2024-02|"]
    assert (arc.numerator, arc.value, arc.observation_count) == (35.0, 35.0, 2)
    status, verdict = run_checker_cli(worker_run, monkeypatch, capsys)
    assert (status, verdict) == (0, "OK: the aggregates equal the recomputation")


def test_a_worker_killed_mid_run_restarts_to_exact_aggregates_every_time(worker_run):
    events = eventful_history(worker_run, seed=11, sites=16, months=6)
    worker_run.publish(events)
    total = len(events)

    for left in (total * 3 // 4, total // 2, total // 4):
        ready = worker_run.logged(WORKER_READY)
        worker_run.start()
        worker_run.wait_for_log(WORKER_READY, ready + 1)  # recovered, now processing
        worker_run.wait_for_lag_below(left)  # committed this far, processing further on
        worker_run.kill()
    recoveries = worker_run.logged(RECOVERY_STARTS)
    worker_run.start()
    worker_run.wait_for_log(RECOVERY_STARTS, recoveries + 1)
    worker_run.kill()  # while it reads the changelog back
    worker_run.start()

    report = worker_run.checked()
    assert report.observations == total


def test_special_cause_in_a_series_raises_a_signal(worker_run):
    months = [f"2023-{month:02d}" for month in range(1, 13)] + ["2024-01"]
    counts = [100, 104, 98, 101, 97, 103, 99, 102, 100, 98, 101, 99, 400]
    worker_run.publish(
        worker_run.event(Observation(measure_id="m-spc", site_id="site-a",
                                     arc=Arc.WESSEX, period=period, numerator=count,
                                     direction=Direction.DOWN))
        for period, count in zip(months, counts, strict=True)
    )
    worker_run.start()
    worker_run.checked()

    records = read_topic(worker_run.settings.kafka_bootstrap_servers,
                         worker_run.settings.topic_name(SPC_SIGNAL_TOPIC))
    signals = {record.key.decode(): _decode(record, SpcSignalRaised) for record in records
               if _decode(record, SpcSignalRaised).period == "2024-01"}
    site = signals["m-spc|site|site-a|"]
    assert list(site.rules) == [pb.SPC_RULE_POINT_BEYOND_LIMIT]
    assert site.variation == pb.SPC_VARIATION_CONCERN
    assert site.value == 400.0 and site.upper_limit < 400.0
    assert set(signals) == {"m-spc|site|site-a|", "m-spc|arc|WESSEX|",
                            "m-spc|project|project-1|", "m-spc|national|national|"}


def test_the_checker_reports_a_wrong_aggregate_and_a_disclosed_small_count(
        worker_run, monkeypatch, capsys):
    observations = list(itertools.islice(workload(measures=1, sites=3, months=1), 10))
    worker_run.publish(worker_run.event(o) for o in observations)
    worker_run.start()
    worker_run.checked()
    worker_run.stop()

    restricted = latest(worker_run, RESTRICTED_AGGREGATE_TOPIC)
    key, message = next(iter(restricted.items()))
    wrong = AggregateUpdated()
    wrong.CopyFrom(message)
    wrong.numerator += 1
    leak = AggregateUpdated()
    leak.CopyFrom(message)
    leak.numerator, leak.denominator, leak.suppressed = 2.0, 50.0, False
    worker_run.publish([
        _event(worker_run, RESTRICTED_AGGREGATE_TOPIC, key, wrong),
        _event(worker_run, AGGREGATE_TOPIC, "m|site|x|2024-01|", leak),
    ])

    report = check(worker_run.settings)
    topic = worker_run.settings.topic_name(RESTRICTED_AGGREGATE_TOPIC)
    assert [(d.topic, d.key, d.problem.split(":")[0]) for d in report.differences
            if d.topic == topic] == [(topic, key, "numerator")]
    assert len(report.disclosure_breaches) == 1 and "numerator 2" in report.disclosure_breaches[0]
    assert not report.ok
    status, verdict = run_checker_cli(worker_run, monkeypatch, capsys)
    assert (status, verdict) == (1, "FAILED: 2 differences, 1 disclosure breaches")


def run_checker_cli(run, monkeypatch, capsys) -> tuple[int, str]:
    """``mhin-aggregator-check`` configured like the worker: exit status and verdict."""
    for name, value in run.env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        checker_main([])
    return exited.value.code, capsys.readouterr().out.splitlines()[-1]


def _event(run, topic: str, key: str, message) -> Event:
    return new_event(topic=run.settings.topic_name(topic), key=key, source="tests",
                     message=message)
