"""Keeping a claim alive while an engine works.

The heartbeat runs on its own thread so that a long engine step (a model load, a slow encode)
cannot starve it: the lease only lapses when the whole process stalls or dies, which is exactly
when another worker should take the task over.
"""

from __future__ import annotations

import logging
import threading

from reelgate.store.base import Claim, TaskQueue

log = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(
        self, tasks: TaskQueue, claim: Claim, heartbeat_seconds: float, lease_seconds: float
    ) -> None:
        self._tasks = tasks
        self._claim = claim
        self._heartbeat_seconds = heartbeat_seconds
        self._lease_seconds = lease_seconds
        self._stop = threading.Event()
        self.lost = threading.Event()
        self.cancel_requested = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lease-{claim.task.id[:8]}", daemon=True
        )

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._heartbeat_seconds):
            try:
                state = self._tasks.heartbeat(self._claim, self._lease_seconds)
            except Exception:
                # A database hiccup is not a lost lease: the next beat may succeed well within
                # the lease (lease >= 3 heartbeats is enforced at start-up).
                log.exception("heartbeat failed for task %s", self._claim.task.id)
                continue
            if not state.held:
                self.lost.set()
                return
            if state.cancel_requested:
                self.cancel_requested.set()
