"""Does a claim, a create or a feed read cost more when the store holds a large backlog?

For SQLite (a file) and PostgreSQL (a fresh schema), each operation is timed on an empty store,
then again after 100,000 queued tasks spread over 5 models and 50 keys are added (one bulk
insert, counters filled as migration 0006 fills them, then ANALYZE as autovacuum would):
  - claim:  a worker of model `probe` claims the one queued `probe` task (inserted untimed
            before each claim), beside the other models' backlog;
  - create: a task for key `probe-key`, with the per-key quota check (`max_active`);
  - feed:   the owner's read of one task by id.
Prints the median and mean per operation in ms and the ratio full/empty; the target (issue 13)
is within 20 %.

    .venv/bin/python bench/bench_store_growth.py [--backlog 100000] [--repeat 300]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from reelgate.core.tasks import Action, GenerationSpec, NewTask
from reelgate.store import db
from reelgate.store.schema import tasks as tasks_table
from reelgate.store.store import SqlStore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.postgres import fresh_schema

MODELS = ("gen4", "gen3a_turbo", "wan", "ltx", "cogvideox")
KEYS = 50
PROBE_MODEL = "probe"
PROBE_KEY = "probe-key"


def new_task(model: str, owner: str) -> NewTask:
    spec = GenerationSpec(prompt="a cat", model=model, width=64, height=64, seconds=5, seed=1)
    return NewTask(
        id=str(uuid.uuid4()),
        owner_id=owner,
        dialect="cometapi",
        action=Action.TEXT_TO_VIDEO,
        spec=spec,
        callback_url=None,
        api_version="2024-11-06",
        created_at=time.time(),
    )


def fill(store: SqlStore, count: int) -> None:
    """`count` queued tasks over MODELS and KEYS in one transaction, then the owner counters."""
    rows = []
    for n in range(count):
        new = new_task(MODELS[n % len(MODELS)], f"key_{n % KEYS}")
        rows.append(
            {
                "id": new.id,
                "owner_id": new.owner_id,
                "dialect": new.dialect,
                "action": new.action.value,
                "status": "queued",
                "model": new.spec.model,
                "spec": new.spec.to_json(),
                "progress": 0.0,
                "created_at": new.created_at - 3600 + n * 0.001,  # older than every probe
                "callback_url": None,
                "runway_version": new.api_version,
            }
        )
    with store.engine.begin() as conn:
        conn.execute(tasks_table.insert(), rows)
        conn.execute(sa.text("DELETE FROM owner_counts"))
        conn.execute(
            sa.text(
                "INSERT INTO owner_counts (owner_id, active, running) "
                "SELECT owner_id, COUNT(*), 0 FROM tasks WHERE status = 'queued' "
                "GROUP BY owner_id"
            )
        )
    with store.engine.begin() as conn:
        # What autovacuum (PostgreSQL) or `PRAGMA optimize` would do after a bulk load: fresh
        # statistics, and plans made for the empty table dropped.
        conn.execute(sa.text("ANALYZE"))


class Probe:
    """The three operations against one store, each timed one call at a time."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.read_id = store.tasks.create(new_task(PROBE_MODEL, PROBE_KEY)).id
        store.tasks.claim("bench-setup", 30.0, models=[PROBE_MODEL])  # not the claims' target

    def claim(self) -> float:
        self.store.tasks.create(new_task(PROBE_MODEL, "probe-owner"))  # untimed
        started = time.perf_counter()
        claim = self.store.tasks.claim("bench-worker", 30.0, models=[PROBE_MODEL])
        took = time.perf_counter() - started
        assert claim is not None
        assert claim.task.spec.model == PROBE_MODEL
        return took

    def create(self) -> float:
        new = new_task("gen4", PROBE_KEY)
        started = time.perf_counter()
        self.store.tasks.create(new, max_active=10**9)
        return time.perf_counter() - started

    def feed(self) -> float:
        started = time.perf_counter()
        task = self.store.tasks.get(self.read_id, PROBE_KEY)
        took = time.perf_counter() - started
        assert task is not None
        return took


def run(name: str, empty_url: str, full_url: str, backlog: int, repeat: int) -> None:
    stores = {"empty": SqlStore.open(empty_url), "full": SqlStore.open(full_url)}
    try:
        for store in stores.values():
            db.upgrade(store.engine)
        started = time.perf_counter()
        fill(stores["full"], backlog)
        print(f"{name}: {backlog} queued tasks added in {time.perf_counter() - started:.1f} s")
        probes = {which: Probe(store) for which, store in stores.items()}
        times: dict[tuple[str, str], list[float]] = {}
        # The two stores take turns, one call each, so the machine's load falls on both alike.
        for _ in range(repeat):
            for op in ("claim", "create", "feed"):
                for which, probe in probes.items():
                    took = getattr(probe, op)()
                    times.setdefault((op, which), []).append(took * 1000)
    finally:
        for store in stores.values():
            store.close()
    for op in ("claim", "create", "feed"):
        e, f = times[(op, "empty")], times[(op, "full")]
        e50, f50 = statistics.median(e), statistics.median(f)
        print(
            f"  {op:7} empty p50 {e50:7.3f} ms mean {statistics.fmean(e):7.3f}"
            f" | {backlog} queued p50 {f50:7.3f} ms mean {statistics.fmean(f):7.3f}"
            f" | p50 ratio {f50 / e50:5.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; backlog {args.backlog}, {args.repeat} timed ops each"
    )
    with tempfile.TemporaryDirectory() as folder:
        run(
            "sqlite",
            f"sqlite:///{folder}/empty.db",
            f"sqlite:///{folder}/full.db",
            args.backlog,
            args.repeat,
        )
    if not args.no_postgres:
        with fresh_schema() as (_a, empty_url), fresh_schema() as (_b, full_url):
            run("postgresql", empty_url, full_url, args.backlog, args.repeat)


if __name__ == "__main__":
    main()
