"""A process frozen (SIGSTOP) past its lease loses the task to another process sharing the same
database and files; when it thaws it can neither finish the task nor touch what the newer attempt
published."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import Launch
from tests.acceptance.helpers import (
    FAST_LEASES,
    assert_published_once,
    create,
    events_for,
    feed,
    freeze_when,
    lines_mentioning,
    small_body,
    task_row,
    wait_until,
    worker_pid,
)
from tests.support.receiver import Receiver

pytestmark = pytest.mark.slow

ENV = {**FAST_LEASES, "REELGATE_WORKERS": "1"}
STOP_SECONDS = 6.0  # twice the 3 s lease: the other process has taken over within it
# Freeze it late, so that when it thaws it is a few frames from publishing and races to do so.
STOP_AT_PROGRESS = 0.75
RENDER_SECONDS = 60.0  # bound on rendering the 10 s clip, even on a crowded 2-core machine


def test_a_thawed_worker_cannot_finish_or_overwrite_the_newer_attempt(
    launch: Launch, receiver: Receiver, tmp_path: Path
) -> None:
    data_dir = tmp_path / "shared"
    # Both processes are up before the task exists: whichever claims it is frozen, the other
    # takes over. (Starting the second one while the first rendered made the freeze depend on
    # how long a start-up took on the machine.)
    servers = [launch(data_dir, ENV), launch(data_dir, ENV)]
    pids = [server.proc.pid for server in servers if server.proc is not None]
    with servers[0].client() as client:
        task_id = create(client, small_body(receiver.url, seconds=10, ratio="16:9"))
    claimed = wait_until(
        lambda: (r := task_row(data_dir, task_id))["status"] == "running" and r,
        10,
        what="a process to claim the task",
    )
    first_pid = worker_pid(claimed)
    assert first_pid in pids, claimed
    first = servers[pids.index(first_pid)]
    second = servers[1 - pids.index(first_pid)]
    assert second.proc is not None

    def late_in_first_attempt(row: dict[str, Any]) -> bool:
        return bool(
            row["status"] == "running"
            and row["attempt"] == 1
            and worker_pid(row) == first_pid
            and row["progress"] >= STOP_AT_PROGRESS
        )

    freeze_when(
        first_pid,
        data_dir,
        task_id,
        late_in_first_attempt,
        RENDER_SECONDS,
        what=f"attempt 1 at progress {STOP_AT_PROGRESS}",
    )
    stopped = time.monotonic()
    try:
        row = task_row(data_dir, task_id)
        assert (row["status"], row["attempt"]) == ("running", 1), "frozen too late"
        taken = wait_until(
            lambda: (r := task_row(data_dir, task_id))["attempt"] == 2 and r,
            STOP_SECONDS,
            what="the second process to re-claim the task",
        )
        assert worker_pid(taken) == second.proc.pid, taken
        # Thawed now, the old attempt is a few frames from done while the new one has just
        # begun: it is ahead in the race to publish.
    finally:
        os.kill(first_pid, signal.SIGCONT)

    # The thawed worker notices it lost the lease and gives up its attempt.
    wait_until(
        lambda: lines_mentioning(first.logs(), f"task {task_id} attempt 1"),
        10,
        what="the thawed worker to abandon attempt 1",
    )
    with second.client() as client:
        seen = [feed(client, task_id)]

        def finished() -> bool:
            seen.append(feed(client, task_id))
            return seen[-1]["status"] in ("SUCCESS", "FAILURE")

        wait_until(finished, 60 - (time.monotonic() - stopped), interval=0.2, what="the end")
    assert seen[-1]["status"] == "SUCCESS", seen[-1]
    percents = [int(d["progress"].rstrip("%")) for d in seen]
    assert percents == sorted(percents), f"progress went backwards: {percents}"

    row = task_row(data_dir, task_id)
    assert (row["status"], row["attempt"]) == ("succeeded", 2), row
    assert worker_pid(row) == second.proc.pid, row
    assert_published_once(data_dir, row, (1280, 720), 240)
    assert len(events_for(data_dir, task_id)) == 1
    hooks = receiver.wait_for(1, timeout=10)
    assert len(hooks) == 1, hooks
    time.sleep(1.0)  # a second, wrong webhook would come from the thawed process right away
    assert len(receiver.requests) == len(hooks) == 1
    # Both processes keep serving.
    for server in (first, second):
        with server.client() as client:
            assert client.get("/healthz").status_code == 200
