"""What the upstream tests share: a models file written from dicts, a gateway `reelgate serve`
in front of an upstream, reading its database as an operator would, and waiting for a
condition that must be seen (a wait that times out fails, saying what it waited for)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from reelgate.media.encode import Mp4Writer
from tests.support.server import ServerProcess

KEY_ENV = "REELGATE_TEST_UPSTREAM_KEY"  # the variable a gateway entry names for its key
RUNWAY_VERSION = "2024-11-06"
# Short leases, so a killed worker's tasks are claimed again within seconds.
FAST_LEASES = {
    "REELGATE_LEASE_SECONDS": "3",
    "REELGATE_HEARTBEAT_SECONDS": "1",
    "REELGATE_REAP_SECONDS": "0.5",
    "REELGATE_POLL_SECONDS": "0.2",
}


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string is a JSON string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def write_models(path: Path, entries: Mapping[str, Mapping[str, object]]) -> Path:
    """A models file with one `[models."NAME"]` table per entry."""
    lines = []
    for name, table in entries.items():
        lines.append(f"[models.{json.dumps(name)}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in table.items())
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def upstream_entry(
    protocol: str, endpoints: list[str], model: str, **more: object
) -> dict[str, object]:
    """An `engine = "upstream"` entry that polls fast and reads its key from KEY_ENV."""
    return {
        "engine": "upstream",
        "protocol": protocol,
        "endpoints": endpoints,
        "model": model,
        "api_key_env": KEY_ENV,
        "poll_seconds": 0.1,
        **more,
    }


def gateway(
    data_dir: Path,
    entries: Mapping[str, Mapping[str, object]],
    key: str,
    env: Mapping[str, str] | None = None,
    command: str = "serve",
) -> ServerProcess:
    """A (not yet started) `reelgate serve` whose models file holds `entries`, with `key` in
    KEY_ENV."""
    models = write_models(data_dir.parent / f"{data_dir.name}-models.toml", entries)
    return ServerProcess(
        data_dir,
        env={"REELGATE_MODELS_FILE": str(models), KEY_ENV: key, **(env or {})},
        command=command,
    )


def run_cli(
    env: Mapping[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelgate", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def query(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Read a server's SQLite database (WAL lets a reader in beside the writers)."""
    with closing(sqlite3.connect(data_dir / "reelgate.db", timeout=10)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, params).fetchall()]


def task_row(data_dir: Path, task_id: str) -> dict[str, Any]:
    [row] = query(data_dir, "SELECT * FROM tasks WHERE id = ?", (task_id,))
    return row


def upstream_ref(data_dir: Path, task_id: str) -> dict[str, str] | None:
    """The gateway's durable record of where it submitted the task, once it has one."""
    raw = task_row(data_dir, task_id)["upstream_ref"]
    return None if raw is None else dict(json.loads(raw))


def create_runway_task(client: httpx.Client, model: str, **fields: object) -> str:
    """Create a task through Runway's `POST /v1/text_to_video` (the client sends
    X-Runway-Version); `fields` replace or add to a small valid body. The new task's id."""
    body = {"model": model, "promptText": "a red kite", "ratio": "1280:720", "duration": 2}
    answer = client.post("/v1/text_to_video", json={**body, **fields})
    assert answer.status_code == 200, answer.text
    task_id: str = answer.json()["id"]
    return task_id


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tiny_mp4(path: Path, frames: int = 24, size: int = 64) -> bytes:
    """A real, playable H.264 MP4 of `frames` frames (one second), a few kilobytes."""
    with Mp4Writer(path, size, size, 24) as writer:
        for i in range(frames):
            frame = np.full((size, size, 3), (i * 9) % 256, dtype=np.uint8)
            frame[:, : size // 2, 0] = 200
            writer.write(frame)
    return path.read_bytes()
