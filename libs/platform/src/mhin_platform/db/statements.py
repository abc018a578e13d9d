"""Statements the services share whose typing or SQL needs a word: how many rows a
write changed, and INSERT ... ON CONFLICT, which SQLite and PostgreSQL spell alike
through their own dialects' constructs."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

Upsert = sqlite.Insert | postgresql.Insert


def rows_changed(session: Session, statement: Executable) -> int:
    """Run an UPDATE or DELETE and say how many rows it changed."""
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount


def upsert_into(table: Table, dialect: str) -> Upsert:
    """An INSERT into ``table`` that can take ON CONFLICT, for ``dialect``."""
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise ValueError(f"no INSERT ... ON CONFLICT for the {dialect} dialect")
