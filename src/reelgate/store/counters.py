"""Per-owner task counters (`owner_counts`): queued + running (`active`) and running.

The quota check on create and the running cap in claim read one row here instead of counting
the owner's tasks, so their cost does not grow with the owner's history. Every status change
updates the row in the transaction that changes the task, so the counts are exact. The two
checks are conditional increments (`… WHERE active < :limit`): the row lock they take makes
concurrent creates or claims of one owner queue behind each other on PostgreSQL, so a limit
holds there too. A transaction locks counter rows after the existing task rows it changes (a
create's new task row conflicts with no one), and several owners' rows in id order, so the
counters add no lock cycle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cache

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from reelgate.errors import QuotaExceededError
from reelgate.store.schema import owner_counts

_OWNER = sa.bindparam("owner", type_=sa.String)
_READ = sa.select(owner_counts.c.active, owner_counts.c.running).where(
    owner_counts.c.owner_id == _OWNER
)
_ADJUST = (
    owner_counts.update()
    .where(owner_counts.c.owner_id == sa.bindparam("o"))
    .values(
        active=owner_counts.c.active + sa.bindparam("d_active"),
        running=owner_counts.c.running + sa.bindparam("d_running"),
    )
)
_TAKE_RUNNING = (
    owner_counts.update()
    .where((owner_counts.c.owner_id == _OWNER) & (owner_counts.c.running < sa.bindparam("cap")))
    .values(running=owner_counts.c.running + 1)
)


@cache
def _add_active(dialect: str, limited: bool) -> sa.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(owner_counts).values(owner_id=_OWNER, active=1, running=0)
    return stmt.on_conflict_do_update(
        index_elements=[owner_counts.c.owner_id],
        set_={"active": owner_counts.c.active + 1},
        where=(owner_counts.c.active < sa.bindparam("limit")) if limited else None,
    ).returning(owner_counts.c.active)


def read(conn: sa.Connection, owner_id: str) -> tuple[int, int]:
    """(active, running) of one owner."""
    row = conn.execute(_READ, {"owner": owner_id}).first()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def add_active(conn: sa.Connection, owner_id: str, limit: int | None) -> None:
    """Count one more queued task for the owner; with `limit`, only below it, else raise
    QuotaExceededError and change nothing."""
    if limit is not None and limit < 1:
        raise QuotaExceededError(read(conn, owner_id)[0], limit)
    stmt = _add_active(conn.dialect.name, limit is not None)
    if conn.execute(stmt, {"owner": owner_id, "limit": limit}).first() is None:
        raise QuotaExceededError(read(conn, owner_id)[0], limit or 0)


def take_running(conn: sa.Connection, owner_id: str, cap: int) -> bool:
    """Count one more running task for the owner if that keeps it within `cap`."""
    return conn.execute(_TAKE_RUNNING, {"owner": owner_id, "cap": cap}).rowcount == 1


def running_of(owner: sa.ColumnElement[str]) -> sa.ColumnElement[int]:
    """The owner's running count, for a claim's WHERE clause."""
    running = sa.select(owner_counts.c.running).where(owner_counts.c.owner_id == owner)
    return sa.func.coalesce(running.scalar_subquery(), 0)


def adjust(conn: sa.Connection, changes: Iterable[tuple[str, int, int]]) -> None:
    """Apply (owner, Δactive, Δrunning) changes, one update per owner, in owner order."""
    totals: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for owner_id, d_active, d_running in changes:
        totals[owner_id][0] += d_active
        totals[owner_id][1] += d_running
    params = [
        {"o": owner_id, "d_active": d_active, "d_running": d_running}
        for owner_id, (d_active, d_running) in sorted(totals.items())
        if d_active or d_running
    ]
    if params:
        conn.execute(_ADJUST, params)
