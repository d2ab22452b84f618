"""Nobody pays for a video no task waits on. SIGKILL the gateway's worker while three of its
jobs wait at the upstream; cancel two of the tasks while no worker holds them, one through the
reaper (the cancel is asked of the dead worker) and then deleted, one back in the queue. The
next worker cancels both jobs upstream, exactly once each, records it on the task that is left,
and resumes the third without a new create.

The gateway runs as `reelgate api` plus `reelgate worker` on one SQLite file, so the worker dies
alone while the API (and its reaper) keeps going."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.upstream.helpers import (
    FAST_LEASES,
    RUNWAY_VERSION,
    create_runway_task,
    gateway,
    query,
    task_row,
    upstream_entry,
    upstream_ref,
)
from tests.integration.upstream.standin import KEY, Script, StandIn
from tests.support.server import WorkerProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

WAITING = "waiting"  # the stand-in's model whose jobs stay THROTTLED until the test lets go
SETTLE_SECONDS = 60.0


@pytest.fixture
def standin(video: bytes) -> Iterator[StandIn]:
    with StandIn(video).running() as running:
        running.scripts[WAITING] = Script(throttle=threading.Event())
        yield running


def _status(data_dir: Path, task_id: str) -> str | None:
    rows = query(data_dir, "SELECT status FROM tasks WHERE id = ?", (task_id,))
    return str(rows[0]["status"]) if rows else None


def test_jobs_of_tasks_that_ended_without_their_worker_are_cancelled_upstream(
    tmp_path: Path, standin: StandIn
) -> None:
    entries = {"relay": upstream_entry("runway", [standin.url], WAITING)}
    api = gateway(tmp_path / "data", entries, KEY, FAST_LEASES, command="api").start()
    data = api.data_dir
    worker = WorkerProcess(data, api.env).start()
    headers = {"X-Runway-Version": RUNWAY_VERSION}
    try:
        with api.client(headers=headers) as client:
            deleted, requeued, resumed = (
                create_runway_task(client, "relay", promptText="a lighthouse", duration=5, seed=s)
                for s in range(3)
            )
            wait_until(
                lambda: (
                    standin.creates(WAITING) == 3
                    and len(query(data, "SELECT id FROM tasks WHERE upstream_ref IS NOT NULL")) == 3
                ),
                SETTLE_SECONDS,
                what="three jobs submitted and recorded",
            )
            jobs = {task: upstream_ref(data, task)["job_id"] for task in (deleted, requeued)}  # type: ignore[index]
            assert worker.stop(signal.SIGKILL) == -signal.SIGKILL

            # Cancelled while its dead worker still held it: the reaper ends it (or, should it
            # have been requeued already, the cancel does); then it is deleted for good.
            assert client.delete(f"/v1/tasks/{deleted}").status_code == 204
            wait_until(lambda: _status(data, deleted) == "cancelled", SETTLE_SECONDS)
            assert client.delete(f"/v1/tasks/{deleted}").status_code == 204
            assert _status(data, deleted) is None
            # Back in the queue, then cancelled there.
            wait_until(
                lambda: _status(data, requeued) == "queued",
                SETTLE_SECONDS,
                what="the reaper to requeue the dead worker's task",
            )
            assert client.delete(f"/v1/tasks/{requeued}").status_code == 204
            assert _status(data, requeued) == "cancelled"
            assert {job.id for job in standin.jobs_of(WAITING) if job.cancelled} == set()

            worker = WorkerProcess(data, api.env).start()
            wait_until(
                lambda: not query(data, "SELECT task_id FROM upstream_abandoned"),
                SETTLE_SECONDS,
                what="the next worker to cancel both abandoned jobs upstream",
            )
            cancels = [seen.path for seen in standin.seen("DELETE")]
            assert sorted(cancels) == sorted(f"/v1/tasks/{job}" for job in jobs.values())
            assert {job.id for job in standin.jobs_of(WAITING) if job.cancelled} == set(
                jobs.values()
            )
            assert upstream_ref(data, requeued) == {
                "endpoint": standin.url,
                "job_id": jobs[requeued],
                "state": "CANCELLED",
            }

            # The third task's job was resumed, not created again, and ends with its video.
            standin.scripts[WAITING].throttle.set()  # type: ignore[union-attr]
            wait_until(
                lambda: _status(data, resumed) == "succeeded",
                SETTLE_SECONDS,
                what="the resumed task to succeed",
            )
    finally:
        worker.stop()
        api.stop()
    assert standin.creates(WAITING) == 3
    assert len(standin.seen("DELETE")) == 2
    assert task_row(data, resumed)["attempt"] == 2
