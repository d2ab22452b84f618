"""The real upstream: a `reelgate serve` on loopback rendering with the synthetic engine, shared
by every test of this folder, and a stand-in that the upstream itself forwards three models to:
one whose tasks fail with a code of their own, one whose tasks run until a test releases them,
one whose tasks run until they are cancelled."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.upstream.helpers import tiny_mp4, write_models
from tests.integration.upstream.standin import KEY, Script, StandIn
from tests.support.server import ServerProcess

FLAGGED = "flagged"  # the upstream's model whose tasks its own upstream refuses
RELAYED = "relayed"  # the upstream's model whose tasks run until `moderator.release` is set
STALLED = "stalled"  # the upstream's model whose tasks run until they are cancelled
SAFETY_CODE = "SAFETY.INPUT.TEXT"
SAFETY_MESSAGE = "The prompt was flagged by content moderation: please rephrase it."


@pytest.fixture(scope="session")
def video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A one-second 64x64 MP4: what the stand-ins deliver."""
    return tiny_mp4(tmp_path_factory.mktemp("video") / "tiny.mp4")


@pytest.fixture(scope="session")
def moderator(video: bytes) -> Iterator[StandIn]:
    with StandIn(video).running() as standin:
        standin.scripts["moderated"] = Script(fail=(SAFETY_CODE, SAFETY_MESSAGE))
        standin.scripts["held"] = Script(hold=standin.release)
        standin.scripts["stalled"] = Script(hold=threading.Event())  # never set
        yield standin


@pytest.fixture(scope="session")
def upstream(
    tmp_path_factory: pytest.TempPathFactory, moderator: StandIn
) -> Iterator[ServerProcess]:
    """`reelgate serve` with two render workers: `gen4` on the synthetic engine; `flagged`,
    `relayed` and `stalled`, which it forwards to the moderator stand-in."""
    root: Path = tmp_path_factory.mktemp("upstream")
    models = write_models(
        root / "models.toml",
        {
            "gen4": {"engine": "synthetic"},
            FLAGGED: {
                "engine": "upstream",
                "protocol": "runway",
                "endpoints": [moderator.url],
                "model": "moderated",
                "api_key_env": "MODERATOR_KEY",
                "poll_seconds": 0.1,
            },
            RELAYED: {
                "engine": "upstream",
                "protocol": "runway",
                "endpoints": [moderator.url],
                "model": "held",
                "api_key_env": "MODERATOR_KEY",
                "poll_seconds": 0.1,
                "concurrency": 100,
            },
            STALLED: {
                "engine": "upstream",
                "protocol": "runway",
                "endpoints": [moderator.url],
                "model": "stalled",
                "api_key_env": "MODERATOR_KEY",
                "poll_seconds": 0.1,
            },
        },
    )
    server = ServerProcess(
        root / "data",
        env={
            "REELGATE_MODELS_FILE": str(models),
            "MODERATOR_KEY": KEY,
            "REELGATE_WORKERS": "2",
            "REELGATE_MAX_ACTIVE_TASKS_PER_KEY": "1000",
            # The gateways under test poll dozens of jobs with one key, and the tests then read
            # every result back with it: the default 600 a minute would answer some of them 429.
            "REELGATE_RATE_PER_MINUTE": "100000",
        },
    ).start()
    yield server
    server.stop()
