"""The clock that every deadline shared between processes is read from: the database's.

Machines' clocks drift apart by seconds or minutes. A lease written as "my time + 30 s" by a
worker and checked against "my time" by a reaper on another machine expires live tasks (or keeps
dead ones) by the difference. So leases, outbox locks and retries, worker beats and idempotency
reservations are stamped and compared in SQL with the database server's clock, the one clock
all processes share; times only shown to people (created, started, finished) keep the
process clock.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

Clock = Callable[[], float]

# Unix seconds as a float, evaluated by the database; SQLite's 'now' is fixed for one statement.
_SQLITE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"


def shared_now(dialect: sa.Dialect, override: Clock | None = None) -> sa.ColumnElement[float]:
    """Now by the database's clock, for use inside a statement; with `override` (tests that
    drive leases deterministically), that clock's value instead."""
    if override is not None:
        return sa.literal(override(), sa.Float)
    if dialect.name == "postgresql":
        # clock_timestamp(), not now(): now() is frozen at the start of the transaction.
        return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Float)
    return sa.literal_column(_SQLITE_NOW, sa.Float)


def read_shared_now(conn: sa.Connection, override: Clock | None = None) -> float:
    """Now by the database's clock, fetched once so several statements agree on it."""
    if override is not None:
        return override()
    return float(conn.execute(sa.select(shared_now(conn.dialect))).scalar_one())
