"""needs-intake process: `mhin-needs` (configuration from MHIN_* variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mhin_needs import SERVICE_NAME, api
from mhin_needs.app import NeedsApp
from mhin_platform.runtime import ServiceDefinition, ServiceRuntime, run_service
from mhin_platform.settings import ServiceSettings


class NeedsSettings(ServiceSettings):
    service_name: str = SERVICE_NAME
    grpc_port: int = Field(default=50051, ge=0, le=65535)
    database_url: str = "sqlite:///needs-intake.db"


def register(server, runtime: ServiceRuntime) -> list[str]:
    return api.register(server, NeedsApp(runtime.database))


DEFINITION = ServiceDefinition(
    settings_class=NeedsSettings,
    migrations=Path(__file__).parent / "migrations" / "versions",
    register=register,
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
