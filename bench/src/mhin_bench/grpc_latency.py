"""gRPC: unary write and read latency of needs-intake (SubmitNeed, GetNeed) on
SQLite, at several client counts, against a no-op echo server in this process.

The service runs in full (interceptors, SQLite in WAL mode, the outbox relay
publishing to the suite's broker); the echo server is a bare ``grpc.server`` with
the same thread pool size that returns the request it got. Both are served from
this process and called from one client process, run after run, so the ratio
ours/echo holds on a busy machine even when the milliseconds do not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc

from mhin.common.v1 import arc_pb2, organisation_pb2, priority_area_pb2
from mhin.needs.v1 import needs_pb2, needs_pb2_grpc
from mhin_bench.context import BenchContext, Sizes
from mhin_bench.figures import Figure, at_most, percentile, ratios
from mhin_bench.load import Call, LoadGenerator
from mhin_devkit.harness import bearer, running_service
from mhin_needs.main import DEFINITION

SERVICE = "/mhin.needs.v1.NeedsService"
ECHO = "/bench.Echo/Echo"
SERVER_THREADS = 16  # as mhin_platform.grpc.server.GrpcService
READ_SET = 200  # needs the readers cycle through
TARGET_CLIENTS = 8
WRITE_P99_MS, READ_P99_MS = 10.0, 5.0


def need_draft(index: int) -> needs_pb2.NeedDraft:
    return needs_pb2.NeedDraft(
        submitter=needs_pb2.Organisation(name="Pennine Care NHS FT",
                                         type=organisation_pb2.ORGANISATION_TYPE_NHS_TRUST),
        arc=arc_pb2.ARC_GREATER_MANCHESTER,
        title=f"Crisis support for young people out of hours ({index})",
        description="No out-of-hours crisis line for under-18s in the area.",
        population="young people in crisis",
        age_group=needs_pb2.AGE_GROUP_YOUNG_PEOPLE,
        priority_area=priority_area_pb2.PRIORITY_AREA_UNCATEGORISED,
        sources=[needs_pb2.NeedSource(
            scoping_exercise=needs_pb2.ScopingExerciseResponse(response_ref="SE-2021-017"))],
    )


@contextlib.contextmanager
def echo_server() -> Iterator[str]:
    """A gRPC server doing nothing but returning the request bytes."""
    server = grpc.server(ThreadPoolExecutor(SERVER_THREADS))
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(lambda request, _: request)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0)


def stored_need_ids(address: str, metadata: tuple, count: int) -> list[str]:
    with grpc.insecure_channel(address) as channel:
        stub = needs_pb2_grpc.NeedsServiceStub(channel)
        return [stub.SubmitNeed(needs_pb2.SubmitNeedRequest(need=need_draft(n)),
                                metadata=metadata).need.id for n in range(count)]


def run(context: BenchContext, sizes: Sizes) -> list[Figure]:
    database_url = f"sqlite:///{context.folder('grpc')}/needs.db"
    metadata = bearer("national_admin")
    with (running_service(DEFINITION, database_url=database_url,
                          kafka_bootstrap=context.bootstrap) as service,
          echo_server() as echo_address,
          LoadGenerator() as load):
        address = f"127.0.0.1:{service.port}"
        ids = stored_need_ids(address, metadata, READ_SET)
        write_requests = tuple(needs_pb2.SubmitNeedRequest(need=need_draft(n))
                               .SerializeToString() for n in range(100))
        calls = {
            "echo": Call(echo_address, ECHO, write_requests),
            "SubmitNeed": Call(address, f"{SERVICE}/SubmitNeed", write_requests, metadata),
            "GetNeed": Call(address, f"{SERVICE}/GetNeed", tuple(
                needs_pb2.GetNeedRequest(need_id=i).SerializeToString() for i in ids), metadata),
        }
        figures: list[Figure] = []
        for clients in sizes.grpc_clients:
            p50: dict[str, list[float]] = {name: [] for name in calls}
            p99: dict[str, list[float]] = {name: [] for name in calls}
            for _ in range(sizes.runs):
                for name, call in calls.items():
                    latencies = load.latencies(call, clients, sizes.grpc_seconds)
                    p50[name].append(percentile(latencies, 0.50))
                    p99[name].append(percentile(latencies, 0.99))
            figures += _figures(clients, p50, p99)
    return figures


def _figures(clients: int, p50: dict[str, list[float]],
             p99: dict[str, list[float]]) -> list[Figure]:
    at = f"@ {clients} client{'s' if clients > 1 else ''}"
    targets = {"SubmitNeed": at_most(WRITE_P99_MS), "GetNeed": at_most(READ_P99_MS)}
    figures = [Figure(f"echo p50 {at}", "ms", p50["echo"], note="no-op gRPC server"),
               Figure(f"echo p99 {at}", "ms", p99["echo"], note="no-op gRPC server")]
    for name, what in (("SubmitNeed", "write: SQLite + outbox"), ("GetNeed", "read by id")):
        figures += [
            Figure(f"{name} p50 {at}", "ms", p50[name], note=what),
            Figure(f"{name} p99 {at}", "ms", p99[name], note=what,
                   target=targets[name] if clients == TARGET_CLIENTS else None),
            Figure(f"{name} p99 / echo p99 {at}", "×", ratios(p99[name], p99["echo"]),
                   note="same clients, same run"),
        ]
    return figures
