"""Acceptance fixtures: every `reelgate serve` a test starts is stopped by the fixture, even
one the test left frozen with SIGSTOP."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.server import ServerProcess

Launch = Callable[..., ServerProcess]

# These tests start servers while others render on a small, often shared machine: give start-up
# more room than the API tests' helper does.
START_TIMEOUT_SECONDS = 90.0


@pytest.fixture
def launch() -> Iterator[Launch]:
    """`launch(data_dir, env)` starts a server; all of them are stopped at teardown."""
    started: list[ServerProcess] = []

    def _launch(data_dir: Path, env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(data_dir, env=env).spawn()
        started.append(server)
        server.wait_ready(START_TIMEOUT_SECONDS)
        return server

    yield _launch
    for server in started:
        proc = server.proc
        if proc is None or proc.poll() is not None:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)  # a frozen process cannot act on SIGTERM
        server.stop(signal.SIGTERM, timeout=15)
