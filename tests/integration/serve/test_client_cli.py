"""`reelgate generate` and `reelgate tasks`, run as the `reelgate` command against a real
`reelgate serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reelgate.media.probe import probe
from tests.support.server import API_KEY, OTHER_KEY, ServerProcess


def _reelgate(
    server: ServerProcess, *args: str, key: str = API_KEY
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REELGATE_URL": server.base_url, "REELGATE_API_KEY": key}
    return subprocess.run(
        [sys.executable, "-m", "reelgate", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_generate_shows_progress_and_saves_the_video(server: ServerProcess, tmp_path: Path) -> None:
    target = tmp_path / "cat.mp4"
    done = _reelgate(
        server,
        "generate",
        "a cat",
        "--ratio",
        "1:1",
        "--seconds",
        "2",
        "--motion",
        "y=0.4,r=-6",
        "--style",
        "noir",
        "-o",
        str(target),
    )
    assert done.returncode == 0, done.stderr
    assert "100% succeeded" in done.stderr
    assert done.stdout.strip() == str(target)
    info = probe(target)
    assert (info.width, info.height, info.frames) == (960, 960, 48)

    task_id = done.stderr.splitlines()[0].removeprefix("task ").strip()
    listed = _reelgate(server, "tasks", "list")
    assert task_id in listed.stdout
    shown = json.loads(_reelgate(server, "tasks", "show", task_id).stdout)
    assert shown["status"] == "succeeded"
    assert shown["motion"]["r"] == -6.0
    assert shown["style"] == "noir"
    foreign = _reelgate(server, "tasks", "show", task_id, key=OTHER_KEY)
    assert foreign.returncode == 1
    assert "HTTP 404" in foreign.stderr


def test_cancel_a_queued_task(idle_server: ServerProcess) -> None:
    with idle_server.client() as client:
        created = client.post("/admin/tasks", json={"prompt": "a boat", "seconds": 2})
    assert created.status_code == 200, created.text
    task_id = created.json()["id"]
    cancelled = _reelgate(idle_server, "tasks", "cancel", task_id)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.split() == [task_id, "cancelled"]
    with idle_server.client() as client:
        feed = client.post("/runway/feed", json={"task_id": task_id}).json()["data"]
    assert feed["status"] == "FAILURE"
    assert feed["fail_reason"] == "cancelled"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "x", "--motion", "y"], "is not name=value"),
        (["generate", "x", "--seconds", "99"], "HTTP 400"),
        (["generate", "x", "--ratio", "2:1"], "HTTP 400"),
        (["tasks", "show", "nope"], "HTTP 404"),
    ],
)
def test_client_errors_are_clear(idle_server: ServerProcess, args: list[str], message: str) -> None:
    result = _reelgate(idle_server, *args)
    assert result.returncode == 1
    assert message in result.stderr


def test_client_without_a_key_says_so(idle_server: ServerProcess) -> None:
    result = _reelgate(idle_server, "tasks", "list", key="")
    assert result.returncode == 2
    assert "REELGATE_API_KEY" in result.stderr
