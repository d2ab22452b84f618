"""What operators and load balancers ask: is the deployment ready, and who serves what."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from reelgate.blobs.base import BlobStore
from reelgate.service.tasks import ModelCatalog
from reelgate.store.base import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    checks: dict[str, str]  # "ok" or "error: <exception type>" per dependency
    models: tuple[str, ...]
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
        served = {m for w in self._store.workers.live(self._live_window_seconds) for m in w.models}
        return tuple(m for m in self._models.names if m not in served)
