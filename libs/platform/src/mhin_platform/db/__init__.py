"""Storage shared by every service: one database per service, SQLite file by
default, PostgreSQL when the URL points at one, schema managed by Alembic."""

from mhin_platform.db.database import Base, Database
from mhin_platform.db.migrations import upgrade

__all__ = ["Base", "Database", "upgrade"]
