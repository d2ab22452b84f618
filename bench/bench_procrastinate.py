"""The baseline for bench_queue.py on PostgreSQL: procrastinate running no-op jobs.

Same database server, same shape of measurement: pickup latency (defer → start) for jobs deferred
one at a time at 20 per second with idle workers listening, and throughput for N jobs deferred at
once and drained by a worker with `concurrency` slots. Each run uses a fresh schema.

    .venv/bin/python bench/bench_procrastinate.py [--jobs 500] [--concurrency 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import os
import secrets
import time
from datetime import datetime
from typing import Any

import procrastinate
import psycopg

PG_URL = os.environ.get("REELGATE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _latencies(conn: psycopg.AsyncConnection[tuple[datetime, datetime]]) -> list[float]:
    rows = await conn.execute(
        "SELECT d.at, s.at FROM procrastinate_events d JOIN procrastinate_events s "
        "ON s.job_id = d.job_id AND s.type = 'started' WHERE d.type = 'deferred'"
    )
    return [
        (started - deferred).total_seconds() * 1000 for deferred, started in await rows.fetchall()
    ]


async def run(jobs: int, concurrency: int) -> None:
    schema = "pq_" + secrets.token_hex(5)
    options = f"-csearch_path={schema}"
    async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as admin:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        connector = procrastinate.PsycopgConnector(conninfo=PG_URL, kwargs={"options": options})
        app = procrastinate.App(connector=connector)

        async def _noop() -> None:
            return None

        noop: Any = app.task(name="noop")(_noop)  # procrastinate ships no type hints

        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            worker = asyncio.create_task(
                app.run_worker_async(concurrency=concurrency, wait=True, listen_notify=True)
            )
            await asyncio.sleep(1.0)
            for _ in range(100):
                await noop.defer_async()
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)
            async with await psycopg.AsyncConnection.connect(
                PG_URL, autocommit=True, options=options
            ) as conn:
                pickup = await _latencies(conn)
                await conn.execute("DELETE FROM procrastinate_events")
                await conn.execute("DELETE FROM procrastinate_jobs")

            await noop.batch_defer_async(*({} for _ in range(jobs)))
            started = time.perf_counter()
            await app.run_worker_async(concurrency=concurrency, wait=False, listen_notify=False)
            elapsed = time.perf_counter() - started
    finally:
        async with await psycopg.AsyncConnection.connect(PG_URL, autocommit=True) as admin:
            await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(
        f"procrastinate {importlib.metadata.version('procrastinate')}: "
        f"concurrency {concurrency}, {jobs} jobs"
    )
    print(f"  defer-to-start  p50 {_pct(pickup, 0.5):7.2f} ms   p99 {_pct(pickup, 0.99):7.2f} ms")
    print(f"  throughput      {jobs / elapsed:7.1f} jobs/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.jobs, args.concurrency))


if __name__ == "__main__":
    main()
