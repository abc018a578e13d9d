"""``mhin status``: each service's (and each ARC instance's) health, version and lag,
and each consumer group's lag."""

from __future__ import annotations

import json
import os
from typing import Any

import click
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.errors import KafkaError

from mhin.platform.v1 import service_info_pb2, service_info_pb2_grpc
from mhin_platform.processes import ProcessSpec, arc_layout, parse_arcs
from mhin_platform.reference import Arc

TIMEOUT_SECONDS = 2.0


def service_status(address: str) -> dict[str, Any]:
    with grpc.insecure_channel(address) as channel:
        try:
            checked = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=TIMEOUT_SECONDS)
            info = service_info_pb2_grpc.ServiceInfoServiceStub(channel).GetServiceInfo(
                service_info_pb2.GetServiceInfoRequest(), timeout=TIMEOUT_SECONDS)
        except grpc.RpcError as exc:
            return {"health": exc.code().name, "version": "", "started_at": ""}
    return {
        "health": health_pb2.HealthCheckResponse.ServingStatus.Name(checked.status),
        "version": info.version,
        "started_at": info.started_at.ToDatetime().isoformat(timespec="seconds") + "Z",
    }


def consumer_lag(bootstrap: str) -> dict[str, int]:
    """Messages each consumer group has yet to process, summed over its partitions."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        groups = sorted(group["group_id"] for group in admin.list_groups())
        committed = admin.list_group_offsets(groups) if groups else {}
        lags = {}
        for group, offsets in committed.items():
            ends = consumer.end_offsets(list(offsets))
            lags[group] = sum(max(ends[tp] - meta.offset, 0) for tp, meta in offsets.items())
        return dict(sorted(lags.items()))
    finally:
        consumer.close()
        admin.close()


def service_lag(spec: ProcessSpec, lags: dict[str, int]) -> int | None:
    """The lag of the service's consumer groups (``<name>.<consumer>``) together;
    None if it has none."""
    own = [lag for group, lag in lags.items() if group.startswith(f"{spec.name}.")]
    return sum(own) if own else None


def _arcs(ctx: click.Context, param: click.Parameter, value: str) -> list[Arc]:
    try:
        return parse_arcs(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@click.option("--kafka", "bootstrap", envvar="MHIN_KAFKA_BOOTSTRAP_SERVERS",
              default="127.0.0.1:9092", show_default=True, show_envvar=True)
@click.option("--arcs", default="", callback=_arcs,
              help="Also these ARCs' own instances, comma-separated, as given to `make "
                   "run-arcs` (e.g. greater-manchester,yorkshire-and-humber).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(bootstrap: str, arcs: list[Arc], as_json: bool) -> None:
    """Health and version of every service (and ARC instance), and the lag of every
    consumer group.

    Service addresses come from MHIN_<SERVICE>_ADDRESS (default 127.0.0.1:<port>),
    e.g. MHIN_EVALUATION_GREATER_MANCHESTER_ADDRESS for an ARC's instance.
    """
    try:
        lags: dict[str, int] | str = consumer_lag(bootstrap)
    except KafkaError as exc:
        lags = f"Kafka at {bootstrap} did not answer: {exc}"
    services = {}
    for spec in arc_layout(arcs):
        if spec.grpc_port is None:
            continue
        address = os.environ.get(spec.address_variable, f"127.0.0.1:{spec.grpc_port}")
        services[spec.name] = {"address": address, **service_status(address),
                               "lag": service_lag(spec, lags) if isinstance(lags, dict) else None}
    if as_json:
        click.echo(json.dumps({"services": services, "consumer_lag": lags}))
        return
    for name, row in services.items():
        lag = "-" if row["lag"] is None else f"lag {row['lag']}"
        click.echo(f"{name:<32} {row['address']:<18} {row['health']:<16} {row['version']:<8} "
                   f"{row['started_at']:<21} {lag}")
    if isinstance(lags, str):
        click.echo(lags, err=True)
        return
    click.echo("\nconsumer group lag:")
    for group, behind in lags.items():
        click.echo(f"  {group:<52} {behind}")
