"""What operators and load balancers ask: is the deployment ready, and who serves what."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from reelgate.blobs.base import BlobStore
from reelgate.core.tasks import TaskStatus
from reelgate.service.tasks import ModelCatalog
from reelgate.store.base import Store, WorkerInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    checks: dict[str, str]  # "ok" or "error: <exception type>" per dependency
    models: tuple[str, ...]
    models_without_workers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ModelQueue:
    """One model's line in the queue: its waiting and running tasks and who serves it."""

    model: str
    queued: int
    running: int
    oldest_queued_at: float | None  # unix seconds; None when nothing waits
    live_workers: int


@dataclass(frozen=True, slots=True)
class QueueView:
    models: tuple[ModelQueue, ...]  # the registry's models in its order, then any others
    models_without_workers: tuple[str, ...]


class Operations:
    """Readiness and the worker view, the same from any replica (they come from the store)."""

    def __init__(
        self, store: Store, blobs: BlobStore, models: ModelCatalog, heartbeat_seconds: float
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._models = models
        # A worker that missed three beats is gone: the same window the leases allow.
        self._live_window_seconds = 3 * heartbeat_seconds

    def readiness(self) -> Readiness:
        """Whether the database and the storage answer, and which models no live worker serves
        (their tasks wait in the queue until one starts)."""
        checks: dict[str, str] = {}
        for name, probe in (("database", self._store.ping), ("storage", self._blobs.ping)):
            try:
                probe()
            except Exception as exc:
                log.warning("readiness check %s failed: %s", name, exc)
                checks[name] = f"error: {type(exc).__name__}"
            else:
                checks[name] = "ok"
        ready = all(v == "ok" for v in checks.values())
        return Readiness(
            ready=ready,
            checks=checks,
            models=self._models.names,
            models_without_workers=self.unserved_models() if ready else (),
        )

    def unserved_models(self) -> tuple[str, ...]:
        served = {m for w in self.live_workers() for m in w.models}
        return tuple(m for m in self._models.names if m not in served)

    @property
    def live_window_seconds(self) -> float:
        return self._live_window_seconds

    def live_workers(self) -> list[WorkerInfo]:
        """Workers that beat within the window, with their models and current task."""
        return self._store.workers.live(self._live_window_seconds)

    def queue(self) -> QueueView:
        """Queued and running tasks per model with the live workers serving each. A model with
        tasks that the registry no longer names (its file changed) is listed after the rest,
        so no waiting task is hidden."""
        depth = self._store.tasks.depth()
        serving: dict[str, int] = {}
        for worker in self.live_workers():
            for model in worker.models:
                serving[model] = serving.get(model, 0) + 1
        names = list(self._models.names)
        names += sorted({model for model, _ in depth.counts} - set(names))
        rows = tuple(
            ModelQueue(
                model=model,
                queued=depth.counts.get((model, TaskStatus.QUEUED.value), 0),
                running=depth.counts.get((model, TaskStatus.RUNNING.value), 0),
                oldest_queued_at=depth.oldest_queued_at.get(model),
                live_workers=serving.get(model, 0),
            )
            for model in names
        )
        unserved = tuple(m for m in self._models.names if m not in serving)
        return QueueView(models=rows, models_without_workers=unserved)
