"""`SqlStore`: the store on one SQLite or PostgreSQL database; `open_store` picks by URL."""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from reelgate.store import db
from reelgate.store.base import (
    Idempotency,
    Keys,
    Listener,
    Outbox,
    Store,
    Tasks,
    WorkerRegistry,
)
from reelgate.store.clock import Clock
from reelgate.store.idempotency import IdempotencyRepo
from reelgate.store.keys import KeyRepo
from reelgate.store.memory import MemoryStore
from reelgate.store.notify import NotifyListener
from reelgate.store.outbox import OutboxRepo
from reelgate.store.tasks import TaskRepo
from reelgate.store.workers import WorkerRepo

MEMORY_URL = "memory://"


def open_store(url: str) -> Store:
    """`memory://` for a store that lives and dies with the process; else a database URL."""
    if url.startswith(MEMORY_URL):
        return MemoryStore()
    return SqlStore.open(url)


class SqlStore:
    """One database, five repositories.

    `clock` stamps the times people read; `lease_clock` is for tests that drive leases, locks,
    beats and reservations deterministically: None (always, in production) means the
    database's clock (store.clock says why).
    """

    def __init__(
        self, engine: sa.Engine, *, clock: Clock = time.time, lease_clock: Clock | None = None
    ) -> None:
        self.engine = engine
        self.tasks: Tasks = TaskRepo(engine, clock, lease_clock)
        self.keys: Keys = KeyRepo(engine)
        self.outbox: Outbox = OutboxRepo(engine, clock, lease_clock)
        self.idempotency: Idempotency = IdempotencyRepo(engine, lease_clock)
        self.workers: WorkerRegistry = WorkerRepo(engine, lease_clock)

    @classmethod
    def open(
        cls, url: str, *, clock: Clock = time.time, lease_clock: Clock | None = None
    ) -> SqlStore:
        return cls(db.create_engine(url), clock=clock, lease_clock=lease_clock)

    @property
    def inline_reads(self) -> bool:
        """Whether an indexed read is cheap enough to run on the event loop: SQLite in WAL mode
        answers from local memory and never waits for a writer; a networked PostgreSQL
        round trip would stall every other request, so its reads go to the thread pool."""
        return self.engine.dialect.name == "sqlite"

    def prepare(self) -> None:
        """SQLite is migrated in place (the one-machine default needs no separate step);
        PostgreSQL, shared by processes on many machines that may run different releases
        during a rollout, must be migrated by `reelgate migrate`, else SchemaBehindError."""
        if self.engine.dialect.name == "sqlite":
            db.upgrade(self.engine)
        else:
            db.check_current(self.engine)

    def listener(self, wake: Callable[[], None]) -> Listener | None:
        """LISTEN/NOTIFY on PostgreSQL; SQLite has no channel between processes (workers poll)."""
        if self.engine.dialect.name != "postgresql":
            return None
        return NotifyListener(self.engine.url, wake)

    def ping(self) -> None:
        with db.read(self.engine) as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
