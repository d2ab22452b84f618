"""SIGKILL `reelgate serve` at random moments while it renders, restart it on the same data
directory, and check that every task still ends exactly once, with one published video and one
terminal webhook, and that nothing an abandoned attempt wrote is left behind."""

from __future__ import annotations

import random
import signal
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import Launch
from tests.acceptance.helpers import (
    FAST_LEASES,
    SMALL_FRAMES,
    SMALL_SIZE,
    assert_published_once,
    blob_dir,
    create,
    events_for,
    feed,
    files_under,
    query,
    signal_when,
    small_body,
    use_webhook_secret,
    verified_payloads,
    work_dir,
    worker_pid,
)
from tests.support.receiver import Receiver
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

TASKS = 20
KILLS = 3
SEED = 20240611
MAX_ATTEMPTS = 8  # more than the kills, so no task can run out of attempts
ENV = {**FAST_LEASES, "REELGATE_WORKERS": "2", "REELGATE_MAX_ATTEMPTS": str(MAX_ATTEMPTS)}
# Generous bounds for a crowded 2-core machine: what the tests prove does not depend on speed.
KILL_WAIT_SECONDS = 60.0  # for the process to be rendering
FINISH_SECONDS = 150.0  # for a task to end, kills and lapsed leases included
DELIVERY_SECONDS = 60.0


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    launch: Launch, receiver: Receiver, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    rng = random.Random(SEED)
    server = launch(data_dir, ENV)
    use_webhook_secret(receiver, server)
    with server.client() as client:
        ids = [create(client, small_body(receiver.url, seed=i)) for i in range(TASKS)]

    kills: list[list[dict[str, Any]]] = []  # the tasks the process was rendering at each kill
    for _ in range(KILLS):
        # A random moment, then the first one after it at which the process is rendering: the
        # kill lands at a random point of some task's render, never between tasks.
        time.sleep(rng.uniform(0.5, 4.0))
        assert server.proc is not None
        pid = server.proc.pid
        kills.append(
            signal_when(
                pid,
                signal.SIGKILL,
                data_dir,
                partial(_rendering_in, pid),
                KILL_WAIT_SECONDS,
                what=f"process {pid} rendering a task",
            )
        )
        assert server.proc.wait(10) == -signal.SIGKILL
        server = launch(data_dir, ENV)

    with server.client() as client:
        finals: dict[str, dict[str, Any]] = {}
        for task_id in ids:
            finals[task_id] = wait_until(
                partial(_terminal_feed, client, task_id),
                timeout=FINISH_SECONDS,
                interval=0.3,
                what=f"task {task_id} to finish (kills hit {kills})",
            )

    rows = {r["id"]: r for r in query(data_dir, "SELECT * FROM tasks")}
    assert set(rows) == set(ids)
    # Every kill cost the attempts it interrupted: they were taken over, not resumed.
    for killed in kills:
        for hit in killed:
            assert rows[hit["id"]]["attempt"] > hit["attempt"], (hit, rows[hit["id"]])
    for task_id in ids:
        row, final = rows[task_id], finals[task_id]
        assert row["attempt"] >= 1, row
        assert row["lease_until"] is None, row
        if row["status"] == "failed":  # only acceptable when it ran out of attempts
            assert final["status"] == "FAILURE", final
            assert row["attempt"] == MAX_ATTEMPTS, row
            assert "stopped responding" in final["fail_reason"], final
            continue
        assert row["status"] == "succeeded", (row, kills)
        assert final["status"] == "SUCCESS", final
        assert final["result_url"], final
        assert_published_once(data_dir, row, SMALL_SIZE, SMALL_FRAMES)
    assert not list((data_dir / "work").glob("*")), "work files of finished tasks remain"

    # One terminal event per task (one terminal transition), each delivered to the receiver.
    for task_id in ids:
        [event] = events_for(data_dir, task_id)
        assert event["event_type"] == f"task.{rows[task_id]['status']}"
    wait_until(
        lambda: all(
            e["state"] == "delivered" for e in query(data_dir, "SELECT state FROM webhook_events")
        ),
        timeout=DELIVERY_SECONDS,
        interval=0.5,
        what="every webhook event to be delivered",
    )
    hooks = receiver.wait_for(TASKS, timeout=DELIVERY_SECONDS)
    got: dict[str, set[str]] = {}
    for hook, payload in zip(hooks, verified_payloads(hooks), strict=True):
        got.setdefault(payload["task_id"], set()).add(hook.headers["webhook-id"])
        assert payload["status"] in ("SUCCESS", "FAILURE")
    for task_id in ids:
        [event] = events_for(data_dir, task_id)
        # A retry after a crash may repeat the delivery, but always under the same webhook-id.
        assert got.get(task_id) == {event["id"]}, (task_id, got.get(task_id), event)


def _rendering_in(pid: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The tasks process `pid` holds and has begun rendering, if any."""
    mine = [r for r in rows if r["status"] == "running" and worker_pid(r) == pid]
    return mine if any(r["progress"] > 0 for r in mine) else None


def _terminal_feed(client: httpx.Client, task_id: str) -> dict[str, Any] | None:
    return _terminal(feed(client, task_id))


def _terminal(data: dict[str, Any]) -> dict[str, Any] | None:
    return data if data["status"] in ("SUCCESS", "FAILURE") else None


def test_a_task_killed_on_its_last_attempt_fails_clearly_and_leaves_no_files(
    launch: Launch, receiver: Receiver, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = {**FAST_LEASES, "REELGATE_WORKERS": "1", "REELGATE_MAX_ATTEMPTS": "1"}
    server = launch(data_dir, env)
    use_webhook_secret(receiver, server)
    with server.client() as client:
        task_id = create(client, small_body(receiver.url))
    assert server.proc is not None
    # The progress in the database trails the render by up to a write interval, and the
    # attempt removes its work files just before it commits: the files are looked at with the
    # process stopped, so the kill lands while they are there.
    left = signal_when(
        server.proc.pid,
        signal.SIGKILL,
        data_dir,
        lambda rows: (
            files_under(work_dir(data_dir, task_id))
            if any(r["id"] == task_id and r["progress"] > 0 for r in rows)
            else None
        ),
        KILL_WAIT_SECONDS,
        what="the task rendering with its work files written",
        frozen=True,
    )
    assert server.proc.wait(10) == -signal.SIGKILL
    assert files_under(work_dir(data_dir, task_id)) == left, "the killed attempt's work files"

    server = launch(data_dir, env)
    with server.client() as client:
        final = wait_until(
            lambda: _terminal(feed(client, task_id)),
            FINISH_SECONDS,
            what="the lapsed lease to fail the task",
        )
    assert final["status"] == "FAILURE", final
    assert final["fail_reason"] == "the worker stopped responding on each of 1 attempts", final
    [event] = events_for(data_dir, task_id)
    assert event["event_type"] == "task.failed"
    hooks = receiver.wait_for(1, timeout=DELIVERY_SECONDS)
    payloads = verified_payloads(hooks)
    assert {(p["task_id"], p["status"]) for p in payloads} == {(task_id, "FAILURE")}, payloads
    # Nothing will ever claim this task again, so nothing else will clear what the killed
    # attempt wrote.
    assert not work_dir(data_dir, task_id).exists(), files_under(work_dir(data_dir, task_id))
    assert not blob_dir(data_dir, task_id).exists(), files_under(blob_dir(data_dir, task_id))
