"""Configuration from environment variables, checked once at start-up.

Every variable carries the ``MHIN_`` prefix. A gRPC service declares its own settings
by subclassing :class:`ServiceSettings`, a process without gRPC (the stream
processors) by subclassing :class:`ProcessSettings`; :func:`load_settings` turns a
validation failure into :class:`SettingsError`, whose message names each bad
variable, so a misconfigured process stops at once with a line an operator can act on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mhin_platform.processes import parse_arcs
from mhin_platform.reference import Arc
from mhin_platform.tokens import Trust

ENV_PREFIX = "MHIN_"


class SettingsError(Exception):
    """Raised when the environment does not hold a valid configuration."""


class ProcessSettings(BaseSettings):
    """Settings every MHIN process shares, with or without a gRPC server."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    service_name: str = Field(default="mhin", min_length=1)
    kafka_bootstrap_servers: str = Field(default="127.0.0.1:9092", min_length=1)
    metrics_port: int = Field(default=0, ge=0, le=65535, description="0 turns the endpoint off")
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")


class ServiceSettings(ProcessSettings):
    """A gRPC service's settings (its database, its port, the tokens it trusts); the
    services extend this class. Its metrics endpoint listens on ``grpc_host`` too."""

    database_url: str = Field(default="sqlite:///mhin.db", min_length=1)
    grpc_host: str = "127.0.0.1"
    grpc_port: int = Field(default=50050, ge=0, le=65535)
    auth_trust: Path = Field(
        description="trust file: the token issuers accepted and their public keys (JWKS); "
                    "`make run` makes one",
    )
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    instance_arc: Arc | None = Field(
        default=None, description="set on an ARC's own instance: it accepts only that ARC's data"
    )
    # NoDecode: a comma-separated list of ARC names, not JSON.
    arcs_with_own_instance: Annotated[frozenset[Arc], NoDecode] = Field(
        default=frozenset(),
        description="set on a national instance: these ARCs' data goes to their own instances",
    )

    @field_validator("auth_trust")
    @classmethod
    def _trust_is_readable(cls, value: Path) -> Path:
        Trust.load(value)  # its ValueError says what is wrong with the file
        return value

    @field_validator("instance_arc", mode="before")
    @classmethod
    def _parse_arc(cls, value: object) -> object:
        return Arc.parse(value) if isinstance(value, str) and value else value or None

    @field_validator("arcs_with_own_instance", mode="before")
    @classmethod
    def _parse_arcs(cls, value: object) -> object:
        return frozenset(parse_arcs(value)) if isinstance(value, str) else value


S = TypeVar("S", bound=ProcessSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Read ``cls`` from the environment; raise SettingsError naming each bad variable."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = [_describe(cls, error) for error in exc.errors()]
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None


def _describe(cls: type[ProcessSettings], error: ErrorDetails) -> str:
    """One line for one bad variable; secrets and missing values are never echoed."""
    field = ".".join(str(part) for part in error["loc"])
    variable = f"{ENV_PREFIX}{field}".upper()
    if error["type"] == "missing":
        return f"{variable}: is required but not set"
    if "url" in field:
        return f"{variable}: {error['msg']} (value hidden)"
    return f"{variable}: {error['msg']} (got {error.get('input')!r})"
