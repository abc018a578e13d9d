"""A process that serves the standard gRPC health service on the port it is given
until a file names its pid, then stops its server but stays alive: the shape of a
service whose shutdown hangs (it neither serves nor exits)."""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


def main(port: int, stall_file: Path) -> None:
    server = grpc.server(ThreadPoolExecutor(2))
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    while not (stall_file.exists() and stall_file.read_text().strip() == str(os.getpid())):
        time.sleep(0.1)
    server.stop(0).wait()
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]))
