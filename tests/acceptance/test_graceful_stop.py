"""SIGTERM: a running task either finishes within the grace period, or is handed back to the
queue untouched so the next process takes it over at once (not after its lease lapses)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.conftest import Launch
from tests.acceptance.helpers import (
    SMALL_FRAMES,
    SMALL_SIZE,
    assert_published_once,
    blob_dir,
    create,
    events_for,
    feed,
    signal_name,
    small_body,
    task_row,
    use_webhook_secret,
    verified_payloads,
    work_dir,
)
from tests.support.receiver import Receiver
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

# A clean stop exits 0 (serve turns uvicorn's re-raised SIGTERM into a normal exit).
CLEAN_EXIT = (0,)
# A lease far longer than the test waits: a task seen again quickly was released, not reaped.
SLOW_LEASE = {"REELGATE_LEASE_SECONDS": "30", "REELGATE_HEARTBEAT_SECONDS": "5"}
# Bounds for a crowded 2-core machine. Taking the released task over takes well under a second
# idle; a task left to its lease could not be taken before the 30 s lease lapsed.
PICKUP_SECONDS = 15.0
RENDER_SECONDS = 120.0  # the 10 s clip
STOP_SECONDS = 15.0  # the 0.2 s grace and the process's own stop
WAIT_SECONDS = 30.0  # steps that take well under a second idle


def _running(data_dir: Path, task_id: str, at_least: float = 0.0) -> bool:
    row = task_row(data_dir, task_id)
    return bool(row["status"] == "running" and row["progress"] > at_least)


def _terminal(data: dict[str, Any]) -> dict[str, Any] | None:
    return data if data["status"] in ("SUCCESS", "FAILURE") else None


def test_sigterm_with_a_generous_grace_lets_the_running_task_finish(
    launch: Launch, receiver: Receiver, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = {**SLOW_LEASE, "REELGATE_WORKERS": "1", "REELGATE_SHUTDOWN_GRACE_SECONDS": "60"}
    server = launch(data_dir, env)
    use_webhook_secret(receiver, server)
    with server.client() as client:
        task_id = create(client, small_body(receiver.url))
        wait_until(
            lambda: feed(client, task_id)["status"] == "IN_PROGRESS",
            WAIT_SECONDS,
            what="the task to start",
        )
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)
    returncode = server.proc.wait(60)
    assert returncode in CLEAN_EXIT, f"exit {signal_name(returncode)}:\n{server.logs()}"
    assert "Application shutdown complete" in server.logs()

    row = task_row(data_dir, task_id)
    assert (row["status"], row["attempt"]) == ("succeeded", 1), row
    assert_published_once(data_dir, row, SMALL_SIZE, SMALL_FRAMES)
    # The terminal webhook went out before the process exited.
    assert [e["state"] for e in events_for(data_dir, task_id)] == ["delivered"]
    [payload] = verified_payloads(receiver.requests)
    assert (payload["task_id"], payload["status"]) == (task_id, "SUCCESS"), payload

    reader = launch(data_dir, {"REELGATE_WORKERS": "0"})
    with reader.client() as client:
        final = feed(client, task_id)
    assert final["status"] == "SUCCESS", final
    assert final["progress"] == "100%"


def test_sigterm_with_a_tiny_grace_hands_the_task_to_the_next_process_at_once(
    launch: Launch, receiver: Receiver, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = {**SLOW_LEASE, "REELGATE_WORKERS": "1", "REELGATE_SHUTDOWN_GRACE_SECONDS": "0.2"}
    server = launch(data_dir, env)
    use_webhook_secret(receiver, server)
    with server.client() as client:
        task_id = create(client, small_body(receiver.url, seconds=10, ratio="16:9"))
    wait_until(lambda: _running(data_dir, task_id, at_least=0.1), WAIT_SECONDS, what="the render")
    assert server.proc is not None
    sent = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    returncode = server.proc.wait(30)
    assert returncode in CLEAN_EXIT, f"exit {signal_name(returncode)}:\n{server.logs()}"
    assert time.monotonic() - sent < STOP_SECONDS, "the aborted task held up the shutdown"

    row = task_row(data_dir, task_id)
    assert row["status"] == "queued", row
    assert row["attempt"] == 0, "a released attempt must not count against the task"
    assert (row["worker_id"], row["lease_until"]) == (None, None), row
    assert not blob_dir(data_dir, task_id).exists()
    assert not work_dir(data_dir, task_id).exists()
    assert events_for(data_dir, task_id) == []

    successor = launch(data_dir, env)
    wait_until(
        lambda: _running(data_dir, task_id),
        PICKUP_SECONDS,
        what="the next process to take the released task (lease is 30 s)",
    )
    with successor.client() as client:
        final = wait_until(
            lambda: _terminal(feed(client, task_id)),
            RENDER_SECONDS,
            interval=0.2,
            what="the task to finish",
        )
    assert final["status"] == "SUCCESS", final
    row = task_row(data_dir, task_id)
    assert (row["status"], row["attempt"]) == ("succeeded", 1), row
    assert_published_once(data_dir, row, (1280, 720), 240)
    [payload] = verified_payloads(receiver.wait_for(1, timeout=WAIT_SECONDS))
    assert (payload["task_id"], payload["status"]) == (task_id, "SUCCESS"), payload
