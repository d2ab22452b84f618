"""Operations.readiness and .queue: what a load balancer and an operator see about the
deployment."""

from __future__ import annotations

from pathlib import Path

from reelgate.blobs.local import LocalBlobStore
from reelgate.core.tasks import Action, GenerationSpec, NewTask
from reelgate.engines.registry import ModelRegistry
from reelgate.engines.synthetic import SyntheticEngine
from reelgate.service import Operations
from reelgate.store.base import WorkerInfo
from reelgate.store.memory import MemoryStore

MODELS = ("gen4_turbo", "sora-2", "gen3")
HEARTBEAT_SECONDS = 5.0


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class UnwritableBlobs(LocalBlobStore):
    def ping(self) -> None:
        raise PermissionError("read-only file system")


def worker(worker_id: str, *models: str) -> WorkerInfo:
    return WorkerInfo(worker_id, "gpu-host", 1234, models, "cuda:0", 0.0, 0.0, None)


def operations(store: MemoryStore, blobs: LocalBlobStore) -> Operations:
    registry = ModelRegistry(dict.fromkeys(MODELS, SyntheticEngine))
    return Operations(store, blobs, registry, HEARTBEAT_SECONDS)


def test_ready_and_naming_the_models_no_live_worker_serves(tmp_path: Path) -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    ops = operations(store, LocalBlobStore(tmp_path))
    store.workers.beat([worker("w1", "gen4_turbo"), worker("w2", "gen4_turbo", "gen3")])

    readiness = ops.readiness()

    assert readiness.ready
    assert readiness.checks == {"database": "ok", "storage": "ok"}
    assert readiness.models == MODELS
    assert readiness.models_without_workers == ("sora-2",)


def test_a_worker_that_missed_three_beats_no_longer_serves_its_models(tmp_path: Path) -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    ops = operations(store, LocalBlobStore(tmp_path))
    store.workers.beat([worker("w1", *MODELS)])

    clock.now += 3 * HEARTBEAT_SECONDS
    assert ops.readiness().models_without_workers == ()
    clock.now += 0.5

    assert ops.readiness().models_without_workers == MODELS


def test_storage_that_cannot_be_written_makes_the_deployment_not_ready(tmp_path: Path) -> None:
    ops = operations(MemoryStore(), UnwritableBlobs(tmp_path))

    readiness = ops.readiness()

    assert not readiness.ready
    assert readiness.checks == {"database": "ok", "storage": "error: PermissionError"}
    assert readiness.models_without_workers == ()  # not judged while a dependency is down


def queue_task(store: MemoryStore, model: str, created_at: float) -> None:
    spec = GenerationSpec(prompt="a cat", model=model, width=1280, height=720, seconds=5, seed=7)
    store.tasks.create(
        NewTask(
            id=f"task-{model}-{created_at}",
            owner_id="key_owner",
            dialect="native",
            action=Action.TEXT_TO_VIDEO,
            spec=spec,
            callback_url=None,
            api_version="2024-11-06",
            created_at=created_at,
        )
    )


def test_queue_counts_each_model_with_its_live_workers(tmp_path: Path) -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    ops = operations(store, LocalBlobStore(tmp_path))
    for model, created_at in (("sora-2", 10.0), ("sora-2", 5.0), ("sora-2", 20.0), ("gen3", 7.0)):
        queue_task(store, model, created_at)
    # A model dropped from the registry while its tasks waited is still shown, after the rest.
    queue_task(store, "gen2", 3.0)
    assert store.tasks.claim("w1", 30.0, ["sora-2"]) is not None  # the oldest: created at 5
    store.workers.beat([worker("w1", "sora-2"), worker("w2", "sora-2", "gen3")])

    view = ops.queue()

    assert [(q.model, q.queued, q.running, q.live_workers) for q in view.models] == [
        ("gen4_turbo", 0, 0, 0),
        ("sora-2", 2, 1, 2),
        ("gen3", 1, 0, 1),
        ("gen2", 1, 0, 0),
    ]
    assert [q.oldest_queued_at for q in view.models] == [None, 10.0, 7.0, 3.0]
    assert view.models_without_workers == ("gen4_turbo",)
    assert [w.id for w in ops.live_workers()] == ["w1", "w2"]
