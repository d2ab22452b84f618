"""Run `reelgate serve` as a real subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.waiting import wait_until

API_KEY = "rg_test_key_0123456789abcdef0123456789"
OTHER_KEY = "rg_test_other_key_abcdef0123456789abcdef"
START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChildProcess:
    """A reelgate child process writing to `log_path`; stopped by a signal, killed if stuck."""

    log_path: Path
    proc: subprocess.Popen[bytes] | None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def await_ready(self, url: str, timeout: float, exited: str, never: str) -> None:
        """Poll `url` until it answers 200; if the process exits first, raise with `exited`,
        if `timeout` passes first, stop it and raise with `never` (both followed by the logs)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{exited}:\n{self.logs()}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{never}:\n{self.logs()}")


class ServerProcess(ChildProcess):
    """A `reelgate serve` child process with its own data directory."""

    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, command: str = "serve"
    ) -> None:
        self.command = command
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "REELGATE_DATA_DIR": str(data_dir),
            "REELGATE_API_KEYS": f"{API_KEY},{OTHER_KEY}",
            "REELGATE_OUTBOUND_ALLOW": "127.0.0.0/8,localhost",
            "REELGATE_NOTIFIER_POLL_SECONDS": "0.2",
            "REELGATE_POLL_SECONDS": "0.2",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.log_path = data_dir / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        """Spawn the process and wait until it answers."""
        self.spawn()
        self.wait_ready()
        return self

    def spawn(self) -> ServerProcess:
        """Start the process without waiting for it (several can then start side by side)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reelgate", self.command, "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Wait until `/healthz` answers 200; raise (with the logs) if the process exits first
        or `timeout` passes."""
        self.await_ready(
            f"{self.base_url}/healthz",
            timeout,
            f"{self.command} exited early",
            f"{self.command} did not become healthy",
        )

    def client(
        self, key: str | None = API_KEY, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Client:
        """An `httpx.Client` for the server, authenticated with `key` (None: no header)."""
        sent = {"Authorization": f"Bearer {key}"} if key else {}
        sent.update(headers or {})
        return httpx.Client(base_url=self.base_url, headers=sent, timeout=30, **kwargs)


def seed_body(callback_url: str, **overrides: Any) -> dict[str, Any]:
    """The seed's exact request (shared/seed), with the callback pointed somewhere."""
    body: dict[str, Any] = {
        "callback_url": callback_url,
        "ratio": "16:9",
        "prompt": "a cat",
        "style": "cinematic",
        "model": "gen4",
        "options": {
            "seconds": 10,
            "motion_vector": {
                "x": 0,
                "y": 0.3999999999999999,
                "z": 0,
                "r": -6,
                "bg_x_pan": 0,
                "bg_y_pan": 0,
            },
        },
    }
    body.update(overrides)
    return body


def wait_for_feed(
    client: httpx.Client, task_id: str, timeout: float = 120.0
) -> list[dict[str, Any]]:
    """Poll the feed until the task is terminal; returns every `data` object seen."""
    seen: list[dict[str, Any]] = []

    def finished() -> bool:
        response = client.post("/runway/feed", json={"task_id": task_id})
        assert response.status_code == 200, response.text
        seen.append(response.json()["data"])
        return seen[-1]["status"] in ("SUCCESS", "FAILURE")

    wait_until(finished, timeout, interval=0.2, what=lambda: f"task {task_id}: {seen[-1:]}")
    return seen


class WorkerProcess(ChildProcess):
    """A `reelgate worker` child process (no HTTP): started, signalled and stopped by tests."""

    def __init__(self, data_dir: Path, env: dict[str, str], *args: str) -> None:
        self.data_dir = data_dir
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        self.args = args
        self.log_path = data_dir / f"worker-{free_port()}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reelgate", "worker", *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self
