"""Idempotency keys: a retried create returns the task the first request made.

A key is reserved (a row with no task yet) in its own short transaction, then bound to the task
in the transaction that inserts the task, so the pair is stored atomically. A second request
that finds the reservation unbound gets "in flight" (409); one with another body gets
"mismatch" (422). A reservation whose request died before binding it (a crash between the two
transactions) is taken over after `STALE_RESERVATION_SECONDS`, so a key is never stuck.
Keys live `KEY_TTL_SECONDS` (24 h). Both ages are measured by the database's clock
(store.clock): the retry may reach another API replica whose clock differs.
"""

from __future__ import annotations

import sqlalchemy as sa

from reelgate.store import db
from reelgate.store.base import Reservation, ReserveResult
from reelgate.store.clock import Clock, read_shared_now, shared_now
from reelgate.store.rules import KEY_TTL_SECONDS, STALE_RESERVATION_SECONDS
from reelgate.store.schema import idempotency_keys

__all__ = ["KEY_TTL_SECONDS", "STALE_RESERVATION_SECONDS", "IdempotencyRepo", "bind_statement"]


class IdempotencyRepo:
    """`lease_clock` replaces the database's clock in tests (None: the database's)."""

    def __init__(self, engine: sa.Engine, lease_clock: Clock | None = None) -> None:
        self._engine = engine
        self._lease_clock = lease_clock

    def reserve(self, owner_id: str, key: str, request_hash: str) -> ReserveResult:
        try:
            return self._reserve(owner_id, key, request_hash)
        except sa.exc.IntegrityError:
            # Another request inserted the same key between our read and our insert
            # (PostgreSQL); its row is visible now.
            return self._reserve(owner_id, key, request_hash)

    def _reserve(self, owner_id: str, key: str, request_hash: str) -> ReserveResult:
        match = (idempotency_keys.c.owner_id == owner_id) & (idempotency_keys.c.key == key)
        with db.write(self._engine) as conn:
            now = read_shared_now(conn, self._lease_clock)
            row = conn.execute(sa.select(idempotency_keys).where(match)).mappings().first()
            if row is not None and row["created_at"] < now - KEY_TTL_SECONDS:
                conn.execute(idempotency_keys.delete().where(match))
                row = None
            if row is None:
                conn.execute(
                    idempotency_keys.insert().values(
                        owner_id=owner_id, key=key, request_hash=request_hash, created_at=now
                    )
                )
                return ReserveResult(Reservation.NEW)
            if row["request_hash"] != request_hash:
                return ReserveResult(Reservation.MISMATCH)
            if row["task_id"] is not None:
                return ReserveResult(Reservation.REPLAY, row["task_id"])
            if row["created_at"] < now - STALE_RESERVATION_SECONDS:
                conn.execute(idempotency_keys.update().where(match).values(created_at=now))
                return ReserveResult(Reservation.NEW)
            return ReserveResult(Reservation.IN_FLIGHT)

    def release(self, owner_id: str, key: str) -> None:
        """Drop an unbound reservation (its request failed before making a task)."""
        with db.write(self._engine) as conn:
            conn.execute(
                idempotency_keys.delete().where(
                    (idempotency_keys.c.owner_id == owner_id)
                    & (idempotency_keys.c.key == key)
                    & idempotency_keys.c.task_id.is_(None)
                )
            )

    def purge_expired(self) -> int:
        now = shared_now(self._engine.dialect, self._lease_clock)
        with db.write(self._engine) as conn:
            return conn.execute(
                idempotency_keys.delete().where(
                    idempotency_keys.c.created_at < now - KEY_TTL_SECONDS
                )
            ).rowcount


def bind_statement(owner_id: str, key: str, task_id: str) -> sa.Update:
    """Bind a reservation to its task; run inside the task's insert transaction."""
    return (
        idempotency_keys.update()
        .where((idempotency_keys.c.owner_id == owner_id) & (idempotency_keys.c.key == key))
        .values(task_id=task_id)
    )
