"""Shared fixtures: the app in this process, `reelgate serve` subprocesses and webhook receivers
on loopback, each stopped by its fixture.

The in-process app (tests/support/inprocess.py) serves the API tests; a `serve` subprocess only
the tests about the process itself (tests/integration/serve, tests/acceptance).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.inprocess import InProcessServer, StartApp
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver().running() as running:
        yield running


@pytest.fixture(scope="module")
def idle_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """The app in this process with no workers: tasks stay queued. One per module."""
    with InProcessServer(
        tmp_path_factory.mktemp("idle-app"), workers=0, max_active_tasks_per_key=5
    ) as app:
        yield app


@pytest.fixture(scope="module")
def rendering_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """The app in this process with one worker rendering with the synthetic engine."""
    with InProcessServer(
        tmp_path_factory.mktemp("rendering-app"), workers=1, shutdown_grace_seconds=0
    ) as app:
        yield app


@pytest.fixture
def start_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartApp]:
    """`start_app(workers=…, **settings)` starts the app in this process on a fresh data
    directory (or `data_dir=`); every app started is stopped at teardown."""
    started: list[InProcessServer] = []

    def start(workers: int = 0, **settings: Any) -> InProcessServer:
        data_dir = settings.pop("data_dir", None) or tmp_path_factory.mktemp("app")
        settings.setdefault("shutdown_grace_seconds", 0)
        app = InProcessServer(data_dir, workers, **settings)
        started.append(app)
        return app.start()

    yield start
    for app in reversed(started):
        app.stop()


@pytest.fixture(scope="module")
def idle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A `reelgate serve` process with no workers: tasks stay queued."""
    server = ServerProcess(
        tmp_path_factory.mktemp("idle"),
        env={"REELGATE_WORKERS": "0", "REELGATE_MAX_ACTIVE_TASKS_PER_KEY": "5"},
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A `reelgate serve` process with one in-process worker rendering with the synthetic
    engine."""
    server = ServerProcess(tmp_path_factory.mktemp("serve")).start()
    yield server
    server.stop()
