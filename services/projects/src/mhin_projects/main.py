"""project-tracking process: `mhin-projects` (configuration from MHIN_* variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mhin_platform.runtime import ServiceDefinition, ServiceRuntime, run_service
from mhin_platform.settings import ServiceSettings
from mhin_projects import SERVICE_NAME, api
from mhin_projects.app import ProjectsApp, SelectionApp
from mhin_projects.consumers import CONSUMERS
from mhin_projects.reference import load_reference_data


class ProjectsSettings(ServiceSettings):
    service_name: str = SERVICE_NAME
    grpc_port: int = Field(default=50053, ge=0, le=65535)
    database_url: str = "sqlite:///project-tracking.db"


def register(server, runtime: ServiceRuntime) -> list[str]:
    return api.register(server, SelectionApp(runtime.database), ProjectsApp(runtime.database))


DEFINITION = ServiceDefinition(
    settings_class=ProjectsSettings,
    migrations=Path(__file__).parent / "migrations" / "versions",
    register=register,
    consumers=CONSUMERS,
    seed=lambda database, _settings: load_reference_data(database),  # the same for every instance
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
