"""The store shape every service shares: an aggregate kept as its JSON document in a
table beside the columns its queries filter and sort on, written over the version it
was read at (optimistic locking), read back in keyset pages.

A service's store declares its tables and, for each kind of aggregate, a
:class:`Documents` naming the table, the model and the filter columns; its queries
are then only the ``where`` and ``order by`` of what it asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.schema import SchemaItem
from sqlalchemy.sql.elements import ColumnElement

from mhin_platform.db.statements import rows_changed
from mhin_platform.errors import FailedPrecondition, NotFound

M = TypeVar("M", bound=BaseModel)
Columns = Callable[[Any], dict[str, object]]
Rows = Callable[[Any], Iterable[dict[str, object]]]


def _no_columns(_: object) -> dict[str, object]:
    return {}


def aggregate_id(item: Any) -> str:
    """The id of an aggregate (its ``id`` field, whatever its type)."""
    return str(item.id)


def _version(item: Any) -> int:
    return int(item.version)


def document_table(name: str, metadata: MetaData, *columns: SchemaItem, id_length: int = 36,
                   versioned: bool = True) -> Table:
    """A table of aggregates kept as documents: ``id``, the filter ``columns`` (with their
    indexes and constraints), ``version`` (unless the aggregate never changes) and
    ``document``."""
    version = [Column("version", Integer, nullable=False)] if versioned else []
    return Table(name, metadata, Column("id", String(id_length), primary_key=True), *columns,
                 *version, Column("document", Text, nullable=False))


class ChildRows:
    """The rows of ``table`` that index one list inside an aggregate (its areas, its
    links), ``rows`` of them computed from an aggregate, each with the aggregate's id
    in the ``parent`` column; written with the aggregate, replaced when it is."""

    def __init__(self, table: Table, parent: str, rows: Rows) -> None:
        self.table = table
        self._parent = table.c[parent]
        self._rows = rows

    def write(self, session: Session, items: Sequence[Any], replacing: bool) -> None:
        if replacing:
            ids = [aggregate_id(item) for item in items]
            session.execute(delete(self.table).where(self._parent.in_(ids)))
        values = [{self._parent.name: aggregate_id(item), **row}
                  for item in items for row in self._rows(item)]
        if values:
            session.execute(insert(self.table), values)


class Documents(Generic[M]):
    """Aggregates of one kind (``model``, with an ``id``) in ``table``: its ``id`` and
    ``document`` columns, ``version`` where the table has one (the aggregate's, checked
    on replace), the filter columns ``columns`` computes from an aggregate, and the
    ``children`` rows of its lists. ``noun`` names the kind in errors ("need",
    "selection call")."""

    def __init__(self, table: Table, model: type[M], noun: str,
                 columns: Columns = _no_columns, children: Sequence[ChildRows] = ()) -> None:
        self.table = table
        self.model = model
        self.noun = noun
        self._columns = columns
        self._children = children
        self._versioned = "version" in table.c

    def values(self, item: M) -> dict[str, object]:
        """Every stored column of ``item`` but its id."""
        values = {**self._columns(item), "document": item.model_dump_json()}
        if self._versioned:
            values["version"] = _version(item)
        return values

    def add(self, session: Session, item: M) -> None:
        self.add_many(session, [item])

    def add_many(self, session: Session, items: Sequence[M]) -> None:
        """Insert new aggregates in one statement (a bulk load)."""
        if items:
            session.execute(insert(self.table), [
                {"id": aggregate_id(item), **self.values(item)} for item in items])
            self._write_children(session, items, replacing=False)

    def replace(self, session: Session, item: M) -> None:
        """Store a changed aggregate over the version before it; FailedPrecondition if
        someone else changed it first."""
        table, item_id = self.table, aggregate_id(item)
        newer = update(table).where(table.c.id == item_id, table.c.version == _version(item) - 1)
        changed = rows_changed(session, newer.values(**self.values(item)))
        if changed != 1:
            raise FailedPrecondition(f"{self.noun} {item_id} was changed concurrently; retry")
        self._write_children(session, [item], replacing=True)

    def keep_latest(self, session: Session, item: M) -> bool:
        """A read model's rule: store ``item`` unless the same or a newer version of it
        is stored already (events may arrive again or out of order); True if stored."""
        table, item_id = self.table, aggregate_id(item)
        stored = session.execute(
            select(table.c.version).where(table.c.id == item_id)).scalar_one_or_none()
        if stored is None:
            self.add(session, item)
            return True
        if _version(item) <= stored:
            return False
        session.execute(update(table).where(table.c.id == item_id).values(**self.values(item)))
        self._write_children(session, [item], replacing=True)
        return True

    def _write_children(self, session: Session, items: Sequence[M], replacing: bool) -> None:
        for children in self._children:
            children.write(session, items, replacing)

    def find(self, session: Session, item_id: str) -> M | None:
        return self.first(session, self.select().where(self.table.c.id == item_id))

    def get(self, session: Session, item_id: str) -> M:
        """The aggregate; NotFound naming it if there is none."""
        found = self.find(session, item_id)
        if found is None:
            raise NotFound(f"{self.noun} {item_id!r} does not exist")
        return found

    def select(self) -> Select[Any]:
        """A query of the documents, to add ``where`` and ``order by`` to."""
        return select(self.table.c.document)

    def first(self, session: Session, query: Select[Any]) -> M | None:
        document = session.execute(query).scalars().first()
        return None if document is None else self.model.model_validate_json(document)

    def all(self, session: Session, query: Select[Any]) -> list[M]:
        return [self.model.model_validate_json(document)
                for document in session.execute(query).scalars()]


def after_keyset(query: Select[Any], columns: Sequence[ColumnElement[Any]],
                 keyset: Iterable[Any] | None) -> Select[Any]:
    """Rows after ``keyset`` (the values of ``columns`` of the last row of the previous
    page) in the order of ``columns``: the keyset page predicate."""
    if keyset is None:
        return query
    values = list(keyset)
    conditions = []
    for position, column in enumerate(columns):
        earlier = [columns[n] == values[n] for n in range(position)]
        conditions.append(and_(*earlier, column > values[position]))
    return query.where(or_(*conditions))
