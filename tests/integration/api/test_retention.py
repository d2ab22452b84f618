"""Outputs expire after the retention period: files deleted, the task's record stays."""

from __future__ import annotations

from tests.support.inprocess import StartApp
from tests.support.server import seed_body, wait_for_feed
from tests.support.waiting import wait_until

EXPIRY_TIMEOUT_SECONDS = 60.0  # retention ~3.5 s, a sweep every 0.5 s: generous on a busy machine


def test_expired_outputs_are_deleted_and_the_task_says_so(start_app: StartApp) -> None:
    app = start_app(workers=1, retention_days=0.00004, sweep_seconds=0.5)  # ~3.5 s
    body = seed_body("https://example.com/hook", ratio="1:1")
    body["options"]["seconds"] = 5
    with app.client() as client:
        task_id = client.post("/runway/pro/generate", json=body).json()["data"]["task_id"]
        done = wait_for_feed(client, task_id)[-1]
        assert done["status"] == "SUCCESS"
        link = done["data"]["video_url"]
        assert client.get(link).status_code == 200
        wait_until(
            lambda: not (app.data_dir / "blobs" / "tasks" / task_id).exists(),
            EXPIRY_TIMEOUT_SECONDS,
            interval=0.2,
            what="the outputs to be expired",
        )
        later = client.post("/runway/feed", json={"task_id": task_id}).json()["data"]
        gone = client.get(link)
    assert later["status"] == "SUCCESS"
    assert later["output_expired"] is True
    assert later["result_url"] == ""
    assert "output" not in later["data"]
    assert "video_url" not in later["data"]
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "not_found"
