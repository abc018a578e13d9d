"""The database fixtures give real databases: SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from mhin_devkit.postgres import PostgresUnavailable, find_server_binaries

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(database_url: str):
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


def test_each_backend_is_what_its_id_says(request: pytest.FixtureRequest, engine: sa.Engine):
    backend = request.node.callspec.id
    assert backend in ("sqlite", "postgresql")
    assert engine.dialect.name == backend
    if backend == "sqlite":
        assert engine.url.database and engine.url.database.endswith(".sqlite3")
    else:
        assert engine.url.drivername == "postgresql+psycopg"


def test_database_starts_empty_and_persists_across_connections(engine: sa.Engine):
    assert sa.inspect(engine).get_table_names() == []
    with engine.begin() as conn:
        conn.execute(sa.text("create table note (id integer primary key, body text not null)"))
        conn.execute(sa.text("insert into note (id, body) values (1, 'written')"))
    engine.dispose()  # drop pooled connections: the next read opens a new one

    other = sa.create_engine(engine.url)
    try:
        with other.connect() as conn:
            assert conn.execute(sa.text("select body from note where id = 1")).scalar_one() == (
                "written"
            )
    finally:
        other.dispose()


def test_each_test_gets_its_own_database(database_url: str, postgres_database_url: str):
    assert database_url != postgres_database_url
    with_table = sa.create_engine(postgres_database_url)
    try:
        with with_table.begin() as conn:
            conn.execute(sa.text("create table marker (id integer)"))
    finally:
        with_table.dispose()
    fresh = sa.create_engine(database_url)
    try:
        assert sa.inspect(fresh).get_table_names() == []
    finally:
        fresh.dispose()


def test_postgresql_is_a_real_server(postgres_database_url: str):
    engine = sa.create_engine(postgres_database_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("select version()")).scalar_one()
            database = conn.execute(sa.text("select current_database()")).scalar_one()
        assert version.startswith("PostgreSQL ")
        assert database == sa.make_url(postgres_database_url).database
    finally:
        engine.dispose()


def test_postgresql_concurrent_transactions(postgres_database_url: str):
    """Read committed isolation and row locks, as only a real PostgreSQL provides them."""
    engine = sa.create_engine(postgres_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("create table account (id integer primary key, balance int)"))
            conn.execute(sa.text("insert into account values (1, 100)"))

        with engine.connect() as a, engine.connect() as b:
            a.begin()
            a.execute(sa.text("update account set balance = 50 where id = 1"))
            a.execute(sa.text("insert into account values (2, 7)"))

            # b cannot see a's uncommitted work (no dirty reads) ...
            b.begin()
            balance = sa.text("select balance from account where id = 1")
            assert b.execute(balance).scalar_one() == 100
            assert b.execute(sa.text("select count(*) from account")).scalar_one() == 1
            # ... and cannot lock the row a holds.
            with pytest.raises(OperationalError) as raised:
                b.execute(sa.text("select * from account where id = 1 for update nowait"))
            assert raised.value.orig.sqlstate == "55P03"  # lock_not_available
            b.rollback()

            a.commit()

            # Under read committed, b's next statement sees a's committed work.
            b.begin()
            assert b.execute(balance).scalar_one() == 50
            assert b.execute(sa.text("select count(*) from account")).scalar_one() == 2
            b.commit()
    finally:
        engine.dispose()


def test_missing_server_binaries_name_the_debian_package():
    with pytest.raises(PostgresUnavailable, match=r"apt-get install -y postgresql"):
        find_server_binaries(path="", roots=["/nonexistent/postgresql"])
