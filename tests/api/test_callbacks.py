"""Callbacks through a real server: retries keep one `webhook-id`, every attempt is logged and
visible to the owner, 410 stops retries, and an owner can ask for a redelivery."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.support.receiver import Receiver
from tests.support.server import OTHER_KEY, ServerProcess, free_port, seed_body, wait_for_feed


@pytest.fixture(scope="module")
def fast_retry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Retries one second apart instead of the standard 5 s, 5 min, … schedule."""
    server = ServerProcess(
        tmp_path_factory.mktemp("hooks"), env={"REELGATE_WEBHOOK_RETRY_SCHEDULE": "0,1,1,1,1"}
    ).start()
    yield server
    server.stop()


def _small(callback: str) -> dict[str, Any]:
    body = seed_body(callback, ratio="1:1")
    body["options"]["seconds"] = 5
    return body


def _run(server: ServerProcess, callback: str) -> str:
    with server.client() as client:
        task_id: str = client.post("/runway/pro/generate", json=_small(callback)).json()["data"][
            "task_id"
        ]
        assert wait_for_feed(client, task_id)[-1]["status"] == "SUCCESS"
    return task_id


def _log(server: ServerProcess, task_id: str, until: Any, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with server.client() as client:
        while True:
            response = client.get(f"/admin/tasks/{task_id}/deliveries")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if until(body) or time.monotonic() > deadline:
                return body
            time.sleep(0.2)


def test_down_then_500_then_200_arrives_once_with_one_webhook_id(
    fast_retry_server: ServerProcess,
) -> None:
    port = free_port()  # nothing listens here yet: the receiver is down
    task_id = _run(fast_retry_server, f"http://127.0.0.1:{port}/hook")
    _log(fast_retry_server, task_id, lambda b: b["events"] and b["events"][0]["attempts"] >= 1)
    with Receiver(statuses=[500, 200], port=port).running() as receiver:
        hooks = receiver.wait_for(2, timeout=20)
        log = _log(fast_retry_server, task_id, lambda b: b["events"][0]["state"] == "delivered")
    assert [h.headers["webhook-id"] for h in hooks] == [log["events"][0]["id"]] * 2
    secret = (fast_retry_server.data_dir / "webhook_secret").read_text().strip()
    for hook in hooks:
        assert Webhook(secret).verify(hook.body, hook.headers)["task_id"] == task_id
    [event] = log["events"]
    assert event["event_type"] == "task.succeeded"
    attempts = event["log"]
    assert attempts[0]["status_code"] is None
    assert "connect" in attempts[0]["error"]
    assert [a["status_code"] for a in attempts[-2:]] == [500, 200]
    assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))


def test_410_stops_retries_and_redelivery_sends_again(fast_retry_server: ServerProcess) -> None:
    with Receiver(statuses=[410]).running() as receiver:
        task_id = _run(fast_retry_server, receiver.url)
        log = _log(fast_retry_server, task_id, lambda b: b["events"][0]["state"] == "failed")
        time.sleep(2.5)  # two retry intervals: nothing more may arrive
        assert len(receiver.requests) == 1
        [event] = log["events"]
        assert [a["status_code"] for a in event["log"]] == [410]

        with fast_retry_server.client() as client:
            redo = client.post(f"/admin/tasks/{task_id}/deliveries/{event['id']}/redeliver")
        assert redo.status_code == 202
        hooks = receiver.wait_for(2)
        assert hooks[1].headers["webhook-id"] == event["id"]
        log = _log(fast_retry_server, task_id, lambda b: b["events"][0]["state"] == "delivered")
        assert [a["status_code"] for a in log["events"][0]["log"]] == [410, 200]


def test_redirect_is_not_followed(fast_retry_server: ServerProcess) -> None:
    with Receiver(statuses=[302, 200]).running() as receiver:
        task_id = _run(fast_retry_server, receiver.url)
        log = _log(fast_retry_server, task_id, lambda b: b["events"][0]["state"] == "delivered")
    assert [a["status_code"] for a in log["events"][0]["log"]] == [302, 200]
    assert all(r.path == "/hook" for r in receiver.requests)


def test_delivery_log_is_visible_to_its_owner_only(fast_retry_server: ServerProcess) -> None:
    with Receiver().running() as receiver:
        task_id = _run(fast_retry_server, receiver.url)
    with fast_retry_server.client(OTHER_KEY) as client:
        response = client.get(f"/admin/tasks/{task_id}/deliveries")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "task_not_found"
        response = client.post(f"/admin/tasks/{task_id}/deliveries/msg_x/redeliver")
        assert response.status_code == 404
    with fast_retry_server.client() as client:
        response = client.post(f"/admin/tasks/{task_id}/deliveries/msg_nope/redeliver")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    with httpx.Client(base_url=fast_retry_server.base_url) as anonymous:
        assert anonymous.get(f"/admin/tasks/{task_id}/deliveries").status_code == 401
