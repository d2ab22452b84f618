"""The store's contract suite runs on MemoryStore, real SQLite and real PostgreSQL (a fresh
schema per test; see tests/support/postgres.py).

`store` reads time as production does (the database's clock for SqlStore); `timed_store` runs
leases, locks, beats and reservations on a `FakeClock` that moves only when a test moves it,
so a test lets a lease lapse by advancing the clock instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from reelgate.store import db
from reelgate.store.base import Store
from reelgate.store.memory import MemoryStore
from reelgate.store.store import SqlStore
from tests.support.postgres import fresh_schema

BACKENDS = ["memory", "sqlite", "postgresql"]
SQL_BACKENDS = ["sqlite", "postgresql"]


class FakeClock:
    """Starts at the real time; moves only by `advance`."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@contextmanager
def sql_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of that backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    with fresh_schema() as (_, url):
        yield url


@contextmanager
def opened(backend: str, tmp_path: Path, clock: FakeClock | None = None) -> Iterator[Store]:
    """A migrated, prepared store of that backend; `clock` drives its shared deadlines."""
    if backend == "memory":
        yield MemoryStore(clock=clock or time.time)
        return
    with sql_url(backend, tmp_path) as url:
        store = SqlStore.open(url, lease_clock=clock)
        try:
            db.upgrade(store.engine)
            store.prepare()
            yield store
        finally:
            store.close()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    with opened(request.param, tmp_path) as store:
        yield store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=BACKENDS)
def timed_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[Store]:
    with opened(request.param, tmp_path, clock) as store:
        yield store


@pytest.fixture(params=SQL_BACKENDS)
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    with opened(request.param, tmp_path) as store:
        assert isinstance(store, SqlStore)
        yield store
