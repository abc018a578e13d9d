"""governance process: `mhin-governance` (configuration from MHIN_* variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mhin_governance import SERVICE_NAME, api, consumers
from mhin_governance.app import GovernanceApp, seed_reference_bodies
from mhin_platform.runtime import ServiceDefinition, ServiceRuntime, run_service
from mhin_platform.settings import ServiceSettings


class GovernanceSettings(ServiceSettings):
    service_name: str = SERVICE_NAME
    grpc_port: int = Field(default=50054, ge=0, le=65535)
    database_url: str = "sqlite:///governance.db"


def register(server, runtime: ServiceRuntime) -> list[str]:
    return api.register(server, GovernanceApp(runtime.database))


DEFINITION = ServiceDefinition(
    settings_class=GovernanceSettings,
    migrations=Path(__file__).parent / "migrations" / "versions",
    register=register,
    consumers=consumers.CONSUMERS,
    seed=lambda database, _settings: seed_reference_bodies(database),  # the same for every instance
)


def main() -> None:
    run_service(DEFINITION)


if __name__ == "__main__":
    main()
