"""A tiny 'service' used by the platform's event tests: a ledger of amounts whose
state changes publish events through the outbox. Run as a script it plays a
process that commits and is then killed before its relay can publish."""

from __future__ import annotations

import sys
import time

from google.protobuf.wrappers_pb2 import Int64Value
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.orm import Session

from mhin_platform.db import Database, upgrade
from mhin_platform.errors import InvalidArgument
from mhin_platform.events.consumer import Handler
from mhin_platform.events.envelope import Event, new_event
from mhin_platform.events.outbox import add_to_outbox

metadata = MetaData()
balances = Table(
    "balances",
    metadata,
    Column("account", String(50), primary_key=True),
    Column("amount", Integer, nullable=False),
)


def open_ledger(url: str) -> Database:
    upgrade(url)
    database = Database(url)
    metadata.create_all(database.engine)
    return database


def deposit(database: Database, topic: str, account: str, amount: int) -> Event:
    """State change and its event in one transaction."""
    event = new_event(topic=topic, key=account, source="/tests/ledger",
                      message=Int64Value(value=amount))
    with database.transaction() as session:
        add_amount(session, account, amount)
        add_to_outbox(session, event)
    return event


def add_amount(session: Session, account: str, amount: int) -> None:
    current = session.execute(
        select(balances.c.amount).where(balances.c.account == account)
    ).scalar_one_or_none()
    if current is None:
        session.execute(insert(balances).values(account=account, amount=amount))
    else:
        session.execute(
            update(balances).where(balances.c.account == account).values(amount=current + amount)
        )


def apply_deposit(session: Session, event: Event, message: Int64Value) -> None:
    if message.value <= 0:
        raise InvalidArgument("value", f"a deposit must be positive, got {message.value}")
    add_amount(session, event.key, message.value)


DEPOSIT_HANDLER = Handler(Int64Value, apply_deposit)


def balance(database: Database, account: str) -> int | None:
    with database.read() as session:
        return session.execute(
            select(balances.c.amount).where(balances.c.account == account)
        ).scalar_one_or_none()


if __name__ == "__main__":
    # Commit a deposit, say so, then hang until killed: the relay never runs.
    url, topic = sys.argv[1], sys.argv[2]
    committed = deposit(open_ledger(url), topic, "acct-1", 42)
    print(committed.id, flush=True)
    time.sleep(600)
