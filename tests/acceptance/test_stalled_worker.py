"""A process frozen (SIGSTOP) past its lease loses the task to another process sharing the same
database and files; when it thaws it can neither finish the task nor touch what the newer attempt
published."""

from __future__ import annotations

import os
import signal
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
    use_webhook_secret,
    verified_payloads,
    worker_pid,
)
from tests.support.receiver import Receiver
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

ENV = {**FAST_LEASES, "REELGATE_WORKERS": "1"}
# Freeze it once a progress report beyond the first is stored, so that when it thaws it is
# well ahead of the attempt that took over and races it to publish. Not later: progress is
# stored at most twice a second, and on a fast idle machine the 10 s clip renders in about a
# second and a half, so a report at 0.75 or above may never be stored while it runs.
STOP_AT_PROGRESS = 0.3
# Bounds on what takes about a second idle (a claim, a take-over after the 3 s lease, a thawed
# worker noticing its loss) and on rendering the 10 s clip: generous for a crowded 2-core
# machine, since what the test proves does not depend on how fast any of it goes.
STEP_SECONDS = 30.0
RENDER_SECONDS = 120.0


def test_a_thawed_worker_cannot_finish_or_overwrite_the_newer_attempt(
    launch: Launch, receiver: Receiver, tmp_path: Path
) -> None:
    data_dir = tmp_path / "shared"
    # Both processes are up before the task exists: whichever claims it is frozen, the other
    # takes over. (Starting the second one while the first rendered made the freeze depend on
    # how long a start-up took on the machine.)
    servers = [launch(data_dir, ENV), launch(data_dir, ENV)]
    use_webhook_secret(receiver, servers[0])  # one data directory: one secret
    pids = [server.proc.pid for server in servers if server.proc is not None]
    with servers[0].client() as client:
        task_id = create(client, small_body(receiver.url, seconds=10, ratio="16:9"))
    claimed = wait_until(
        lambda: (r := task_row(data_dir, task_id))["status"] == "running" and r,
        STEP_SECONDS,
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

    # The row is read under the database's write lock and the process frozen before the lock
    # is let go: this is the task at the moment of the freeze, however slow the machine.
    frozen = freeze_when(
        first_pid,
        data_dir,
        task_id,
        late_in_first_attempt,
        RENDER_SECONDS,
        what=f"attempt 1 at progress {STOP_AT_PROGRESS}",
    )
    try:
        taken = wait_until(
            lambda: (r := task_row(data_dir, task_id))["attempt"] == 2 and r,
            STEP_SECONDS,
            what="the second process to re-claim the task",
        )
        assert worker_pid(taken) == second.proc.pid, taken
        # Thawed now, the old attempt is a third of the way or more while the new one has just
        # begun: it is ahead in the race to publish.
    finally:
        os.kill(first_pid, signal.SIGCONT)

    # The thawed worker notices it lost the lease and gives up its attempt.
    abandoned = wait_until(
        lambda: lines_mentioning(first.logs(), f"task {task_id} attempt 1", "lease lost"),
        STEP_SECONDS,
        what="the thawed worker to abandon attempt 1",
    )
    with second.client() as client:
        seen = [feed(client, task_id)]

        def finished() -> bool:
            seen.append(feed(client, task_id))
            return seen[-1]["status"] in ("SUCCESS", "FAILURE")

        wait_until(finished, RENDER_SECONDS, interval=0.2, what="the end")
    assert seen[-1]["status"] == "SUCCESS", seen[-1]
    percents = [int(d["progress"].rstrip("%")) for d in seen]
    assert percents == sorted(percents), f"progress went backwards: {percents}"

    row = task_row(data_dir, task_id)
    assert (row["status"], row["attempt"]) == ("succeeded", 2), (frozen, row)
    assert worker_pid(row) == second.proc.pid, row
    assert_published_once(data_dir, row, (1280, 720), 240)
    assert not lines_mentioning(first.logs(), f"task {task_id} attempt 1 succeeded"), abandoned

    # One terminal transition, so one event. Once it is recorded as delivered and the thawed
    # worker has given its attempt up (seen above), nothing is left that could send another
    # webhook: a wrong one would already be here.
    [event] = wait_until(
        lambda: [e for e in events_for(data_dir, task_id) if e["state"] == "delivered"],
        STEP_SECONDS,
        what="the webhook event to be recorded as delivered",
    )
    assert len(events_for(data_dir, task_id)) == 1
    hooks = receiver.wait_for(event["attempts"], timeout=STEP_SECONDS)
    # Each request is an attempt the outbox recorded (one, unless the receiver was slower than
    # the 2 s webhook timeout), all under the event's webhook-id.
    assert [h.headers["webhook-id"] for h in hooks] == [event["id"]] * event["attempts"], event
    for payload in verified_payloads(hooks):
        assert (payload["task_id"], payload["status"]) == (task_id, "SUCCESS"), payload
    # Both processes keep serving.
    for server in (first, second):
        with server.client() as client:
            assert client.get("/healthz").status_code == 200
