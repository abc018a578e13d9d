"""Alembic, configured in code so a service ships only its revision files.

Every service database holds two migration branches: the platform's own (the
outbox and processed-events tables, in ``mhin_platform/db/alembic/versions``) and
the service's (its ``store/migrations`` folder). ``upgrade`` applies both heads.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ALEMBIC_DIR = Path(__file__).parent / "alembic"
PLATFORM_VERSIONS = ALEMBIC_DIR / "versions"


def alembic_config(url: str, service_versions: Path | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    locations = [str(PLATFORM_VERSIONS)]
    if service_versions is not None:
        locations.append(str(service_versions))
    config.set_main_option("version_locations", " ".join(locations))
    config.set_main_option("path_separator", "space")
    config.attributes["database_url"] = url
    return config


def upgrade(url: str, service_versions: Path | None = None) -> None:
    """Bring the database to the newest schema of the platform and the service."""
    command.upgrade(alembic_config(url, service_versions), "heads")
