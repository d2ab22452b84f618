"""Idempotency-Key, per-key request rate and failed-auth limits. Per-key quota overrides, set with
`reelgate keys create`, are in tests/integration/serve/test_keys.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.inprocess import InProcessServer, running
from tests.support.server import API_KEY, OTHER_KEY, seed_body

CALLBACK = "https://example.com/hook"


def _post(app: InProcessServer, body: object, key: str = API_KEY, **headers: str) -> httpx.Response:
    with app.client(key) as client:
        return client.post("/runway/pro/generate", json=body, headers=headers)


def test_same_key_same_body_replays_the_first_task(idle_app: InProcessServer) -> None:
    first = _post(idle_app, seed_body(CALLBACK), **{"Idempotency-Key": "order-1"})
    again = _post(idle_app, seed_body(CALLBACK), **{"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 200
    assert first.json()["data"]["task_id"] == again.json()["data"]["task_id"]
    other_owner = _post(idle_app, seed_body(CALLBACK), OTHER_KEY, **{"Idempotency-Key": "order-1"})
    assert other_owner.json()["data"]["task_id"] != first.json()["data"]["task_id"]
    fresh = _post(idle_app, seed_body(CALLBACK))
    assert fresh.json()["data"]["task_id"] != first.json()["data"]["task_id"]


def test_same_key_different_body_is_422(idle_app: InProcessServer) -> None:
    assert _post(idle_app, seed_body(CALLBACK), **{"Idempotency-Key": "order-2"}).status_code == 200
    response = _post(
        idle_app, seed_body(CALLBACK, prompt="a dog"), **{"Idempotency-Key": "order-2"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_malformed_idempotency_key_is_invalid_request(idle_app: InProcessServer, key: str) -> None:
    response = _post(idle_app, seed_body(CALLBACK), **{"Idempotency-Key": key})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["message"].startswith("Idempotency-Key:")


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with running(
        tmp_path_factory.mktemp("limited"),
        workers=0,
        rate_per_minute=6,
        rate_burst=3,
        auth_failures_per_minute=4,
    ) as app:
        yield app


def test_key_over_its_request_rate_is_rate_limited(limited: InProcessServer) -> None:
    with limited.client() as client:
        statuses = [client.post("/runway/feed", json={"task_id": "x"}) for _ in range(4)]
    assert [r.status_code for r in statuses] == [400, 400, 400, 429]
    assert statuses[-1].json()["code"] == "rate_limited"
    assert 1 <= int(statuses[-1].headers["retry-after"]) <= 10


def test_failed_authentication_is_limited_per_address(limited: InProcessServer) -> None:
    with limited.client("wrong") as client:
        answers = [client.post("/runway/feed", json={"task_id": "x"}) for _ in range(5)]
    assert [r.status_code for r in answers] == [401, 401, 401, 401, 429]
    assert answers[-1].json()["code"] == "rate_limited"
    with limited.client(OTHER_KEY) as client:
        # A valid key from the blocked address still gets in: one guesser behind a shared
        # address must not lock out everyone behind it.
        response = client.post("/runway/feed", json={"task_id": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == "task_not_exist"
