"""gRPC server bootstrap: health, reflection, interceptors, metrics, graceful shutdown."""

from mhin_platform.grpc.interceptors import (
    CORRELATION_ID_METADATA_KEY,
    FIELD_METADATA_KEY,
    server_interceptors,
)
from mhin_platform.grpc.server import GrpcService, Register, serve

__all__ = [
    "CORRELATION_ID_METADATA_KEY",
    "FIELD_METADATA_KEY",
    "GrpcService",
    "Register",
    "serve",
    "server_interceptors",
]
