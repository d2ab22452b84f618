"""A process frozen (SIGSTOP) past its lease loses the task to another process sharing the same
database and files; when it thaws it can neither finish the task nor touch what the newer attempt
published."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.acceptance.conftest import Launch
from tests.acceptance.helpers import (
    FAST_LEASES,
    assert_published_once,
    create,
    events_for,
    feed,
    lines_mentioning,
    small_body,
    stop_outside_write,
    task_row,
    wait_until,
    worker_pid,
)
from tests.support.receiver import Receiver

pytestmark = pytest.mark.slow

ENV = {**FAST_LEASES, "REELGATE_WORKERS": "1"}
STOP_SECONDS = 6.0  # twice the 3 s lease
# Freeze it late, so that when it thaws it is a few frames from publishing and races to do so.
STOP_AT_PROGRESS = 0.75


def test_a_thawed_worker_cannot_finish_or_overwrite_the_newer_attempt(
    launch: Launch, receiver: Receiver, tmp_path: Path
) -> None:
    data_dir = tmp_path / "shared"
    first = launch(data_dir, ENV)
    assert first.proc is not None
    first_pid = first.proc.pid
    with first.client() as client:
        task_id = create(client, small_body(receiver.url, seconds=10, ratio="16:9"))
    wait_until(
        lambda: worker_pid(task_row(data_dir, task_id)) == first_pid,
        10,
        what="the first process to claim the task",
    )
    second = launch(data_dir, ENV)  # idle until the first one's lease lapses
    assert second.proc is not None
    wait_until(
        lambda: task_row(data_dir, task_id)["progress"] >= STOP_AT_PROGRESS,
        30,
        interval=0.01,
        what=f"progress {STOP_AT_PROGRESS}",
    )
    stop_outside_write(first_pid, data_dir)
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
        time.sleep(max(0.0, STOP_SECONDS - (time.monotonic() - stopped)))
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
        while seen[-1]["status"] not in ("SUCCESS", "FAILURE"):
            time.sleep(0.2)
            seen.append(feed(client, task_id))
            assert time.monotonic() - stopped < 60, seen[-1]
    assert seen[-1]["status"] == "SUCCESS", seen[-1]
    percents = [int(d["progress"].rstrip("%")) for d in seen]
    assert percents == sorted(percents), f"progress went backwards: {percents}"

    row = task_row(data_dir, task_id)
    assert (row["status"], row["attempt"]) == ("succeeded", 2), row
    assert worker_pid(row) == second.proc.pid, row
    assert_published_once(data_dir, row, (1280, 720), 240)
    assert len(events_for(data_dir, task_id)) == 1
    hooks = receiver.wait_for(1, timeout=10)
    time.sleep(1.0)  # a second, wrong webhook would come from the thawed process right away
    assert len(receiver.requests) == len(hooks) == 1
    # Both processes keep serving.
    for server in (first, second):
        with server.client() as client:
            assert client.get("/healthz").status_code == 200
