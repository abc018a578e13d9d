"""Errors a service's domain raises, each mapped once to a gRPC status by the
server's error interceptor (see ``mhin_platform.grpc``).

Domain code raises these (or lets a pydantic ``ValidationError`` escape); it never
builds gRPC statuses itself, so the mapping stays the same in every service.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class: a request the service understood but will not carry out."""


class InvalidArgument(DomainError):
    """Bad input. ``field`` names the request field that is wrong (dotted path)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(DomainError):
    """The thing asked for does not exist."""


class AlreadyExists(DomainError):
    """A create would duplicate something that must be unique."""


class FailedPrecondition(DomainError):
    """The request is well formed, but the current state forbids it (e.g. an
    illegal phase transition)."""


class PermissionDenied(DomainError):
    """The caller is known but may not do this (e.g. another ARC's data)."""


class Unauthenticated(DomainError):
    """The caller did not prove who they are."""
