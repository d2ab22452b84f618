"""The worker registry: each worker upserts its row on every beat, and a row whose beat is
older than the liveness window is a dead worker (kept for the operator, ignored for routing).

Beats are stamped and compared by the database's clock (store.clock): the API that asks who is
live and the workers that beat run on different machines.
"""

from __future__ import annotations

import sqlalchemy as sa

from reelgate.store import db
from reelgate.store.base import WorkerInfo
from reelgate.store.clock import Clock, shared_now
from reelgate.store.schema import workers


class WorkerRepo:
    """`lease_clock` replaces the database's clock in tests (None: the database's)."""

    def __init__(self, engine: sa.Engine, lease_clock: Clock | None = None) -> None:
        self._engine = engine
        self._lease_clock = lease_clock

    def _now(self) -> sa.ColumnElement[float]:
        return shared_now(self._engine.dialect, self._lease_clock)

    def beat(self, infos: list[WorkerInfo]) -> None:
        """Insert or refresh these workers' rows, stamped with the database's clock: the
        `started_at` and `heartbeat_at` a worker reports are its own clock's, so they are not
        used (a first beat's row starts when it beats)."""
        with db.write(self._engine) as conn:
            for info in infos:
                values = {
                    "hostname": info.hostname,
                    "pid": info.pid,
                    "models": list(info.models),
                    "device": info.device,
                    "heartbeat_at": self._now(),
                    "current_task_id": info.current_task_id,
                }
                updated = conn.execute(
                    workers.update().where(workers.c.id == info.id).values(**values)
                ).rowcount
                if not updated:
                    conn.execute(
                        workers.insert().values(id=info.id, started_at=self._now(), **values)
                    )

    def remove(self, ids: list[str]) -> None:
        with db.write(self._engine) as conn:
            conn.execute(workers.delete().where(workers.c.id.in_(ids)))

    def live(self, window_seconds: float) -> list[WorkerInfo]:
        """Workers whose last beat is within the window."""
        query = (
            sa.select(workers)
            .where(workers.c.heartbeat_at >= self._now() - window_seconds)
            .order_by(workers.c.hostname, workers.c.id)
        )
        with db.read(self._engine) as conn:
            return [
                WorkerInfo(
                    id=row["id"],
                    hostname=row["hostname"],
                    pid=row["pid"],
                    models=tuple(row["models"]),
                    device=row["device"],
                    started_at=row["started_at"],
                    heartbeat_at=row["heartbeat_at"],
                    current_task_id=row["current_task_id"],
                )
                for row in conn.execute(query).mappings()
            ]

    def prune(self, older_than_seconds: float) -> int:
        """Forget workers silent for longer than this (a day, say)."""
        with db.write(self._engine) as conn:
            return conn.execute(
                workers.delete().where(workers.c.heartbeat_at < self._now() - older_than_seconds)
            ).rowcount
