"""Closed-loop gRPC load from a separate process, so the clients do not share the
server's interpreter (and its GIL): each client has its own channel and sends one
call after another for a fixed time. Requests and responses stay serialized bytes,
so the client costs the same whichever server it calls."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import grpc

WARMUP_FRACTION = 0.1  # calls in the first tenth of the time are not counted
CALL_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Call:
    """A unary method and the requests to cycle through (serialized)."""

    address: str
    method: str  # "/package.Service/Method"
    requests: tuple[bytes, ...]
    metadata: tuple[tuple[str, str], ...] = ()


async def _client(call: Call, first: int, step: int, warm_until: float, stop_at: float,
                  latencies: list[float]) -> None:
    async with grpc.aio.insecure_channel(call.address) as channel:
        rpc = channel.unary_unary(call.method)
        index = first
        while time.perf_counter() < stop_at:
            request = call.requests[index % len(call.requests)]
            index += step
            began = time.perf_counter()
            await rpc(request, metadata=call.metadata, timeout=CALL_TIMEOUT_SECONDS)
            if began >= warm_until:
                latencies.append((time.perf_counter() - began) * 1000)


async def _load(call: Call, clients: int, seconds: float) -> list[float]:
    began = time.perf_counter()
    warm_until, stop_at = began + seconds * WARMUP_FRACTION, began + seconds
    latencies: list[float] = []
    await asyncio.gather(*(_client(call, n, clients, warm_until, stop_at, latencies)
                           for n in range(clients)))
    return latencies


def _measure(call: Call, clients: int, seconds: float) -> list[float]:
    return asyncio.run(_load(call, clients, seconds))


class LoadGenerator:
    """One client process for a whole benchmark (starting Python and gRPC once)."""

    def __enter__(self) -> LoadGenerator:
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.shutdown()

    def latencies(self, call: Call, clients: int, seconds: float) -> list[float]:
        """Milliseconds of every call ``clients`` concurrent clients completed."""
        return self._pool.submit(_measure, call, clients, seconds).result()
