"""Idempotency-Key, per-key request rate, failed-auth limits and per-key quota overrides."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import API_KEY, OTHER_KEY, ServerProcess, seed_body

CALLBACK = "https://example.com/hook"


def _post(
    server: ServerProcess, body: object, key: str = API_KEY, **headers: str
) -> httpx.Response:
    with server.client(key) as client:
        return client.post("/runway/pro/generate", json=body, headers=headers)


def test_same_key_same_body_replays_the_first_task(idle_server: ServerProcess) -> None:
    first = _post(idle_server, seed_body(CALLBACK), **{"Idempotency-Key": "order-1"})
    again = _post(idle_server, seed_body(CALLBACK), **{"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 200
    assert first.json()["data"]["task_id"] == again.json()["data"]["task_id"]
    other_owner = _post(
        idle_server, seed_body(CALLBACK), OTHER_KEY, **{"Idempotency-Key": "order-1"}
    )
    assert other_owner.json()["data"]["task_id"] != first.json()["data"]["task_id"]
    fresh = _post(idle_server, seed_body(CALLBACK))
    assert fresh.json()["data"]["task_id"] != first.json()["data"]["task_id"]


def test_same_key_different_body_is_422(idle_server: ServerProcess) -> None:
    assert (
        _post(idle_server, seed_body(CALLBACK), **{"Idempotency-Key": "order-2"}).status_code == 200
    )
    response = _post(
        idle_server, seed_body(CALLBACK, prompt="a dog"), **{"Idempotency-Key": "order-2"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


@pytest.mark.parametrize("key", ["", "x" * 256])
def test_malformed_idempotency_key_is_invalid_request(idle_server: ServerProcess, key: str) -> None:
    response = _post(idle_server, seed_body(CALLBACK), **{"Idempotency-Key": key})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
    assert response.json()["message"].startswith("Idempotency-Key:")


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(
        tmp_path_factory.mktemp("limited"),
        env={
            "REELGATE_WORKERS": "0",
            "REELGATE_RATE_PER_MINUTE": "6",
            "REELGATE_RATE_BURST": "3",
            "REELGATE_AUTH_FAILURES_PER_MINUTE": "4",
        },
    ).start()
    yield server
    server.stop()


def test_key_over_its_request_rate_is_rate_limited(limited: ServerProcess) -> None:
    with limited.client() as client:
        statuses = [client.post("/runway/feed", json={"task_id": "x"}) for _ in range(4)]
    assert [r.status_code for r in statuses] == [400, 400, 400, 429]
    assert statuses[-1].json()["code"] == "rate_limited"
    assert 1 <= int(statuses[-1].headers["retry-after"]) <= 10


def test_failed_authentication_is_limited_per_address(limited: ServerProcess) -> None:
    with limited.client("wrong") as client:
        statuses = [
            client.post("/runway/feed", json={"task_id": "x"}).status_code for _ in range(5)
        ]
    assert statuses == [401, 401, 401, 401, 429]
    with limited.client(OTHER_KEY) as client:
        # The address is blocked before any key is checked, valid or not.
        response = client.post("/runway/feed", json={"task_id": "x"})
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"


def test_per_key_quota_override(tmp_path: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "reelgate", "keys", "create", "--max-active", "1"],
        env={"REELGATE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.split()[1]
    server = ServerProcess(tmp_path, env={"REELGATE_WORKERS": "0"}).start()
    try:
        assert _post(server, seed_body(CALLBACK), key).status_code == 200
        response = _post(server, seed_body(CALLBACK), key)
        assert response.status_code == 429
        assert "limit 1" in response.json()["message"]
        assert _post(server, seed_body(CALLBACK), API_KEY).status_code == 200  # default cap
    finally:
        server.stop()
