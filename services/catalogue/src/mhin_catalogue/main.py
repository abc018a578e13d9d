"""solution-catalogue process: `mhin-catalogue` (configuration from MHIN_* variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mhin_catalogue import SERVICE_NAME, api, consumers
from mhin_catalogue.app import CatalogueApp, PrioritisationApp, seed_reference_data
from mhin_platform.runtime import ServiceDefinition, ServiceRuntime, run_service
from mhin_platform.settings import ServiceSettings


class CatalogueSettings(ServiceSettings):
    service_name: str = SERVICE_NAME
    grpc_port: int = Field(default=50052, ge=0, le=65535)
    database_url: str = "sqlite:///solution-catalogue.db"


def register(server, runtime: ServiceRuntime) -> list[str]:
    return api.register(server, CatalogueApp(runtime.database),
                        PrioritisationApp(runtime.database))


DEFINITION = ServiceDefinition(
    settings_class=CatalogueSettings,
    migrations=Path(__file__).parent / "migrations" / "versions",
    register=register,
    consumers=consumers.CONSUMERS,
    seed=lambda database, _settings: seed_reference_data(database),  # the same for every instance
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
