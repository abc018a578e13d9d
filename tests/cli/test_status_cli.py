"""`mhin status` against a real service and a real broker."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from google.protobuf.wrappers_pb2 import Int64Value
from kafka import KafkaConsumer, OffsetAndMetadata

from mhin_cli.main import cli
from mhin_devkit.harness import running_service
from mhin_needs.main import DEFINITION
from mhin_platform.events.envelope import new_event
from mhin_platform.events.producer import create_producer, publish

pytestmark = pytest.mark.integration


def group_five_behind(kafka_bootstrap: str, topic: str, group: str) -> None:
    """``group`` has committed offset 0 on ``topic``, which then holds five events."""
    producer = create_producer(kafka_bootstrap, client_id="status-test")
    publish(producer, [new_event(topic=topic, key=str(i), source="/t",
                                 message=Int64Value(value=i)) for i in range(5)])
    producer.close()
    lagging = KafkaConsumer(topic, group_id=group, bootstrap_servers=kafka_bootstrap,
                            auto_offset_reset="earliest", enable_auto_commit=False)
    while not lagging.assignment():
        lagging.poll(timeout_ms=200)
    lagging.commit({tp: OffsetAndMetadata(0, "", -1) for tp in lagging.assignment()})
    lagging.close()


def test_status_shows_health_version_and_consumer_lag(tmp_path, kafka_bootstrap, new_topic,
                                                      declared_topics_created):
    group_five_behind(kafka_bootstrap, new_topic(partitions=2), "status-test-group")

    with running_service(DEFINITION, database_url=f"sqlite:///{tmp_path}/n.db",
                         kafka_bootstrap=kafka_bootstrap) as runtime:
        env = {"MHIN_NEEDS_INTAKE_ADDRESS": f"127.0.0.1:{runtime.port}",
               "MHIN_SOLUTION_CATALOGUE_ADDRESS": "127.0.0.1:1"}
        result = CliRunner().invoke(cli, ["status", "--kafka", kafka_bootstrap, "--json"],
                                    env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["services"]["needs-intake"]["health"] == "SERVING"
    assert report["services"]["needs-intake"]["version"] == "0.1.0"
    assert report["services"]["solution-catalogue"]["health"] == "UNAVAILABLE"
    assert report["consumer_lag"]["status-test-group"] == 5
    assert not any("greater-manchester" in name for name in report["services"])


def test_status_with_arcs_shows_their_own_instances_health_and_lag(
        tmp_path, kafka_bootstrap, new_topic, declared_topics_created):
    instance = "needs-intake-greater-manchester"
    group_five_behind(kafka_bootstrap, new_topic(), f"{instance}.status-test")

    with running_service(DEFINITION, database_url=f"sqlite:///{tmp_path}/gm.db",
                         kafka_bootstrap=kafka_bootstrap, service_name=instance,
                         instance_arc="greater-manchester") as runtime:
        env = {"MHIN_NEEDS_INTAKE_GREATER_MANCHESTER_ADDRESS": f"127.0.0.1:{runtime.port}",
               "MHIN_EVALUATION_GREATER_MANCHESTER_ADDRESS": "127.0.0.1:1"}
        args = ["status", "--kafka", kafka_bootstrap, "--arcs", "greater-manchester"]
        report = json.loads(CliRunner().invoke(cli, [*args, "--json"], env=env).stdout)
        table = CliRunner().invoke(cli, args, env=env).output
    assert (report["services"][instance]["health"], report["services"][instance]["lag"]) == (
        "SERVING", 5)
    assert report["services"]["evaluation-greater-manchester"]["health"] == "UNAVAILABLE"
    assert "needs-intake" in report["services"], "the national processes are listed too"
    [row] = [line for line in table.splitlines() if line.startswith(instance)]
    assert row.split()[2:4] == ["SERVING", "0.1.0"] and row.endswith("lag 5")


def test_status_names_an_unknown_arc():
    result = CliRunner().invoke(cli, ["status", "--arcs", "greater-manchester,atlantis"])
    assert result.exit_code == 2
    assert "--arcs" in result.output and "'atlantis' is not one of" in result.output
