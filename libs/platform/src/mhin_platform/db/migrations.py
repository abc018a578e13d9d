"""Alembic, configured in code so a service ships only its revision files.

Every service database holds two migration branches: the platform's own (the
outbox and processed-events tables, in ``mhin_platform/db/alembic/versions``) and
the service's (its ``store/migrations`` folder). ``upgrade`` applies both heads.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from mhin_platform.db.database import create_database_engine

ALEMBIC_DIR = Path(__file__).parent / "alembic"
MIGRATION_LOCK_KEY = 0x4D48494E_4D494752  # any constant, the same in every replica
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
    """Bring the database to the newest schema of the platform and the service.

    On PostgreSQL, replicas starting together take turns (an advisory lock held for
    the duration), so one migrates and the others find the schema up to date."""
    config = alembic_config(url, service_versions)
    engine = create_database_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            command.upgrade(config, "heads")
            return
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            try:
                command.upgrade(config, "heads")
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
    finally:
        engine.dispose()
