"""The document store every service's store is built from, on SQLite and PostgreSQL:
version-checked replace, the read models' keep-latest rule, child rows written with
their aggregate, and keyset pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, func, select

from mhin_platform.db import Database
from mhin_platform.db.documents import ChildRows, Documents, after_keyset
from mhin_platform.errors import FailedPrecondition, NotFound

pytestmark = pytest.mark.integration

metadata = MetaData()
notes = Table(
    "notes", metadata,
    Column("id", String(36), primary_key=True),
    Column("written_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),
)
note_tags = Table(
    "note_tags", metadata,
    Column("note_id", String(36), primary_key=True),
    Column("tag", String(20), primary_key=True),
)
START = datetime(2026, 1, 1, tzinfo=UTC)


class Note(BaseModel):
    id: str
    text: str
    written_at: datetime
    version: int = 1
    tags: list[str] = []


store = Documents(notes, Note, "note", lambda note: {"written_at": note.written_at}, children=(
    ChildRows(note_tags, "note_id", lambda note: [{"tag": tag} for tag in note.tags]),))


def _tags(session) -> set[tuple[str, str]]:
    return {tuple(row) for row in session.execute(select(note_tags.c.note_id, note_tags.c.tag))}


@pytest.fixture
def database(database_url):
    database = Database(database_url)
    metadata.create_all(database.engine)
    yield database
    database.engine.dispose()


def test_a_replace_over_a_stale_version_is_refused_and_changes_nothing(database):
    with database.transaction() as session:
        store.add(session, Note(id="n1", text="first", written_at=START))
    with database.transaction() as session:
        store.replace(session, Note(id="n1", text="second", written_at=START, version=2))
    with pytest.raises(FailedPrecondition, match="note n1 was changed concurrently"):
        with database.transaction() as session:
            store.replace(session, Note(id="n1", text="lost", written_at=START, version=2))
    with database.read() as session:
        assert store.get(session, "n1").text == "second"
        assert store.find(session, "n2") is None
        with pytest.raises(NotFound, match="note 'n2' does not exist"):
            store.get(session, "n2")


def test_a_read_model_keeps_only_newer_versions(database):
    with database.transaction() as session:
        assert store.keep_latest(session, Note(id="n1", text="v2", written_at=START, version=2))
        assert not store.keep_latest(session, Note(id="n1", text="v2 again", written_at=START,
                                                   version=2))
        assert not store.keep_latest(session, Note(id="n1", text="v1", written_at=START))
        assert store.keep_latest(session, Note(id="n1", text="v3", written_at=START, version=3))
    with database.read() as session:
        assert store.get(session, "n1").text == "v3"
        assert session.execute(select(func.count()).select_from(notes)).scalar_one() == 1


def test_child_rows_follow_every_write_of_their_aggregate_and_no_other(database):
    with database.transaction() as session:
        store.add_many(session, [Note(id="n1", text="a", written_at=START, tags=["x", "y"]),
                                 Note(id="n2", text="b", written_at=START, tags=["x"])])
    with database.transaction() as session:
        store.replace(session, Note(id="n1", text="a2", written_at=START, version=2, tags=["z"]))
        assert _tags(session) == {("n1", "z"), ("n2", "x")}
    with pytest.raises(FailedPrecondition):
        with database.transaction() as session:
            store.replace(session, Note(id="n2", text="stale", written_at=START, tags=[]))
    with database.transaction() as session:
        assert not store.keep_latest(session, Note(id="n2", text="old", written_at=START))
        assert store.keep_latest(session, Note(id="n2", text="b2", written_at=START, version=2,
                                               tags=["w"]))
        assert _tags(session) == {("n1", "z"), ("n2", "w")}


def test_keyset_pages_cover_every_row_once_in_order_even_with_equal_times(database):
    written = [Note(id=f"n{n:02d}", text=str(n), written_at=START + timedelta(hours=n // 3))
               for n in range(20)]
    with database.transaction() as session:
        store.add_many(session, list(reversed(written)))
    order = (notes.c.written_at, notes.c.id)
    seen: list[Note] = []
    keyset = None
    with database.read() as session:
        while page := store.all(session, after_keyset(
                store.select().order_by(*order).limit(7), order, keyset)):
            seen += page
            keyset = (page[-1].written_at, page[-1].id)
    assert [note.id for note in seen] == [note.id for note in written]
