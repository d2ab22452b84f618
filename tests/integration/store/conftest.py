"""The task store's contract suite runs on real SQLite and real PostgreSQL (a fresh schema per
test; see tests/support/postgres.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reelgate.store import db
from reelgate.store.store import Store
from tests.support.postgres import fresh_schema


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
        db.upgrade(store.engine)
        yield store
        store.close()
        return
    with fresh_schema() as (_, url):
        store = Store.open(url)
        db.upgrade(store.engine)
        try:
            yield store
        finally:
            store.close()
