"""The task queue's own cost, with an engine that does (almost) nothing.

Measures, on SQLite (and PostgreSQL with --postgres URL):
  - claim-to-start latency: tasks created one at a time at a steady rate while workers idle;
    the time from the task's insert to its claim (p50, p99);
  - completion throughput: N tasks queued at once, W workers draining them (tasks/s);
  - per-task overhead beyond engine time: each task's wall time in the worker, claim to
    commit, with an engine whose own time is nil (p50, p99).
The engine yields 24 frames of 16x16 (one second), so encoding is a few milliseconds and the rest
is reelgate: claim, lease keeper, progress writes, publishing the files, the fenced completion and
its outbox row.

    .venv/bin/python bench/bench_queue.py [--tasks 500] [--workers 3] [--postgres]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from reelgate.blobs.local import LocalBlobStore
from reelgate.core.tasks import Action, GenerationSpec, NewTask
from reelgate.engines.base import EngineContext, Frame
from reelgate.engines.registry import ModelRegistry
from reelgate.store import db
from reelgate.store.schema import tasks as tasks_table
from reelgate.store.store import SqlStore
from reelgate.worker.pool import WorkerPool
from reelgate.worker.runner import WorkerConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.postgres import fresh_schema


class NoopEngine:
    """Yields one black frame over and over: its own time is nil, so a task's whole wall time
    in the worker is reelgate's (claim, lease keeper, progress writes, encode, publish, commit)."""

    name = "noop"

    def generate(self, spec: GenerationSpec, ctx: EngineContext) -> Iterator[Frame]:
        frame = np.zeros((spec.height, spec.width, 3), np.uint8)
        for _ in range(spec.frames):
            yield frame


def _spec() -> GenerationSpec:
    return GenerationSpec(prompt="noop", model="noop", width=16, height=16, seconds=1, seed=1)


def _new() -> NewTask:
    return NewTask(
        id=str(uuid.uuid4()),
        owner_id="bench",
        dialect="cometapi",
        action=Action.TEXT_TO_VIDEO,
        spec=_spec(),
        callback_url=None,
        api_version="2024-11-06",
        created_at=time.time(),
    )


def _pool(store: SqlStore, data: Path, workers: int) -> WorkerPool:
    return WorkerPool(
        workers,
        store.tasks,
        LocalBlobStore(data / "blobs"),
        ModelRegistry({"noop": NoopEngine}),
        WorkerConfig(
            lease_seconds=30, heartbeat_seconds=5, poll_seconds=1.0, work_dir=data / "work"
        ),
        max_attempts=3,
        reap_seconds=5,
    )


def _wait_all(store: SqlStore, count: int) -> None:
    query = sa.select(sa.func.count()).where(tasks_table.c.status == "succeeded")
    while True:
        with db.read(store.engine) as conn:
            if conn.execute(query).scalar_one() >= count:
                return
        time.sleep(0.01)


def _times(store: SqlStore) -> list[tuple[float, float, float]]:
    query = sa.select(tasks_table.c.created_at, tasks_table.c.started_at, tasks_table.c.finished_at)
    with db.read(store.engine) as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(query)]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(url: str | None, tasks: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = SqlStore.open(url or f"sqlite:///{data / 'bench.db'}")
        db.upgrade(store.engine)
        kind = store.engine.dialect.name

        # Latency: one task at a time, 20 per second, workers idle. On SQLite the insert wakes
        # them in-process (as in `serve`); on PostgreSQL only LISTEN/NOTIFY does (as across
        # machines), with a 1 s poll as the fallback.
        pool = _pool(store, data, workers)
        listener = store.listener(pool.wake)
        pool.start()
        if listener is not None:
            listener.start()
            time.sleep(0.5)
        for _ in range(100):
            store.tasks.create(_new())
            if listener is None:
                pool.wake()
            time.sleep(0.05)
        _wait_all(store, 100)
        if listener is not None:
            listener.stop()
        pool.stop(5)
        pickup = [(s - c) * 1000 for c, s, _ in _times(store)]

        # Throughput: `tasks` queued at once, then drained.
        with store.engine.begin() as conn:
            conn.execute(tasks_table.delete())
        for _ in range(tasks):
            store.tasks.create(_new())
        pool = _pool(store, data, workers)
        started = time.perf_counter()
        pool.start()
        _wait_all(store, tasks)
        elapsed = time.perf_counter() - started
        pool.stop(5)
        walls = [(f - s) * 1000 for _, s, f in _times(store)]
        store.close()

    print(f"{kind}: {workers} workers, {tasks} tasks")
    print(f"  claim-to-start  p50 {_pct(pickup, 0.5):7.2f} ms   p99 {_pct(pickup, 0.99):7.2f} ms")
    print(f"  throughput      {tasks / elapsed:7.1f} tasks/s")
    print(
        f"  overhead/task   p50 {_pct(walls, 0.5):7.2f} ms   p99 {_pct(walls, 0.99):7.2f} ms"
        "   (claim to commit; the engine's own time is nil)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument(
        "--postgres", action="store_true", help="also run on PostgreSQL (a fresh schema)"
    )
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    run(None, args.tasks, args.workers)
    if args.postgres:
        with fresh_schema() as (_, url):
            run(url, args.tasks, args.workers)


if __name__ == "__main__":
    main()
