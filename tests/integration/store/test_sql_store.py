"""What only the SQL store has: the schema and its migrations, preparing a database, the
LISTEN/NOTIFY channel, the queue's indexes and the counters table against COUNT(*)."""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from reelgate.core.tasks import FailureCode, Outputs
from reelgate.errors import QuotaExceededError, SchemaBehindError
from reelgate.store import db
from reelgate.store.memory import MemoryStore
from reelgate.store.schema import metadata, owner_counts, tasks
from reelgate.store.store import SqlStore, open_store
from tests.integration.store.conftest import SQL_BACKENDS, sql_url
from tests.integration.store.factory import add_task, new_task
from tests.support.postgres import fresh_schema


def test_schema_has_expected_tables(sql_store: SqlStore) -> None:
    names = set(sa.inspect(sql_store.engine).get_table_names())
    assert {"tasks", "api_keys", "webhook_events", "webhook_attempts", "owner_counts"} <= names


def test_migrations_create_exactly_the_schema(sql_store: SqlStore) -> None:
    with sql_store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_sqlite_is_migrated_in_place_by_prepare(tmp_path: Path) -> None:
    store = SqlStore.open(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        with pytest.raises(SchemaBehindError):
            db.check_current(store.engine)
        store.prepare()
        db.check_current(store.engine)
        assert store.tasks.get(add_task(store), None) is not None
    finally:
        store.close()


def test_postgres_must_be_migrated_before_prepare() -> None:
    with fresh_schema() as (_, url):
        store = SqlStore.open(url)
        try:
            with pytest.raises(SchemaBehindError, match="reelgate migrate"):
                store.prepare()
            db.upgrade(store.engine)
            store.prepare()
            assert store.tasks.get(add_task(store), None) is not None
        finally:
            store.close()


def test_open_store_picks_the_store_by_url(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert isinstance(store, SqlStore)
        assert store.inline_reads
    finally:
        store.close()


def test_only_postgres_has_a_listener(sql_store: SqlStore) -> None:
    listener = sql_store.listener(lambda: None)
    assert (listener is not None) == (sql_store.engine.dialect.name == "postgresql")
    assert MemoryStore().listener(lambda: None) is None


def test_listener_wakes_when_another_process_queues_a_task() -> None:
    woken = threading.Event()
    with fresh_schema() as (_, url):
        api, worker = SqlStore.open(url), SqlStore.open(url)
        db.upgrade(api.engine)
        listener = worker.listener(woken.set)
        assert listener is not None
        listener.start()
        try:
            # LISTEN starts on the listener's own thread: queue until a wake-up arrives.
            deadline = time.monotonic() + 20
            while not woken.is_set() and time.monotonic() < deadline:
                add_task(api)
                woken.wait(0.5)
        finally:
            listener.stop()
            api.close()
            worker.close()
    assert woken.is_set()


def test_counters_table_matches_count_under_concurrent_work(sql_store: SqlStore) -> None:
    """Creates with a quota, capped claims, every kind of finish and the reaper, from several
    threads at once; then the counters must equal COUNT(*) over the tasks."""
    store = sql_store
    owners = ["o1", "o2", "o3"]
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(25):
                with contextlib.suppress(QuotaExceededError):
                    store.tasks.create(new_task(owner=rng.choice(owners)), max_active=6)
                claim = store.tasks.claim(f"w{seed}", rng.choice([30, 0.01]), None, 2)
                if claim is None:
                    continue
                action = rng.randrange(5)
                if action == 0:
                    store.tasks.succeed(claim, Outputs("v", "p"))
                elif action == 1:
                    store.tasks.fail(claim, "x", FailureCode.INTERNAL)
                elif action == 2:
                    store.tasks.release(claim)
                elif action == 3:
                    store.tasks.request_cancel(claim.task.id, claim.task.owner_id)
                    store.tasks.cancelled(claim)
                store.tasks.reap_expired(max_attempts=2)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.engine.connect() as conn:
        kept = {row[0]: (row[1], row[2]) for row in conn.execute(sa.select(owner_counts))}
        counted = {
            row[0]: (int(row[1]), int(row[2]))
            for row in conn.execute(
                sa.select(
                    tasks.c.owner_id,
                    sa.func.sum(sa.case((tasks.c.status.in_(["queued", "running"]), 1), else_=0)),
                    sa.func.sum(sa.case((tasks.c.status == "running", 1), else_=0)),
                ).group_by(tasks.c.owner_id)
            )
        }
    assert set(kept) == set(counted)
    assert kept == counted
    assert kept  # the threads did create tasks
    for owner, (active, running) in counted.items():
        assert (store.tasks.count_active(owner), store.tasks.count_running(owner)) == (
            active,
            running,
        )
        assert active <= 6
        assert running <= 2


@pytest.mark.parametrize("backend", SQL_BACKENDS)
def test_migration_fills_the_counters_from_existing_tasks(backend: str, tmp_path: Path) -> None:
    with sql_url(backend, tmp_path) as url:
        engine = db.create_engine(url)
        try:
            command.upgrade(db.alembic_config(engine), "0005")
            now = time.time()
            rows = [
                _row("a", "queued", now),
                _row("a", "queued", now + 1),
                _row("a", "running", now + 2),
                _row("a", "succeeded", now + 3),
                _row("b", "failed", now + 4),
                _row("c", "running", now + 5),
            ]
            with engine.begin() as conn:
                conn.execute(tasks.insert(), rows)
            db.upgrade(engine)
            store = SqlStore(engine)
            assert (store.tasks.count_active("a"), store.tasks.count_running("a")) == (3, 1)
            assert (store.tasks.count_active("b"), store.tasks.count_running("b")) == (0, 0)
            assert (store.tasks.count_active("c"), store.tasks.count_running("c")) == (1, 1)
            with pytest.raises(QuotaExceededError):
                store.tasks.create(new_task(owner="a"), max_active=3)
            store.tasks.create(new_task(owner="b"), max_active=1)
            assert store.tasks.count_active("b") == 1
        finally:
            engine.dispose()


def _row(owner: str, status: str, created_at: float) -> dict[str, Any]:
    spec = new_task().spec.to_json()
    return {
        "id": str(uuid.uuid4()),
        "owner_id": owner,
        "dialect": "cometapi",
        "action": "TEXT_TO_VIDEO",
        "status": status,
        "model": spec["model"],
        "spec": spec,
        "progress": 0.0,
        "created_at": created_at,
        "runway_version": "2024-11-06",
    }


def _claim_plan(store: SqlStore, models: Sequence[str] | None, cap: int | None) -> str:
    """The database's plan for the statement a claim really runs."""
    captured: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if statement.lstrip().upper().startswith("UPDATE TASKS"):
            captured.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        store.tasks.claim("w", 30, models=models, max_running_per_owner=cap)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)
    statement, parameters = captured[0]
    sqlite = store.engine.dialect.name == "sqlite"
    with store.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters
        ).all()
    return "\n".join(str(row[-1] if sqlite else row[0]) for row in plan)


def test_a_claim_reads_only_its_models_queue(sql_store: SqlStore) -> None:
    """A large backlog of one model must not be read by a worker serving other models."""
    store = sql_store
    now = time.time()
    backlog = [_row("bulk", "queued", now + i) for i in range(5000)]
    for row in backlog:
        row["model"] = row["spec"]["model"] = "busy-model"
    with store.engine.begin() as conn:
        conn.execute(tasks.insert(), backlog)
    for model in ("m1", "m2"):
        add_task(store, model=model, created_at=now + 10_000)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE tasks")
    for models, cap in ((["m1"], None), (["m1", "m2"], None), (["m1", "m2"], 2)):
        plan = _claim_plan(store, models, cap)
        assert "ix_tasks_queue_model" in plan, plan
        assert "ix_tasks_queue " not in plan + " ", plan
    assert "ix_tasks_queue" in _claim_plan(store, None, None)


@pytest.mark.parametrize("backend", SQL_BACKENDS)
def test_migration_keeps_existing_keys_as_plain_keys(backend: str, tmp_path: Path) -> None:
    with sql_url(backend, tmp_path) as url:
        engine = db.create_engine(url)
        try:
            command.upgrade(db.alembic_config(engine), "0007")
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO api_keys (id, name, prefix, key_hash, created_at) "
                        "VALUES ('key_old', 'before 0008', 'rg_old', :hash, 1.0)"
                    ),
                    {"hash": "0" * 64},
                )
            db.upgrade(engine)
            store = SqlStore(engine)
            (old,) = store.keys.list()
            assert (old.id, old.admin) == ("key_old", False)
            made, _ = store.keys.create("after 0008", admin=True)
            assert store.keys.get(made.id) == made
            command.downgrade(db.alembic_config(engine), "0007")
            with engine.connect() as conn:
                columns = {c["name"] for c in sa.inspect(conn).get_columns("api_keys")}
            assert "admin" not in columns
        finally:
            engine.dispose()
