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


def test_status_shows_health_version_and_consumer_lag(tmp_path, kafka_bootstrap, new_topic,
                                                      declared_topics_created):
    topic = new_topic(partitions=2)
    producer = create_producer(kafka_bootstrap, client_id="status-test")
    publish(producer, [new_event(topic=topic, key=str(i), source="/t",
                                 message=Int64Value(value=i)) for i in range(5)])
    producer.close()
    lagging = KafkaConsumer(topic, group_id="status-test-group",
                            bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
                            enable_auto_commit=False)
    while not lagging.assignment():
        lagging.poll(timeout_ms=200)
    lagging.commit({tp: OffsetAndMetadata(0, "", -1) for tp in lagging.assignment()})
    lagging.close()

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
