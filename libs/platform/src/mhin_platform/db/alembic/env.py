"""Alembic environment shared by every service (see mhin_platform.db.migrations)."""

from alembic import context

from mhin_platform.db.database import create_database_engine

url = context.config.attributes["database_url"]
engine = create_database_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, render_as_batch=engine.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
engine.dispose()
