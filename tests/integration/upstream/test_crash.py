"""SIGKILL the gateway's worker while it holds twenty jobs at the real upstream, start another:
every task succeeds exactly once, with the upstream's bytes, and the upstream was asked to
create exactly twenty jobs. The gateway runs as `reelgate api` plus `reelgate worker` on one
SQLite file, so the worker dies alone while the API keeps answering. The upstream relays these
jobs to a stand-in that holds them until the test lets go, so all twenty are surely in flight
when the worker dies, and still in flight when its successor takes them over."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.upstream.conftest import RELAYED
from tests.integration.upstream.helpers import (
    FAST_LEASES,
    gateway,
    query,
    sha256,
    upstream_entry,
)
from tests.integration.upstream.standin import StandIn
from tests.support.receiver import Receiver
from tests.support.server import OTHER_KEY, ServerProcess, WorkerProcess, seed_body
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

TASKS = 20


def test_a_killed_worker_is_replaced_and_nothing_is_submitted_twice(
    tmp_path: Path,
    upstream: ServerProcess,
    moderator: StandIn,
    receiver: Receiver,
    video: bytes,
) -> None:
    before = _upstream_ids(upstream)
    entries = {"relay": upstream_entry("runway", [upstream.base_url], RELAYED, concurrency=TASKS)}
    api = gateway(tmp_path / "data", entries, OTHER_KEY, FAST_LEASES, command="api").start()
    worker = WorkerProcess(api.data_dir, api.env).start()
    try:
        with api.client() as client:
            ids = [_create(client, receiver.url, seed) for seed in range(TASKS)]
        wait_until(
            lambda: (
                len(_rows(api.data_dir, "upstream_ref IS NOT NULL")) == TASKS
                and moderator.creates("held") == TASKS
            ),
            60,
            interval=0.1,
            what=f"all {TASKS} jobs submitted, recorded, and running upstream",
        )
        assert worker.proc is not None
        worker.proc.send_signal(signal.SIGKILL)
        assert worker.proc.wait(10) == -signal.SIGKILL
        assert Counter(r["status"] for r in _rows(api.data_dir)) == {"running": TASKS}

        worker = WorkerProcess(api.data_dir, api.env).start()
        wait_until(
            lambda: len(_rows(api.data_dir, "status = 'running' AND attempt = 2")) == TASKS,
            60,
            interval=0.1,
            what="every task claimed again by the new worker",
        )
        moderator.release.set()
        finished = wait_until(
            lambda: (
                rows if len(rows := _rows(api.data_dir, "status = 'succeeded'")) == TASKS else None
            ),
            60,
            interval=0.1,
            what="every task to succeed",
        )
        hooks = receiver.wait_for(TASKS, timeout=30)
    finally:
        worker.stop()
        api.stop()

    assert {row["id"] for row in finished} == set(ids)
    assert all(row["attempt"] == 2 for row in finished)
    created = _upstream_ids(upstream) - before
    assert len(created) == TASKS
    assert {_job_id(row) for row in finished} == created
    assert moderator.creates("held") == TASKS  # nor did the upstream submit anything twice

    assert Counter(h.payload["task_id"] for h in hooks if h.payload) == dict.fromkeys(ids, 1)
    assert {h.payload["status"] for h in hooks if h.payload} == {"SUCCESS"}
    for row in finished:
        ours = (api.data_dir / "blobs" / row["video_key"]).read_bytes()
        answer = httpx.get(
            f"{upstream.base_url}/v1/videos/{_job_id(row)}/content",
            headers={"Authorization": f"Bearer {OTHER_KEY}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert sha256(answer.content) == sha256(video), f"the upstream's copy of {row['id']}"
        assert sha256(ours) == sha256(video), f"the gateway's copy of {row['id']}"


def _create(client: httpx.Client, callback_url: str, seed: int) -> str:
    body = seed_body(callback_url, model="relay", ratio="16:9", seed=seed)
    body["options"]["seconds"] = 5
    answer = client.post("/runway/pro/generate", json=body)
    assert answer.status_code == 200, answer.text
    task_id: str = answer.json()["data"]["task_id"]
    return task_id


def _rows(data_dir: Path, where: str = "1 = 1") -> list[dict[str, Any]]:
    return query(data_dir, f"SELECT * FROM tasks WHERE {where}")  # noqa: S608 (fixed clauses)


def _upstream_ids(upstream: ServerProcess) -> set[str]:
    return {row["id"] for row in query(upstream.data_dir, "SELECT id FROM tasks")}


def _job_id(row: dict[str, Any]) -> str:
    job_id: str = json.loads(row["upstream_ref"])["job_id"]
    return job_id
