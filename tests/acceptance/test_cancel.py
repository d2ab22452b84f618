"""Cancel through the admin route: a queued task is cancelled on the spot; a running one stops
rendering within about a second, leaves no files behind, and its owner gets the terminal
webhook."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.conftest import Launch
from tests.acceptance.helpers import (
    FAST_LEASES,
    blob_dir,
    create,
    feed,
    files_under,
    small_body,
    task_row,
    use_webhook_secret,
    verified_payloads,
    work_dir,
)
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

CANCEL_SECONDS = 1.5  # a running engine stops within one progress write plus one frame
WAIT_SECONDS = 30.0  # bound on steps that take well under a second idle, on a crowded machine


def _cancel(client: httpx.Client, task_id: str) -> dict[str, Any]:
    response = client.post(f"/admin/tasks/{task_id}/cancel")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _assert_cancel_webhook(server: ServerProcess, receiver: Receiver, task_id: str) -> None:
    [hook] = receiver.wait_for(1, timeout=WAIT_SECONDS)
    [payload] = verified_payloads([hook])
    assert (payload["task_id"], payload["status"], payload["fail_reason"]) == (
        task_id,
        "FAILURE",
        "cancelled",
    )
    with server.client() as client:
        log = client.get(f"/admin/tasks/{task_id}/deliveries").json()
    [event] = log["events"]
    assert event["id"] == hook.headers["webhook-id"]
    assert event["event_type"] == "task.cancelled"
    wait_until(
        lambda: _delivery_state(server, task_id) == "delivered",
        WAIT_SECONDS,
        what="delivery to be logged",
    )


def _delivery_state(server: ServerProcess, task_id: str) -> str:
    with server.client() as client:
        return str(client.get(f"/admin/tasks/{task_id}/deliveries").json()["events"][0]["state"])


def test_cancelling_a_queued_task_fails_it_at_once(
    launch: Launch, receiver: Receiver, tmp_path: Path
) -> None:
    server = launch(tmp_path / "data", {"REELGATE_WORKERS": "0"})
    use_webhook_secret(receiver, server)
    with server.client() as client:
        task_id = create(client, small_body(receiver.url))
        assert feed(client, task_id)["status"] == "QUEUED"
        answer = _cancel(client, task_id)
        final = feed(client, task_id)
    assert answer["status"] == "cancelled", answer
    assert (final["status"], final["fail_reason"]) == ("FAILURE", "cancelled"), final
    assert final["finish_time"] > 0
    assert task_row(server.data_dir, task_id)["attempt"] == 0
    _assert_cancel_webhook(server, receiver, task_id)


def test_cancelling_a_running_task_stops_it_and_removes_its_files(
    launch: Launch, receiver: Receiver, tmp_path: Path
) -> None:
    server = launch(tmp_path / "data", {**FAST_LEASES, "REELGATE_WORKERS": "1"})
    use_webhook_secret(receiver, server)
    data_dir = server.data_dir
    with server.client() as client:
        task_id = create(client, small_body(receiver.url, seconds=10, ratio="16:9"))
        wait_until(
            lambda: task_row(data_dir, task_id)["progress"] >= 0.1,
            WAIT_SECONDS,
            what="the task to be rendering",
        )
        assert files_under(work_dir(data_dir, task_id)), "the render writes work files"
        asked = time.monotonic()
        answer = _cancel(client, task_id)
        assert answer["cancel_requested"] is True, answer
        final = wait_until(
            lambda: (d := feed(client, task_id))["status"] != "IN_PROGRESS" and d,
            WAIT_SECONDS,
            what="the running task to stop",
        )
        took = time.monotonic() - asked
    assert (final["status"], final["fail_reason"]) == ("FAILURE", "cancelled"), final
    assert took <= CANCEL_SECONDS, f"cancel took {took:.2f}s"
    row = task_row(data_dir, task_id)
    assert (row["status"], row["video_key"], row["lease_until"]) == ("cancelled", None, None)
    assert float(final["progress"].rstrip("%")) < 100
    wait_until(
        lambda: (
            not blob_dir(data_dir, task_id).exists() and not work_dir(data_dir, task_id).exists()
        ),
        WAIT_SECONDS,
        what="the cancelled task's files to be removed",
    )
    _assert_cancel_webhook(server, receiver, task_id)
