"""In-process workers for `reelgate serve`, plus the reaper that requeues expired leases.

Stopping is two-phase: `stop` ends claiming at once; running tasks get `grace_seconds` to
finish; then `abort` interrupts them between frames and they are released to the queue
untouched, so the next process picks them up immediately instead of waiting for a lease to
lapse.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from reelgate.blobs.base import BlobStore
from reelgate.engines.registry import ModelRegistry
from reelgate.store.tasks import TaskRepo
from reelgate.worker.runner import Worker, WorkerConfig

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(
        self,
        count: int,
        tasks: TaskRepo,
        blobs: BlobStore,
        registry: ModelRegistry,
        config: WorkerConfig,
        *,
        max_attempts: int,
        reap_seconds: float,
    ) -> None:
        self._tasks = tasks
        self._max_attempts = max_attempts
        self._reap_seconds = reap_seconds
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._wake = threading.Event()
        base = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.workers = [
            Worker(
                f"{base}-{i}",
                tasks,
                blobs,
                registry,
                config,
                wake=self._wake,
                abort=self._abort,
            )
            for i in range(count)
        ]
        self._threads = [
            threading.Thread(target=w.run, args=(self._stop,), name=w.worker_id, daemon=True)
            for w in self.workers
        ]
        self._threads.append(threading.Thread(target=self._reap, name="reaper", daemon=True))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """Tell idle workers a task was just queued, so pickup does not wait for a poll."""
        self._wake.set()

    def _reap(self) -> None:
        while not self._stop.wait(self._reap_seconds):
            try:
                requeued, failed = self._tasks.reap_expired(self._max_attempts)
            except Exception:
                log.exception("reaper pass failed")
                continue
            if requeued or failed:
                log.warning("reaper: %d expired tasks requeued, %d failed", requeued, failed)

    def stop(self, grace_seconds: float) -> None:
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + grace_seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._abort.set()
        for thread in self._threads:
            thread.join()
