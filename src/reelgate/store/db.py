"""Connecting to the database, SQLite or PostgreSQL, and migrating it.

SQLite runs in WAL mode so readers (the feed) never wait for the single writer, with a busy
timeout so writers queue instead of failing. Write transactions start with `BEGIN IMMEDIATE`:
a deferred transaction that reads and then writes can fail to upgrade its lock under
contention, which no busy timeout resolves. Reads ask for `readonly=True` and run each
statement on its own (autocommit), so they never take the write lock.

Within one process, SQLite writers also queue on a lock of their own (`write`) before they ask
SQLite: a writer that finds the database locked sleeps in SQLite's busy handler, in steps that
grow to 100 ms, and may lose the lock again to a newcomer, so under 32 concurrent creates some
waited over a second while the lock sat free between sleeps. The busy timeout still orders
writers of different processes (`reelgate api` beside `reelgate worker`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from reelgate.errors import SchemaBehindError

SQLITE_BUSY_TIMEOUT_MS = 10_000


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


def create_engine(url: str, **kwargs: Any) -> sa.Engine:
    """An engine configured for reelgate's access pattern on SQLite or PostgreSQL."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # One pooled connection per thread that may query at once (the API's thread pool,
        # workers, notifier): an overflow connection is closed when returned, and opening a
        # new one (with its PRAGMAs) costs more than the query it serves.
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "isolation_level": None},
            pool_size=64,
            max_overflow=16,
            **kwargs,
        )
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        _WRITE_LOCKS[engine] = threading.RLock()
        return engine
    # At most 16 connections a process (API threads, workers, notifier, reaper share them):
    # with PostgreSQL's default max_connections of 100 that leaves room for ~6 processes;
    # raise max_connections (or put PgBouncer in front) for more.
    return sa.create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True, **kwargs)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    if conn.get_execution_options().get("readonly"):
        # No BEGIN at all: each SELECT runs in its own implicit read transaction, which is all
        # a single-statement read needs, and saves two round trips on the hottest path.
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE")


# One lock per SQLite engine, taken around each write transaction (see the module's docstring).
# Reentrant, so a thread that nests writes waits on SQLite as before rather than on itself.
_WRITE_LOCKS: weakref.WeakKeyDictionary[sa.Engine, threading.RLock] = weakref.WeakKeyDictionary()


@contextmanager
def write(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction: `BEGIN IMMEDIATE` on SQLite, after this process's earlier writers."""
    with _WRITE_LOCKS.get(engine) or nullcontext(), engine.begin() as conn:
        yield conn


@contextmanager
def read(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A read-only transaction (never takes SQLite's write lock)."""
    with engine.connect() as conn:
        conn = conn.execution_options(readonly=True)
        with conn.begin():
            yield conn


def alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("reelgate.store") / "migrations"))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: sa.Engine) -> None:
    """Apply every pending migration."""
    command.upgrade(alembic_config(engine), "head")


def check_current(engine: sa.Engine) -> None:
    """Raise SchemaBehindError unless the database is at the newest migration."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        raise SchemaBehindError(
            f"the database schema is at {current or 'nothing'} but this reelgate needs {head}: "
            "run `reelgate migrate` first"
        )
