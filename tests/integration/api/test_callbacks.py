"""Callbacks through a real server: retries keep one `webhook-id`, and every attempt is logged."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tests.support.receiver import Receiver
from tests.support.server import ServerProcess, seed_body, wait_for_feed


@pytest.fixture
def flaky_receiver() -> Iterator[Receiver]:
    with Receiver(statuses=[500, 302]).running() as running:
        yield running


def test_failed_deliveries_are_retried_with_the_same_id_and_recorded(
    server: ServerProcess, flaky_receiver: Receiver
) -> None:
    body = seed_body(flaky_receiver.url, ratio="1:1")
    body["options"]["seconds"] = 5
    with server.client() as client:
        task_id = client.post("/runway/pro/generate", json=body).json()["data"]["task_id"]
        final = wait_for_feed(client, task_id)[-1]
    assert final["status"] == "SUCCESS"

    # 500 at once, then 302 after ~5 s (not followed), then 200 after ~5 min: too long for a
    # test, so the first two attempts and their log rows are what is checked here.
    hooks = flaky_receiver.wait_for(2, timeout=20)
    assert len(hooks) == 2
    assert hooks[0].headers["webhook-id"] == hooks[1].headers["webhook-id"]
    secret = (server.data_dir / "webhook_secret").read_text().strip()
    for hook in hooks:
        assert Webhook(secret).verify(hook.body, hook.headers)["task_id"] == task_id

    rows = _attempts(server.data_dir / "reelgate.db", task_id, expected=2)
    assert [(r[0], r[1]) for r in rows] == [(1, 500), (2, 302)]
    assert all(r[2] >= 0 for r in rows)
    event_state = _event(server.data_dir / "reelgate.db", task_id)
    assert event_state[0] == "pending"
    assert event_state[1] == 2


def _attempts(db: Path, task_id: str, expected: int) -> list[tuple[int, int, float]]:
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(db) as conn:
            rows = conn.execute(
                "SELECT a.attempt, a.status_code, a.latency_ms FROM webhook_attempts a "
                "JOIN webhook_events e ON e.id = a.event_id WHERE e.task_id = ? "
                "ORDER BY a.attempt",
                (task_id,),
            ).fetchall()
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def _event(db: Path, task_id: str) -> tuple[str, int]:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT state, attempts FROM webhook_events WHERE task_id = ?", (task_id,)
        ).fetchone()
    return str(row[0]), int(row[1])
