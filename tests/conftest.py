"""Shared fixtures: real servers and receivers on loopback, stopped by the fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.receiver import Receiver
from tests.support.server import ServerProcess


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver().running() as running:
        yield running


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with no workers: tasks stay queued (for API-only tests)."""
    server = ServerProcess(
        tmp_path_factory.mktemp("idle"),
        env={"REELGATE_WORKERS": "0", "REELGATE_MAX_ACTIVE_TASKS_PER_KEY": "5"},
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with one in-process worker rendering with the synthetic engine."""
    server = ServerProcess(tmp_path_factory.mktemp("serve")).start()
    yield server
    server.stop()
