"""Success envelopes and health routes, on the app with no workers (tasks stay queued)."""

from __future__ import annotations

from tests.support.inprocess import InProcessServer
from tests.support.server import seed_body

CALLBACK = "https://example.com/hook"


def test_queued_task_feed_shape(idle_app: InProcessServer) -> None:
    body = seed_body(CALLBACK, unknown_field={"ignored": True})
    with idle_app.client() as client:
        created = client.post("/runway/pro/generate", json=body)
        assert created.status_code == 200, created.text
        assert created.headers["x-runway-version"] == "2024-11-06"
        task_id = created.json()["data"]["task_id"]
        response = client.post("/runway/feed", json={"task_id": task_id})
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["code"] == "success"
    assert envelope["message"] == ""
    data = envelope["data"]
    assert data["task_id"] == task_id
    assert data["action"] == "TEXT_TO_VIDEO"
    assert data["status"] == "QUEUED"
    assert data["progress"] == "0%"
    assert data["fail_reason"] == ""
    assert data["start_time"] == data["finish_time"] == 0
    assert data["submit_time"] > 1_700_000_000
    assert data["result_url"] == ""
    assert data["data"]["status"] == "PENDING"
    assert data["data"]["createdAt"].endswith("Z")
    assert set(data["data"]) == {"id", "status", "createdAt"}


def test_image_request_is_image_to_video(idle_app: InProcessServer) -> None:
    body = seed_body(CALLBACK, image="https://example.com/cat.png")
    with idle_app.client() as client:
        task_id = client.post("/runway/pro/generate", json=body).json()["data"]["task_id"]
        data = client.post("/runway/feed", json={"task_id": task_id}).json()["data"]
    assert data["action"] == "IMAGE_TO_VIDEO"


def test_every_response_carries_a_request_id(idle_app: InProcessServer) -> None:
    with idle_app.client() as client:
        ids = {client.get("/healthz").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_readyz_reports_database_storage_and_models(idle_app: InProcessServer) -> None:
    with idle_app.client(key=None) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"] == {"database": "ok", "storage": "ok"}
    assert {"gen4", "gen4_turbo", "gen3", "gen2"} <= set(body["models"])
