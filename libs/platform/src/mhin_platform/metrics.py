"""The process's Prometheus endpoint and the metrics every service shares."""

from __future__ import annotations

import threading

from prometheus_client import Counter, Histogram, start_http_server

GRPC_CALLS = Counter(
    "mhin_grpc_server_calls",
    "gRPC calls handled, by full method name and status code.",
    ["method", "code"],
)
GRPC_CALL_SECONDS = Histogram(
    "mhin_grpc_server_call_duration_seconds",
    "Time from receiving a gRPC call to its status, by full method name.",
    ["method"],
)

_lock = threading.Lock()
_bound_port: int | None = None


def start_metrics_server(port: int, host: str = "127.0.0.1") -> int:
    """Serve ``/metrics`` on ``host:port`` (0 picks a free port); return the port.

    The registry belongs to the process, so there is one endpoint per process: later
    calls (a second server in the same process, a test) get the running one's port.
    """
    global _bound_port
    with _lock:
        if _bound_port is None:
            http_server, _thread = start_http_server(port, addr=host)
            _bound_port = http_server.server_port
        return _bound_port
