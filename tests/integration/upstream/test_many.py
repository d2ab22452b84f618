"""Five hundred upstream tasks held at once by one `reelgate worker` process, against a stand-in
that keeps them waiting (THROTTLED, no progress) and answers every poll late: the worker's
threads stay few, a SIGTERM hands all five hundred back promptly, the next worker resumes them
without a single new create, and all five hundred succeed."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.integration.upstream.helpers import (
    RUNWAY_VERSION,
    create_runway_task,
    gateway,
    query,
    upstream_entry,
)
from tests.integration.upstream.standin import KEY, Script, StandIn
from tests.support.procstat import threads
from tests.support.server import ServerProcess, WorkerProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

TASKS = 500
# The loop, its fixed pool of database/file threads (DB_THREADS = 8), asyncio's resolver pool,
# the reaper and registration threads and the main thread: a few dozen at most, whatever the
# number of jobs. One thread per job would be over five hundred.
MAX_THREADS = 40
STOP_SECONDS = 30.0  # SIGTERM to exit: a 1 s grace, then each job stops at its next poll (3 s)
ENV = {
    "REELGATE_RATE_PER_MINUTE": "100000",
    "REELGATE_RATE_BURST": "1000",
    "REELGATE_MAX_ACTIVE_TASKS_PER_KEY": "1000",
    "REELGATE_SHUTDOWN_GRACE_SECONDS": "1",
}


class ThreadSampler:
    """The most threads a process had, read from /proc/<pid>/task every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.most = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                count = threads(self.pid)
            except FileNotFoundError:
                return
            self.most = max(self.most, count)
            self.samples += 1

    def __enter__(self) -> ThreadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def standin(video: bytes) -> Iterator[StandIn]:
    with StandIn(video).running() as running:
        running.scripts["many"] = Script(throttle=running.release, poll_delay_seconds=0.05)
        yield running


def test_five_hundred_waiting_tasks_on_a_few_threads(tmp_path: Path, standin: StandIn) -> None:
    entry = upstream_entry(
        "runway",
        [standin.url],
        "many",
        concurrency=TASKS,
        poll_seconds=3,
        request_timeout_seconds=10,
    )
    api = gateway(tmp_path / "data", {"many": entry}, KEY, ENV, command="api").start()
    worker = WorkerProcess(api.data_dir, api.env).start()
    try:
        assert worker.proc is not None
        with ThreadSampler(worker.proc.pid) as holding:
            ids = _create_all(api)
            wait_until(
                lambda: (
                    standin.creates("many") == TASKS
                    and len(_rows(api.data_dir, "upstream_ref IS NOT NULL")) == TASKS
                ),
                300,
                interval=0.5,
                what=f"{TASKS} jobs submitted and recorded",
            )
            wait_until(
                lambda: all(j.polls >= 2 for j in standin.jobs_of("many")),
                60,
                interval=0.5,
                what="every job polled a few times",
            )
        assert holding.samples > 20
        assert holding.most <= MAX_THREADS, f"{holding.most} threads holding {TASKS} tasks"

        stopping = time.monotonic()
        assert worker.stop(signal.SIGTERM, timeout=60) == 0, worker.logs()[-3000:]
        assert time.monotonic() - stopping < STOP_SECONDS
        released = _rows(api.data_dir)
        assert {r["status"] for r in released} == {"queued"}
        assert all(r["upstream_ref"] is not None for r in released)

        worker = WorkerProcess(api.data_dir, api.env).start()
        wait_until(
            lambda: len(_rows(api.data_dir, "status = 'running'")) == TASKS,
            300,
            interval=0.5,
            what="every task taken over by the next worker",
        )
        standin.release.set()
        wait_until(
            lambda: len(_rows(api.data_dir, "status = 'succeeded'")) == TASKS,
            300,
            interval=0.5,
            what=f"all {TASKS} tasks to succeed",
        )
    finally:
        worker.stop()
        api.stop()
    assert set(ids) == {r["id"] for r in _rows(api.data_dir, "status = 'succeeded'")}
    assert standin.creates("many") == len(standin.jobs_of("many")) == TASKS


def _create_all(server: ServerProcess) -> list[str]:
    with server.client(headers={"X-Runway-Version": RUNWAY_VERSION}) as http:

        def create(seed: int) -> str:
            return create_runway_task(
                http, "many", promptText="a field of wheat", ratio="960:960", seed=seed
            )

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(create, range(TASKS)))


def _rows(data_dir: Path, where: str = "1 = 1") -> list[dict[str, Any]]:
    return query(data_dir, f"SELECT id, status, upstream_ref FROM tasks WHERE {where}")  # noqa: S608
