"""Every service's migrations build exactly the schema its store declares, and the
platform's own tables (outbox, processed events) exactly what the platform declares,
on SQLite and on PostgreSQL: a column added to a model without a migration, or a
migration that drifts from the model, fails here rather than in production."""

from __future__ import annotations

import importlib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mhin_devkit.harness import migrated_database
from mhin_platform.events.tables import platform_metadata

pytestmark = pytest.mark.integration

SERVICES = ("needs", "catalogue", "projects", "governance", "evaluation")


def _differences(database, metadata, include) -> list:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_name": include})
        return compare_metadata(context, metadata)


def _is_platform_table(name: str, kind: str) -> bool:
    return kind == "table" and name.startswith("mhin_")


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_match_the_service_models(service, database_url):
    definition = importlib.import_module(f"mhin_{service}.main").DEFINITION
    store = importlib.import_module(f"mhin_{service}.store")
    with migrated_database(definition, database_url) as database:
        assert _differences(database, store.metadata,
                            lambda name, kind, parent: not _is_platform_table(name, kind)) == []
        assert _differences(database, platform_metadata,
                            lambda name, kind, parent: kind != "table"
                            or _is_platform_table(name, kind)) == []
