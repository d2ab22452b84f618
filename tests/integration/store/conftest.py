"""The task store's contract suite runs on real SQLite and real PostgreSQL.

PostgreSQL is at 127.0.0.1:5432 (database `test`, trust auth) on developer machines and in CI;
each run gets a fresh schema. Under CI=true a PostgreSQL that cannot be reached fails the run
instead of skipping it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from reelgate.store import db
from reelgate.store.store import Store

PG_URL = os.environ.get("REELGATE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _sqlite(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    db.upgrade(store.engine)
    yield store
    store.close()


def _postgres() -> Iterator[Store]:
    schema = "t_" + secrets.token_hex(6)
    admin = sa.create_engine(db.normalise_url(PG_URL))
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    engine = db.create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    store = Store(engine)
    db.upgrade(engine)
    try:
        yield store
    finally:
        store.close()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        yield from _sqlite(tmp_path)
    else:
        yield from _postgres()
