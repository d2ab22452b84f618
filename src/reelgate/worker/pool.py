"""A process's workers, plus the threads that keep them honest: registration beats and the
reaper that requeues expired leases.

Stopping is two-phase: `stop` ends claiming at once; running tasks get `grace_seconds` to
finish; then `abort` interrupts them between frames and they are released to the queue
untouched, so the next process picks them up immediately instead of waiting for a lease to
lapse.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import uuid

from reelgate.blobs import keys
from reelgate.blobs.base import BlobStore
from reelgate.engines.registry import ModelRegistry
from reelgate.observability import Metrics
from reelgate.outbound import OutboundPolicy
from reelgate.store.base import ReapResult, TaskQueue, WorkerInfo, WorkerRegistry
from reelgate.worker.jobs import JobRunner
from reelgate.worker.runner import Worker, WorkerConfig, sweep_work_dir

log = logging.getLogger(__name__)

WORK_SWEEP_SECONDS = 60.0  # also once at start: folders a killed process left behind


class WorkerPool:
    """`count` worker threads claiming tasks of the registry's models, one reaper thread that
    settles expired leases (requeue, fail after `max_attempts`, or cancel) and, with a
    `directory`, one thread that registers the workers for readiness and operators."""

    def __init__(
        self,
        count: int,
        tasks: TaskQueue,
        blobs: BlobStore,
        registry: ModelRegistry,
        config: WorkerConfig,
        *,
        max_attempts: int,
        reap_seconds: float,
        directory: WorkerRegistry | None = None,
        device: str = "cpu",
        policy: OutboundPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._tasks = tasks
        self._metrics = metrics
        self._blobs = blobs
        self._registry = registry
        self._config = config
        self._max_attempts = max_attempts
        self._reap_seconds = reap_seconds
        self._directory = directory
        self._device = device
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._wake = threading.Event()
        self._hostname = socket.gethostname()
        self._started_at = time.time()
        base = f"{self._hostname}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        frames = registry.subset(registry.frame_models)
        self.workers = [
            Worker(
                f"{base}-{i}",
                tasks,
                blobs,
                frames,
                config,
                wake=self._wake,
                abort=self._abort,
                policy=policy,
                metrics=metrics,
            )
            for i in range(count if frames.names else 0)
        ]
        # Job engines (upstream) wait on an event loop: one runner holds all their tasks.
        self.jobs: JobRunner | None = None
        if count and registry.job_models:
            registry.build_job_engines()  # a missing key stops start-up, not a task
            self.jobs = JobRunner(
                f"{base}-jobs", tasks, blobs, registry, config, policy=policy, metrics=metrics
            )
        self._threads = [
            threading.Thread(target=w.run, args=(self._stop,), name=w.worker_id, daemon=True)
            for w in self.workers
        ]
        self._threads.append(threading.Thread(target=self._reap, name="reaper", daemon=True))
        if directory is not None and (self.workers or self.jobs):
            self._threads.append(threading.Thread(target=self._beat, name="beat", daemon=True))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        if self.jobs is not None:
            self.jobs.start()

    def wake(self) -> None:
        """Tell idle workers a task was just queued, so pickup does not wait for a poll."""
        self._wake.set()
        if self.jobs is not None:
            self.jobs.wake()

    def _reap(self) -> None:
        last_sweep = 0.0
        while True:
            if time.monotonic() - last_sweep > WORK_SWEEP_SECONDS:
                last_sweep = time.monotonic()
                try:
                    sweep_work_dir(self._config.work_dir, self._tasks)
                except Exception:
                    log.exception("work folder sweep failed")
            if self._stop.wait(self._reap_seconds):
                return
            try:
                reaped = self._tasks.reap_expired(self._max_attempts)
            except Exception:
                log.exception("reaper pass failed")
                continue
            for task_id in reaped.finished:
                # Their last worker died: nothing of theirs will ever be published.
                self._blobs.delete_prefix(keys.task_prefix(task_id))
                shutil.rmtree(self._config.work_dir / task_id, ignore_errors=True)
            if self._metrics is not None:
                self._count_reaped(reaped)
            if reaped.requeued or reaped.finished:
                log.warning(
                    "reaper: %d expired tasks requeued, %d failed, %d cancelled",
                    reaped.requeued,
                    len(reaped.failed),
                    len(reaped.cancelled),
                )

    def _count_reaped(self, reaped: ReapResult) -> None:
        assert self._metrics is not None
        self._metrics.leases_expired(reaped.requeued, len(reaped.failed), len(reaped.cancelled))
        for status, ids in (("failed", reaped.failed), ("cancelled", reaped.cancelled)):
            for task_id in ids:
                task = self._tasks.get(task_id, None)
                if task is not None:  # the engine that had it is gone with its process
                    self._metrics.task_finished(task.spec.model, "unknown", status)
                if status == "cancelled":
                    self._metrics.task_cancelled("running")

    def infos(self) -> list[WorkerInfo]:
        infos = [
            self._info(w.worker_id, self._registry.frame_models, w.current_task_id)
            for w in self.workers
        ]
        if self.jobs is not None:
            infos.append(self._info(self.jobs.worker_id, self._registry.job_models, None))
        return infos

    def _info(self, worker_id: str, models: tuple[str, ...], task_id: str | None) -> WorkerInfo:
        return WorkerInfo(
            id=worker_id,
            hostname=self._hostname,
            pid=os.getpid(),
            models=models,
            device=self._device,
            started_at=self._started_at,
            heartbeat_at=time.time(),
            current_task_id=task_id,
        )

    def _beat(self) -> None:
        assert self._directory is not None
        while True:
            try:
                self._directory.beat(self.infos())
            except Exception:
                log.exception("worker registration beat failed")
            if self._stop.wait(self._config.heartbeat_seconds):
                return

    def stop(self, grace_seconds: float) -> None:
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + grace_seconds
        if self.jobs is not None:
            self.jobs.stop(grace_seconds)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._abort.set()
        for thread in self._threads:
            thread.join()
        registered = [info.id for info in self.infos()]
        if self._directory is not None and registered:
            try:
                self._directory.remove(registered)
            except Exception:
                log.exception("could not deregister workers")
