"""Periodic clean-up that no request waits for: expired outputs and idempotency keys.

Files are deleted before the task is marked expired, so a crash in between only means the next
sweep deletes nothing and marks it; the reverse order could leave files nobody would delete.
"""

from __future__ import annotations

import logging
import threading
import time

from reelgate.blobs import keys
from reelgate.blobs.base import BlobStore
from reelgate.store.base import Store

log = logging.getLogger(__name__)

SWEEP_BATCH = 200  # tasks expired per pass; the next pass takes the rest


class Housekeeper:
    def __init__(
        self, store: Store, blobs: BlobStore, retention_days: float, sweep_seconds: float
    ) -> None:
        self._store = store
        self._blobs = blobs
        self._retention_seconds = retention_days * 86400.0
        self._sweep_seconds = sweep_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="housekeeping", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._sweep_seconds):
            try:
                self.sweep()
            except Exception:
                log.exception("housekeeping pass failed")

    def sweep(self) -> int:
        """Expire the outputs of tasks past the retention period; returns how many."""
        cutoff = time.time() - self._retention_seconds
        expired = self._store.tasks.outputs_to_expire(cutoff, SWEEP_BATCH)
        for task_id in expired:
            task = self._store.tasks.get(task_id, None)
            folders = keys.task_folders(task) if task is not None else [keys.task_prefix(task_id)]
            for folder in folders:
                self._blobs.delete_prefix(folder)
            self._store.tasks.mark_outputs_expired(task_id)
        purged = self._store.idempotency.purge_expired()
        if expired or purged:
            log.info(
                "housekeeping: %d outputs expired, %d idempotency keys purged", len(expired), purged
            )
        return len(expired)
