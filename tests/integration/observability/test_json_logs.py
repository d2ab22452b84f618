"""With REELGATE_LOG_FORMAT=json every line `serve` and a separate `worker` write is one JSON
object, and the request id of the create ties the API's, the worker's and the notifier's lines
about the task together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.receiver import Receiver
from tests.support.server import API_KEY, ServerProcess, WorkerProcess, seed_body, wait_for_feed

RENDER_SECONDS = 180.0


def _lines(log: str) -> list[dict[str, Any]]:
    parsed = []
    for number, line in enumerate(log.splitlines(), 1):
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise AssertionError(f"line {number} is not JSON: {line!r}") from exc
    return parsed


def test_one_request_id_finds_the_whole_life_of_a_task(tmp_path: Path) -> None:
    env = {
        "REELGATE_WORKERS": "0",
        "REELGATE_LOG_FORMAT": "json",
        "REELGATE_HEARTBEAT_SECONDS": "1",
        "REELGATE_LEASE_SECONDS": "5",
    }
    with Receiver().running() as receiver:
        api = ServerProcess(tmp_path, env=env).start()
        worker = WorkerProcess(tmp_path, api.env, "--models", "gen4").start()
        try:
            body = seed_body(receiver.url, ratio="1:1")
            body["options"]["seconds"] = 5
            with api.client() as client:
                created = client.post("/runway/pro/generate", json=body)
                assert created.status_code == 200, created.text
                request_id = created.headers["x-request-id"]
                task_id = created.json()["data"]["task_id"]
                assert wait_for_feed(client, task_id, RENDER_SECONDS)[-1]["status"] == "SUCCESS"
            receiver.wait_for(1, RENDER_SECONDS)
        finally:
            assert worker.stop() == 0
            assert api.stop() == 0

    api_lines, worker_lines = _lines(api.logs()), _lines(worker.logs())
    assert API_KEY not in api.logs() + worker.logs()
    for line in api_lines + worker_lines:
        assert {"time", "level", "message"} <= line.keys(), line

    def about(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [line for line in lines if line.get("request_id") == request_id]

    [created_line] = [line for line in about(api_lines) if "created" in line["message"]]
    assert created_line["task_id"] == task_id
    assert created_line["key_id"]  # the owner id, never the key

    rendered = about(worker_lines)
    messages = " | ".join(line["message"] for line in rendered)
    assert "claimed" in messages, messages
    assert "succeeded" in messages, messages
    for line in rendered:
        assert line["task_id"] == task_id
        assert line["attempt"] == 1
        assert line["worker_id"]

    [delivered] = [line for line in about(api_lines) if line["message"].startswith("webhook")]
    assert delivered["task_id"] == task_id
    assert "delivered" in delivered["message"]
