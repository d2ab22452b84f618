"""Outputs expire after the retention period: files deleted, the task's record stays."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.server import ServerProcess, seed_body, wait_for_feed


def test_expired_outputs_are_deleted_and_the_task_says_so(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path,
        env={"REELGATE_RETENTION_DAYS": "0.00004", "REELGATE_SWEEP_SECONDS": "0.5"},  # ~3.5 s
    ).start()
    try:
        body = seed_body("https://example.com/hook", ratio="1:1")
        body["options"]["seconds"] = 5
        with server.client() as client:
            task_id = client.post("/runway/pro/generate", json=body).json()["data"]["task_id"]
            done = wait_for_feed(client, task_id)[-1]
            assert done["status"] == "SUCCESS"
            link = done["data"]["video_url"]
            assert client.get(link).status_code == 200
            deadline = time.monotonic() + 20
            while (tmp_path / "blobs" / "tasks" / task_id).exists():
                assert time.monotonic() < deadline, "outputs were not expired"
                time.sleep(0.2)
            later = client.post("/runway/feed", json={"task_id": task_id}).json()["data"]
            gone = client.get(link)
        assert later["status"] == "SUCCESS"
        assert later["output_expired"] is True
        assert later["result_url"] == ""
        assert "output" not in later["data"]
        assert "video_url" not in later["data"]
        assert gone.status_code == 404
        assert gone.json()["error"]["code"] == "not_found"
    finally:
        server.stop()
