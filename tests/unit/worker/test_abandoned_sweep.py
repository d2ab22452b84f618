"""JobRunner.cancel_abandoned over the in-memory store, with an engine whose upstream takes or
refuses each cancel: a cancelled job is forgotten and its task records it; a refused one waits
ABANDON_RETRY_SECONDS and is tried again; one refused for a day is given up on. The processes and
a real upstream: tests/integration/upstream/test_abandoned.py."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.integration.store.factory import add_task

from reelgate.blobs.local import LocalBlobStore
from reelgate.core.tasks import FailureCode, GenerationSpec, UpstreamRef
from reelgate.engines.base import JobContext
from reelgate.engines.registry import ModelRegistry
from reelgate.store.memory import MemoryStore
from reelgate.worker.jobs import ABANDON_RETRY_SECONDS, GIVE_UP_SECONDS, JobRunner
from reelgate.worker.runner import WorkerConfig

OWNER = "key_alice"
MODEL = "relay"
UPSTREAM = "https://upstream.example"


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Upstream:
    """A job engine whose upstream cancels the jobs in `takes` and refuses the others."""

    name = "upstream"

    def __init__(self, takes: set[str]) -> None:
        self.takes = takes
        self.asked: list[str] = []

    def has_capacity(self) -> bool:
        return True

    async def run(self, spec: GenerationSpec, ctx: JobContext) -> Path:
        raise AssertionError("the sweep runs no job")

    async def abandon(self, ref: UpstreamRef) -> bool:
        self.asked.append(ref.job_id)
        return ref.job_id in self.takes

    async def aclose(self) -> None: ...


def _failed_with_live_job(store: MemoryStore, job_id: str) -> str:
    task_id = add_task(store, OWNER, MODEL)
    claim = store.tasks.claim("gone", 30, [MODEL])
    assert claim is not None
    assert store.tasks.record_upstream(claim, UpstreamRef(UPSTREAM, job_id))
    assert store.tasks.fail(claim, "upstream: status: HTTP 502", FailureCode.INTERNAL)
    return task_id


def _runner(tmp_path: Path, store: MemoryStore, engine: Upstream) -> JobRunner:
    registry = ModelRegistry({MODEL: lambda: engine}, job_models=[MODEL])
    config = WorkerConfig(
        lease_seconds=30, heartbeat_seconds=1, poll_seconds=0.1, work_dir=tmp_path / "work"
    )
    return JobRunner("jobs-1", store.tasks, LocalBlobStore(tmp_path / "blobs"), registry, config)


def _left(store: MemoryStore) -> list[str]:
    return [job.ref.job_id for job in store.tasks.abandoned_upstream([MODEL], 10)]


def test_a_cancelled_job_is_forgotten_and_a_refused_one_is_tried_again_later(
    tmp_path: Path,
) -> None:
    clock = Clock(time.time())
    store = MemoryStore(clock=clock)
    refused = _failed_with_live_job(store, "job_refused")
    taken = _failed_with_live_job(store, "job_taken")
    engine = Upstream(takes={"job_taken"})
    runner = _runner(tmp_path, store, engine)

    assert asyncio.run(runner.cancel_abandoned()) == 1
    assert engine.asked == ["job_refused", "job_taken"]
    task = store.tasks.get(taken, OWNER)
    assert task is not None
    assert task.upstream == UpstreamRef(UPSTREAM, "job_taken", "CANCELLED")
    assert _left(store) == []  # the refused one waits its turn

    clock.now += ABANDON_RETRY_SECONDS - 1
    assert asyncio.run(runner.cancel_abandoned()) == 0
    assert engine.asked == ["job_refused", "job_taken"]
    clock.now += 1
    engine.takes.add("job_refused")
    assert asyncio.run(runner.cancel_abandoned()) == 1
    assert engine.asked[-1] == "job_refused"
    assert _left(store) == []
    task = store.tasks.get(refused, OWNER)
    assert task is not None
    assert task.upstream is not None
    assert task.upstream.state == "CANCELLED"


def test_a_job_refused_for_a_day_is_given_up_on(tmp_path: Path) -> None:
    store = MemoryStore(clock=Clock(time.time() - GIVE_UP_SECONDS - 60))
    task_id = _failed_with_live_job(store, "job_gone_for_good")
    engine = Upstream(takes=set())
    runner = _runner(tmp_path, store, engine)

    assert asyncio.run(runner.cancel_abandoned()) == 0
    assert engine.asked == ["job_gone_for_good"]
    assert _left(store) == []
    task = store.tasks.get(task_id, OWNER)
    assert task is not None
    assert task.upstream == UpstreamRef(UPSTREAM, "job_gone_for_good")  # what it knew
