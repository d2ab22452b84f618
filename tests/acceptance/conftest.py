"""Acceptance fixtures: every `reelgate serve` a test starts is stopped by the fixture, even
one the test left frozen with SIGSTOP."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess

Launch = Callable[..., ServerProcess]

# These tests start servers while others render on a small, often shared machine: give start-up
# and the first health check more room than the API tests' helper does.
START_TIMEOUT_SECONDS = 90.0
HEALTH_TIMEOUT_SECONDS = 5.0


class PatientServer(ServerProcess):
    def start(self) -> PatientServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reelgate", "serve", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{self.logs()}")
            with contextlib.suppress(httpx.TransportError):
                health = httpx.get(f"{self.base_url}/healthz", timeout=HEALTH_TIMEOUT_SECONDS)
                if health.status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise RuntimeError(f"serve did not become healthy:\n{self.logs()}")


@pytest.fixture
def launch() -> Iterator[Launch]:
    """`launch(data_dir, env)` starts a server; all of them are stopped at teardown."""
    started: list[ServerProcess] = []

    def _launch(data_dir: Path, env: dict[str, str] | None = None) -> ServerProcess:
        server = PatientServer(data_dir, env=env)
        started.append(server)
        return server.start()

    yield _launch
    for server in started:
        proc = server.proc
        if proc is None or proc.poll() is not None:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        server.stop(signal.SIGTERM, timeout=15)
