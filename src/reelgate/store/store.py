"""`Store`: one database, three repositories."""

from __future__ import annotations

import sqlalchemy as sa

from reelgate.store import db
from reelgate.store.idempotency import IdempotencyRepo
from reelgate.store.keys import KeyRepo
from reelgate.store.outbox import OutboxRepo
from reelgate.store.tasks import TaskRepo
from reelgate.store.workers import WorkerRepo


class Store:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.tasks = TaskRepo(engine)
        self.keys = KeyRepo(engine)
        self.outbox = OutboxRepo(engine)
        self.idempotency = IdempotencyRepo(engine)
        self.workers = WorkerRepo(engine)

    @property
    def inline_reads(self) -> bool:
        """Whether an indexed read is cheap enough to run on the event loop: SQLite in WAL mode
        answers from local memory and never waits for a writer; a networked PostgreSQL
        round trip would stall every other request, so its reads go to the thread pool."""
        return self.engine.dialect.name == "sqlite"

    @classmethod
    def open(cls, url: str) -> Store:
        return cls(db.create_engine(url))

    def ping(self) -> None:
        with db.read(self.engine) as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
