"""Callbacks from the app in this process to a real receiver on loopback: retries keep one
`webhook-id`, every attempt is logged and visible to the owner, 410 stops retries, and an owner
can ask for a redelivery. Every delivery's signature is checked as it arrives."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.inprocess import InProcessServer, running
from tests.support.receiver import Receiver, Reply
from tests.support.server import OTHER_KEY, free_port, seed_body, wait_for_feed
from tests.support.waiting import wait_until

RETRY_SCHEDULE = "0,1,1,1,1"  # retries one second apart instead of 5 s, 5 min, …
LOG_TIMEOUT_SECONDS = 60.0  # for the delivery log to show what a test waits for

Log = dict[str, Any]


@pytest.fixture(scope="module")
def fast_retry_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with running(
        tmp_path_factory.mktemp("hooks"),
        workers=1,
        webhook_retry_schedule=RETRY_SCHEDULE,
        shutdown_grace_seconds=0,
    ) as app:
        yield app


def _small(callback: str) -> dict[str, Any]:
    body = seed_body(callback, ratio="1:1")
    body["options"]["seconds"] = 5
    return body


def _run(app: InProcessServer, callback: str) -> str:
    with app.client() as client:
        task_id: str = client.post("/runway/pro/generate", json=_small(callback)).json()["data"][
            "task_id"
        ]
        assert wait_for_feed(client, task_id)[-1]["status"] == "SUCCESS"
    return task_id


def _log(app: InProcessServer, task_id: str, until: Callable[[Log], Any]) -> Log:
    """The task's delivery log once `until` holds for it; fails the test if it never does."""
    seen: list[Log] = []
    with app.client() as client:

        def got_there() -> Log | None:
            response = client.get(f"/admin/tasks/{task_id}/deliveries")
            assert response.status_code == 200, response.text
            seen.append(response.json())
            return seen[-1] if until(seen[-1]) else None

        return wait_until(
            got_there,
            LOG_TIMEOUT_SECONDS,
            interval=0.2,
            what=lambda: f"the delivery log to get there: {seen[-1:]}",
        )


def _first_state(state: str) -> Callable[[Log], bool]:
    return lambda log: bool(log["events"]) and log["events"][0]["state"] == state


def _assert_verified(receiver: Receiver) -> None:
    for hook in receiver.requests:
        assert hook.verified, f"{hook.path}: {hook.error}"


def test_down_then_500_then_200_arrives_once_with_one_webhook_id(
    fast_retry_app: InProcessServer,
) -> None:
    port = free_port()  # nothing listens here yet: the receiver is down
    task_id = _run(fast_retry_app, f"http://127.0.0.1:{port}/hook")
    _log(fast_retry_app, task_id, lambda b: b["events"] and b["events"][0]["attempts"] >= 1)
    secret = fast_retry_app.webhook_secret
    with Receiver(statuses=[500, 200], port=port, secret=secret).running() as receiver:
        hooks = receiver.wait_for(2, timeout=LOG_TIMEOUT_SECONDS)
        log = _log(fast_retry_app, task_id, _first_state("delivered"))
    assert len(hooks) == 2, f"expected a 500 and a 200, got {len(hooks)} deliveries"
    assert [h.headers["webhook-id"] for h in hooks] == [log["events"][0]["id"]] * 2
    for hook in hooks:
        assert hook.verified, hook.error
        assert hook.payload is not None
        assert hook.payload["task_id"] == task_id
    [event] = log["events"]
    assert event["event_type"] == "task.succeeded"
    attempts = event["log"]
    assert attempts[0]["status_code"] is None
    assert "connect" in attempts[0]["error"]
    assert [a["status_code"] for a in attempts[-2:]] == [500, 200]
    assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))


def test_410_stops_retries_and_redelivery_sends_again(fast_retry_app: InProcessServer) -> None:
    control = {"/control": Reply(500)}
    secret = fast_retry_app.webhook_secret
    with Receiver(statuses=[410], secret=secret, routes=control).running() as receiver:
        task_id = _run(fast_retry_app, receiver.url)
        log = _log(fast_retry_app, task_id, _first_state("failed"))
        [event] = log["events"]
        assert [a["status_code"] for a in event["log"]] == [410]

        # Nothing more may arrive. A control event written after the 410 and refused at every
        # attempt has its whole schedule (four retries, 0.8 s or more apart) recorded only well
        # after any retry of the 410 event would have been due and sent.
        _finish_control_task(fast_retry_app, receiver.url_for("/control"))
        assert receiver.paths().count("/hook") == 1
        again = _log(fast_retry_app, task_id, _first_state("failed"))
        assert [a["status_code"] for a in again["events"][0]["log"]] == [410]

        with fast_retry_app.client() as client:
            redo = client.post(f"/admin/tasks/{task_id}/deliveries/{event['id']}/redeliver")
        assert redo.status_code == 202
        log = _log(fast_retry_app, task_id, _first_state("delivered"))
        assert [a["status_code"] for a in log["events"][0]["log"]] == [410, 200]
        hooks = [h for h in receiver.requests if h.path == "/hook"]
        assert [h.headers["webhook-id"] for h in hooks] == [event["id"]] * 2
    _assert_verified(receiver)


def _finish_control_task(app: InProcessServer, callback: str) -> None:
    """A one-second task whose callback fails at every attempt; returns once its delivery has
    failed for good (the last attempt of the schedule is recorded)."""
    with app.client() as client:
        created = client.post(
            "/admin/tasks",
            json={"prompt": "control", "ratio": "1:1", "seconds": 1, "callback_url": callback},
        )
    assert created.status_code == 200, created.text
    task_id = created.json()["id"]
    log = _log(app, task_id, _first_state("failed"))
    attempts = log["events"][0]["log"]
    assert [a["status_code"] for a in attempts] == [500] * len(RETRY_SCHEDULE.split(","))


def test_redirect_is_not_followed(fast_retry_app: InProcessServer) -> None:
    secret = fast_retry_app.webhook_secret
    with Receiver(statuses=[302, 200], secret=secret).running() as receiver:
        task_id = _run(fast_retry_app, receiver.url)
        log = _log(fast_retry_app, task_id, _first_state("delivered"))
    assert [a["status_code"] for a in log["events"][0]["log"]] == [302, 200]
    assert all(r.path == "/hook" for r in receiver.requests)
    _assert_verified(receiver)


def test_delivery_log_is_visible_to_its_owner_only(fast_retry_app: InProcessServer) -> None:
    with Receiver().running() as receiver:
        task_id = _run(fast_retry_app, receiver.url)
    with fast_retry_app.client(OTHER_KEY) as client:
        response = client.get(f"/admin/tasks/{task_id}/deliveries")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "task_not_found"
        response = client.post(f"/admin/tasks/{task_id}/deliveries/msg_x/redeliver")
        assert response.status_code == 404
    with fast_retry_app.client() as client:
        response = client.post(f"/admin/tasks/{task_id}/deliveries/msg_nope/redeliver")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    with fast_retry_app.client(None) as anonymous:
        assert anonymous.get(f"/admin/tasks/{task_id}/deliveries").status_code == 401
