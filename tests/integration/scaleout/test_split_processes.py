"""`reelgate api` and `reelgate worker` as separate processes on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import fresh_schema
from tests.support.server import ServerProcess, WorkerProcess, seed_body, wait_for_feed
from tests.support.waiting import wait_until

CALLBACK = "https://example.com/hook"
POLL_SECONDS = 60  # the worker's poll interval (the most settings allow): far longer than a pickup
PICKUP_SECONDS = 10  # a NOTIFY pickup takes well under a second idle; generous for a busy machine
START_SECONDS = 45.0  # for the worker to register


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_schema() as (_, url):
        yield url


def _cli(data_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelgate", *args],
        env={
            "REELGATE_DATA_DIR": str(data_dir),
            "REELGATE_DATABASE_URL": url,
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _small(model: str) -> dict[str, object]:
    body = seed_body(CALLBACK, ratio="1:1", model=model)
    body["options"]["seconds"] = 5
    return body


def test_processes_refuse_a_schema_that_is_behind(tmp_path: Path, pg_url: str) -> None:
    refused = _cli(tmp_path, pg_url, "api", "--port", "1")
    assert refused.returncode == 2
    assert "run `reelgate migrate` first" in refused.stderr
    assert _cli(tmp_path, pg_url, "worker").returncode == 2
    migrated = _cli(tmp_path, pg_url, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout


def test_api_and_model_scoped_worker(tmp_path: Path, pg_url: str) -> None:
    assert _cli(tmp_path, pg_url, "migrate").returncode == 0
    env = {
        "REELGATE_DATABASE_URL": pg_url,
        "REELGATE_HEARTBEAT_SECONDS": "1",
        "REELGATE_LEASE_SECONDS": "5",
    }
    api = ServerProcess(tmp_path, env=env, command="api").start()
    # A poll interval far longer than a pickup: only NOTIFY can make pickup prompt.
    worker_started = time.time()
    worker = WorkerProcess(
        tmp_path,
        {**api.env, "REELGATE_POLL_SECONDS": str(POLL_SECONDS)},
        "--models",
        "gen4,gen4_turbo",
        "--device",
        "cpu:test",
    ).start()
    try:
        wait_until(
            lambda: "gen4" in _cli(tmp_path, pg_url, "workers").stdout,
            START_SECONDS,
            interval=0.3,
            what=lambda: f"the worker to be listed; its log:\n{worker.logs()}",
        )
        listed = _cli(tmp_path, pg_url, "workers").stdout
        assert "cpu:test" in listed
        assert "gen4,gen4_turbo" in listed

        with api.client() as client:
            ready = client.get("/readyz").json()
            assert "sora-2" in ready["models_without_workers"]
            assert "gen4" not in ready["models_without_workers"]

            served = client.post("/runway/pro/generate", json=_small("gen4")).json()
            unserved = client.post("/runway/pro/generate", json=_small("gen2")).json()
            seen = wait_for_feed(client, served["data"]["task_id"], timeout=120)
            assert seen[-1]["status"] == "SUCCESS", seen[-1]
            picked_up = next(d for d in seen if d["status"] != "QUEUED")
            assert picked_up["start_time"] - picked_up["submit_time"] <= PICKUP_SECONDS, picked_up
            # Taken before the worker's second poll could come (its first is at start-up): the
            # prompt pickup was NOTIFY's doing, not a poll that happened to fall just then.
            assert picked_up["start_time"] < worker_started + POLL_SECONDS, picked_up

            waiting = client.post(
                "/runway/feed", json={"task_id": unserved["data"]["task_id"]}
            ).json()["data"]
            assert waiting["status"] == "QUEUED"
    finally:
        worker.stop()
        api.stop()
    assert _cli(tmp_path, pg_url, "workers").stdout.strip() == "no live workers"
