"""What the acceptance tests share: fast lease settings, small requests, and reading a server's
data directory (its SQLite file, blobs and work files) the way an operator would."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import httpx

from reelgate.media.probe import probe
from tests.support.receiver import Received, Receiver
from tests.support.server import ServerProcess, seed_body
from tests.support.waiting import wait_until

T = TypeVar("T")

# Short leases so that a dead or stalled process loses its task within seconds, not minutes.
FAST_LEASES = {
    "REELGATE_LEASE_SECONDS": "3",
    "REELGATE_HEARTBEAT_SECONDS": "1",
    "REELGATE_REAP_SECONDS": "0.5",
    "REELGATE_POLL_SECONDS": "0.2",
    # The notifier locks an event for its timeout + 30 s; a short timeout keeps an event that a
    # killed process was sending from waiting long before the next process retries it.
    "REELGATE_WEBHOOK_TIMEOUT_SECONDS": "2",
}
SMALL_FRAMES = 5 * 24  # a 5 s clip at 24 fps
SMALL_SIZE = (960, 960)  # ratio 1:1
# How often `signal_when` looks: progress is written at most twice a second, so this sees each
# report, and no task goes from "not yet" to finished between two looks.
SIGNAL_LOOK_SECONDS = 0.02


def small_body(
    callback_url: str, seconds: int = 5, ratio: str = "1:1", **extra: Any
) -> dict[str, Any]:
    body = seed_body(callback_url, ratio=ratio, **extra)
    body["options"]["seconds"] = seconds
    return body


def create(client: httpx.Client, body: dict[str, Any]) -> str:
    response = client.post("/runway/pro/generate", json=body)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["data"]["task_id"]
    return task_id


def feed(client: httpx.Client, task_id: str) -> dict[str, Any]:
    response = client.post("/runway/feed", json={"task_id": task_id})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def db_path(data_dir: Path) -> Path:
    return data_dir / "reelgate.db"


def query(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Read the server's database directly (WAL lets a reader in beside the writers)."""
    with closing(sqlite3.connect(db_path(data_dir), timeout=10)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, params).fetchall()]


def task_row(data_dir: Path, task_id: str) -> dict[str, Any]:
    [row] = query(data_dir, "SELECT * FROM tasks WHERE id = ?", (task_id,))
    return row


def events_for(data_dir: Path, task_id: str) -> list[dict[str, Any]]:
    return query(
        data_dir, "SELECT * FROM webhook_events WHERE task_id = ? ORDER BY created_at", (task_id,)
    )


def blob_dir(data_dir: Path, task_id: str) -> Path:
    return data_dir / "blobs" / "tasks" / task_id


def work_dir(data_dir: Path, task_id: str) -> Path:
    return data_dir / "work" / task_id


def files_under(path: Path) -> list[str]:
    """Every file below `path`, relative to it (hidden temporaries included)."""
    if not path.exists():
        return []
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def assert_published_once(
    data_dir: Path, row: dict[str, Any], size: tuple[int, int], frames: int
) -> None:
    """A succeeded task's outputs: exactly the final attempt's video and poster, nothing left
    over from superseded attempts, no work files, and an MP4 a player accepts."""
    task_id, attempt = row["id"], row["attempt"]
    prefix = f"tasks/{task_id}/{attempt}/"
    assert row["video_key"] == prefix + "video.mp4", row
    assert row["poster_key"] == prefix + "poster.jpg", row
    assert files_under(blob_dir(data_dir, task_id)) == [
        f"{attempt}/poster.jpg",
        f"{attempt}/video.mp4",
    ], f"task {task_id}: blobs other than attempt {attempt}'s outputs remain"
    # The publishing worker clears its own work files before its commit; a superseded attempt
    # clears its own once its worker notices the loss, which may come after the commit.
    wait_until(
        lambda: not work_dir(data_dir, task_id).exists(),
        30,
        what=f"task {task_id}'s work files to be removed",
    )
    info = probe(data_dir / "blobs" / row["video_key"])
    assert (info.codec, info.width, info.height) == ("h264", *size), info
    assert info.frames == frames, info
    assert float(info.fps) == 24.0, info
    assert (data_dir / "blobs" / row["poster_key"]).read_bytes()[:3] == b"\xff\xd8\xff"


def signal_name(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return signal.Signals(-returncode).name
    return str(returncode)


def lines_mentioning(log: str, *needles: str) -> list[str]:
    return [line for line in log.splitlines() if all(n in line for n in needles)]


def signal_when(
    pid: int,
    sig: signal.Signals,
    data_dir: Path,
    ready: Callable[[list[dict[str, Any]]], T | None],
    timeout: float,
    what: str,
    *,
    frozen: bool = False,
) -> T:
    """Send `sig` to `pid` at the first moment `ready(every task row)` returns something; return
    that.

    Each look takes the SQLite write lock first and signals before letting go, so the rows
    that were judged are the rows at the moment of the signal: no write (a progress report,
    the commit that publishes) can land between the look and the signal, however slow the
    machine. The process cannot be caught inside a write transaction either (a frozen writer
    would block every other process's writes, a different failure from the one under test).
    Each look holds the lock for about a millisecond.

    With `frozen`, the process is also stopped (SIGSTOP) during each look, so what `ready`
    sees outside the database (its files) cannot change before the signal either.
    """
    deadline = time.monotonic() + timeout
    while True:
        with closing(sqlite3.connect(db_path(data_dir), timeout=10, isolation_level=None)) as conn:
            conn.row_factory = sqlite3.Row
            conn.execute("BEGIN IMMEDIATE")
            if frozen:
                os.kill(pid, signal.SIGSTOP)
            try:
                rows = [dict(row) for row in conn.execute("SELECT * FROM tasks")]
                found = ready(rows)
                if found:
                    os.kill(pid, sig)
                    return found
            finally:
                if frozen:
                    os.kill(pid, signal.SIGCONT)
                conn.execute("ROLLBACK")
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what} before sending {sig.name} to {pid}: {rows}")
        time.sleep(SIGNAL_LOOK_SECONDS)


def freeze_when(
    pid: int,
    data_dir: Path,
    task_id: str,
    ready: Callable[[dict[str, Any]], bool],
    timeout: float,
    what: str,
) -> dict[str, Any]:
    """SIGSTOP `pid` at the first moment `ready(task row)` holds (see `signal_when`); return
    the row as it was at the freeze. Fails at once if the task ends first."""

    def judged(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        [row] = [r for r in rows if r["id"] == task_id]
        if ready(row):
            return row
        assert row["status"] in ("queued", "running"), f"never saw {what}: {row}"
        return None

    return signal_when(pid, signal.SIGSTOP, data_dir, judged, timeout, what)


def use_webhook_secret(receiver: Receiver, server: ServerProcess) -> str:
    """Have `receiver` check every delivery's signature as it arrives, against the secret
    `server` keeps in its data directory (made at start-up). Call it before any task exists:
    the signed timestamp is only accepted for 5 minutes, so a check at the end of a long
    test could reject deliveries that were valid when they came."""
    secret = (server.data_dir / "webhook_secret").read_text().strip()
    receiver.secret = secret
    return secret


def verified_payloads(hooks: list[Received]) -> list[dict[str, Any]]:
    """The payloads of deliveries whose signature held when they arrived."""
    payloads = []
    for hook in hooks:
        assert hook.verified, (hook.error, hook.headers)
        assert hook.payload is not None, hook.body
        payloads.append(hook.payload)
    return payloads


def worker_pid(row: dict[str, Any]) -> int | None:
    """The process id in a worker id (`<host>-<pid>-<hex>-<n>`)."""
    worker_id = row.get("worker_id")
    if not worker_id:
        return None
    return int(worker_id.rsplit("-", 3)[1])
