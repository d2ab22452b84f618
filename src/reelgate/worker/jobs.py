"""The job runner: a worker for job engines (upstream), holding hundreds of waits at once.

One event loop on one thread runs every claimed job as a coroutine; database and file work goes
to a small, fixed thread pool. So the threads a process uses do not grow with the jobs it holds:
the loop, `DB_THREADS` helpers, nothing per job. Leases are kept by one batched heartbeat for
all of them (`TaskQueue.heartbeat_many`), which also brings each job its owner's cancel. A job
is claimed only while its engine has a free slot on some endpoint, so excess tasks wait in our
queue rather than at the upstream; and an engine's next task is claimed only once the one before
has reached the engine (`run` counts it against a slot), since a job's first steps (its work
folder, its input image) take a turn of the loop during which the engine does not know of it.

A sweep, at start and every `sweep_seconds`, takes the upstream jobs of its models that the
store lists as abandoned (their task ended while the job may still run: cancelled or deleted
while queued after its worker died, cancelled or failed by the reaper, failed on our side
mid-job) and cancels them upstream, so nobody pays for a video no task waits on. Every worker of
the model sweeps; two cancelling the same job ask the upstream twice, which it answers alike.

The output is published as delivered (no re-encode): probed (it must be a playable video; its
real size, rate and length go into the task record), a poster made from its middle frame, both
files stored under the attempt's keys, then the task finishes — fenced by its lease like every
worker write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx

from reelgate.blobs import keys
from reelgate.blobs.base import BlobStore
from reelgate.core.tasks import (
    UPSTREAM_CANCELLED,
    FailureCode,
    GenerationSpec,
    MediaInfo,
    Outputs,
    Task,
    UpstreamRef,
)
from reelgate.engines.base import ImageBytes, JobEngine
from reelgate.engines.registry import ModelRegistry
from reelgate.errors import (
    ImageDecodeError,
    ImageFetchError,
    InputError,
    TaskInterrupted,
    UpstreamError,
    UpstreamFailed,
)
from reelgate.media.image import decode_image
from reelgate.media.poster import poster_from_video
from reelgate.media.probe import probe
from reelgate.observability import Metrics
from reelgate.outbound import OutboundPolicy, guarded_client
from reelgate.outbound.fetch import fetch_image_sync, image_format
from reelgate.store.base import Claim, LeaseState, TaskQueue
from reelgate.worker.runner import (
    CANCELLED,
    LEASE_LOST,
    SHUTDOWN,
    Stopwatch,
    WorkerConfig,
    attempt_scope,
    remove_work,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

DB_THREADS = 8  # database, probe and storage calls of every job share these threads
BEAT_SECONDS_MAX = 1.0  # one batched beat a second at most: it also carries the cancels
PROGRESS_WRITE_SECONDS = 1.0  # per job; an upstream's progress moves slowly
SWEEP_SECONDS = 5.0  # how often jobs left behind by ended tasks are looked for
ABANDONED_BATCH = 50  # jobs cancelled per sweep; the next sweep takes the rest
ABANDON_RETRY_SECONDS = 60.0  # after a cancel the upstream did not take, before trying again
GIVE_UP_SECONDS = 86_400.0  # a job still not cancelled this long after its task ended
AUTH_FAILURE = "the rendering service refused reelgate's credentials; the operator has been told"


class _JobContext:
    """The JobContext of one claimed task."""

    def __init__(self, runner: JobRunner, claim: Claim, work_dir: Path) -> None:
        self._runner = runner
        self.claim = claim
        self.work_dir = work_dir
        self.image: ImageBytes | None = None
        self.upstream: UpstreamRef | None = claim.task.upstream
        self.lease = LeaseState(held=True, cancel_requested=claim.task.cancel_requested)
        self._last_progress = 0.0
        self._last_write = 0.0

    @property
    def task_id(self) -> str:
        return self.claim.task.id

    @property
    def guarded_client(self) -> httpx.AsyncClient:
        client = self._runner.guarded
        assert client is not None
        return client

    def check(self) -> None:
        if not self.lease.held:
            raise TaskInterrupted(LEASE_LOST)
        if self._runner.aborting.is_set():
            raise TaskInterrupted(SHUTDOWN)

    def cancel_requested(self) -> bool:
        return self.lease.cancel_requested

    async def record(self, ref: UpstreamRef) -> None:
        self.check()
        held = await self._runner.call(self._runner.tasks.record_upstream, self.claim, ref)
        if not held:
            self.lease = LeaseState(held=False, cancel_requested=False)
            raise TaskInterrupted(LEASE_LOST)
        self.upstream = ref

    async def report(self, fraction: float) -> None:
        self.check()
        now = time.monotonic()
        if fraction <= self._last_progress or now - self._last_write < PROGRESS_WRITE_SECONDS:
            return
        self._last_progress, self._last_write = fraction, now
        self.lease = await self._runner.call(
            self._runner.tasks.report_progress, self.claim, 0.95 * fraction
        )
        self.check()


class JobRunner:
    """Claims and runs the tasks of job-engine models on one event loop thread."""

    def __init__(
        self,
        worker_id: str,
        tasks: TaskQueue,
        blobs: BlobStore,
        registry: ModelRegistry,
        config: WorkerConfig,
        *,
        policy: OutboundPolicy | None = None,
        fetch_timeout_seconds: float = 15.0,
        metrics: Metrics | None = None,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self.worker_id = worker_id
        self._sweep_seconds = sweep_seconds
        self._metrics = metrics
        self.tasks = tasks
        self._blobs = blobs
        self._registry = registry
        self._config = config
        self._policy = policy or OutboundPolicy()
        self._fetch_timeout = fetch_timeout_seconds
        self.models = registry.job_models
        self.guarded: httpx.AsyncClient | None = None
        self.aborting = threading.Event()
        self._stopping = threading.Event()
        self._jobs: dict[str, _JobContext] = {}
        # Per engine (by id), the task claimed for it that has not reached its `run` yet.
        self._unplaced: dict[int, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._executor = ThreadPoolExecutor(DB_THREADS, thread_name_prefix=f"{worker_id}-io")
        self._thread = threading.Thread(target=self._run, name=worker_id, daemon=True)
        self._grace_seconds = 0.0

    @property
    def active(self) -> int:
        """Jobs held right now."""
        return len(self._jobs)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """A task was queued: look for work now rather than at the next poll."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)

    def stop(self, grace_seconds: float) -> None:
        """Stop claiming; give held jobs `grace_seconds` to finish, then hand them back to the
        queue (a job submitted upstream is resumed there by the next worker, not resubmitted)."""
        self._grace_seconds = grace_seconds
        self._stopping.set()
        self.wake()
        self._thread.join()
        self._executor.shutdown(wait=True)

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run blocking work (the database, files, probing) on the shared threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    # -- the loop ------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception:
            log.exception("job runner %s stopped on an unexpected error", self.worker_id)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        running: set[asyncio.Task[None]] = set()
        async with guarded_client(self._policy, timeout_seconds=self._fetch_timeout) as guarded:
            self.guarded = guarded
            beat = asyncio.create_task(self._beat())
            sweep = asyncio.create_task(self._sweep())
            while not self._stopping.is_set():
                try:
                    claim = await self._claim()
                except Exception:
                    log.exception("job runner %s: claim failed; backing off", self.worker_id)
                    claim = None
                if claim is not None:
                    engine = self._registry.job_engine(claim.task.spec.model)
                    self._unplaced[id(engine)] = claim.task.id
                    job = asyncio.create_task(self._job(claim))
                    running.add(job)
                    job.add_done_callback(running.discard)
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._config.poll_seconds)
            if running:
                await asyncio.wait(set(running), timeout=self._grace_seconds)
            self.aborting.set()
            if running:
                await asyncio.wait(set(running))
            beat.cancel()
            sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweep
            for engine in self._engines():
                await engine.aclose()

    def _engines(self) -> list[JobEngine]:
        return list(
            {id(e): e for e in (self._registry.job_engine(m) for m in self.models)}.values()
        )

    def _open(self, engine: JobEngine) -> bool:
        return id(engine) not in self._unplaced and engine.has_capacity()

    def _placed(self, engine: JobEngine, task_id: str) -> None:
        """The engine now counts this job (or it ended before reaching the engine)."""
        if self._unplaced.get(id(engine)) == task_id:
            del self._unplaced[id(engine)]
            self.wake()

    async def _claim(self) -> Claim | None:
        open_models = [m for m in self.models if self._open(self._registry.job_engine(m))]
        if not open_models:
            return None
        return await self.call(
            self.tasks.claim,
            self.worker_id,
            self._config.lease_seconds,
            open_models,
            self._config.max_running_per_owner,
        )

    async def _beat(self) -> None:
        """Extend every held lease in one statement, and learn of cancels and lost leases."""
        interval = min(self._config.heartbeat_seconds, BEAT_SECONDS_MAX)
        while True:
            await asyncio.sleep(interval)
            held = list(self._jobs.values())
            if not held:
                continue
            try:
                states = await self.call(
                    self.tasks.heartbeat_many,
                    [ctx.claim for ctx in held],
                    self._config.lease_seconds,
                )
            except Exception:
                # A database hiccup is not a lost lease: the next beat may well succeed.
                log.exception("job runner %s: heartbeat failed", self.worker_id)
                continue
            for ctx in held:
                ctx.lease = states.get(ctx.task_id, ctx.lease)

    async def _sweep(self) -> None:
        """`cancel_abandoned` now, then every `sweep_seconds` until the runner stops."""
        while True:
            try:
                await self.cancel_abandoned()
            except Exception:
                log.exception("job runner %s: sweep for abandoned jobs failed", self.worker_id)
            await asyncio.sleep(self._sweep_seconds)

    async def cancel_abandoned(self) -> int:
        """Cancel upstream the jobs whose tasks ended without them and forget each (its task, if
        it still exists, records the job as cancelled). A cancel the upstream did not take is
        tried again after `ABANDON_RETRY_SECONDS`, for a day at most. Returns how many were
        cancelled."""
        left = await self.call(self.tasks.abandoned_upstream, self.models, ABANDONED_BATCH)
        cancelled = 0
        for job in left:
            engine = self._registry.job_engine(job.model)
            if await engine.abandon(job.ref):
                await self.call(
                    self.tasks.settle_upstream, job.task_id, job.ref.ended(UPSTREAM_CANCELLED)
                )
                cancelled += 1
                log.info(
                    "task %s ended without its upstream job %s, which was cancelled",
                    job.task_id,
                    job.ref.job_id,
                )
            elif time.time() - job.abandoned_at > GIVE_UP_SECONDS:
                await self.call(self.tasks.settle_upstream, job.task_id, None)
                log.error(
                    "task %s: gave up cancelling its upstream job %s at %s after a day",
                    job.task_id,
                    job.ref.job_id,
                    job.ref.endpoint,
                )
            else:
                await self.call(self.tasks.postpone_upstream, job.task_id, ABANDON_RETRY_SECONDS)
        return cancelled

    # -- one job -------------------------------------------------------------------------------
    async def _job(self, claim: Claim) -> None:
        task = claim.task
        # Each job is its own asyncio task, so this context is the job's alone.
        with attempt_scope(task, self.worker_id, self._metrics):
            await self._run_job(claim)

    def _finished(self, task: Task, engine: JobEngine, status: str, clock: Stopwatch) -> None:
        if self._metrics is not None:
            timings = clock.seconds if status == "succeeded" else None
            self._metrics.task_finished(task.spec.model, engine.name, status, timings)

    async def _run_job(self, claim: Claim) -> None:
        task = claim.task
        work = self._config.work_dir / task.id / f"lease-{claim.token}"
        prefix = keys.attempt_prefix(task.id, task.attempt)
        clock = Stopwatch()
        clock.add("queue_wait", max(0.0, time.time() - task.created_at))
        ctx = _JobContext(self, claim, work)
        self._jobs[task.id] = ctx
        engine = self._registry.job_engine(task.spec.model)
        try:
            await self.call(self._prepare, task.id, task.attempt, work)
            if task.spec.image is not None:
                ctx.image = await self.call(self._image, task.spec)
            started = time.perf_counter()
            running = engine.run(task.spec, ctx)
            self._placed(engine, task.id)  # `run` counts the job before its first await
            path = await running
            clock.add("engine", time.perf_counter() - started)
            ctx.check()
            outputs = await self.call(self._publish, claim, path, clock)
            if not await self.call(self.tasks.succeed, claim, outputs, clock.seconds):
                raise TaskInterrupted(LEASE_LOST)
            log.info("task %s attempt %d succeeded: %s", task.id, task.attempt, clock.seconds)
            self._finished(task, engine, "succeeded", clock)
        except TaskInterrupted as stop:
            await self.call(self._blobs.delete_prefix, prefix)
            if stop.reason == CANCELLED:
                if await self.call(self.tasks.cancelled, claim):
                    self._finished(task, engine, "cancelled", clock)
                    if self._metrics is not None:
                        self._metrics.task_cancelled("running")
            elif stop.reason == SHUTDOWN:
                await self.call(self.tasks.release, claim)
            log.info("task %s attempt %d stopped: %s", task.id, task.attempt, stop.reason)
        except Exception as exc:
            await self.call(self._blobs.delete_prefix, prefix)
            failure, code = _failure(exc)
            if await self.call(self.tasks.fail, claim, failure, code, clock.seconds):
                _log_failure(task.id, task.attempt, exc)
                self._finished(task, engine, "failed", clock)
        finally:
            self._placed(engine, task.id)
            self._jobs.pop(task.id, None)
            await self.call(remove_work, work)

    def _prepare(self, task_id: str, attempt: int, work: Path) -> None:
        """The claim's work folder, and nothing left of earlier attempts: they lost their lease
        (or their process) before finishing, so nothing they stored can ever be published."""
        for older in range(1, attempt):
            self._blobs.delete_prefix(keys.attempt_prefix(task_id, older))
        work.mkdir(0o755, parents=True, exist_ok=True)

    def _image(self, spec: GenerationSpec) -> ImageBytes:
        """The input image's bytes, fetched through the outbound guard and checked to decode."""
        assert spec.image is not None
        url = spec.image.url
        stored = keys.uploaded_key(url)
        try:
            data = self._blobs.get_bytes(stored) if stored else fetch_image_sync(url, self._policy)
            decode_image(data)
        except (ImageFetchError, ImageDecodeError, FileNotFoundError, ValueError) as exc:
            raise InputError(f"the input image cannot be used: {exc}") from exc
        kind = image_format(data) or "png"
        return ImageBytes(data, f"image/{kind}", spec.image.position)

    def _publish(self, claim: Claim, video: Path, clock: Stopwatch) -> Outputs:
        task = claim.task
        try:
            info = probe(video)
            if info.frames < 1 or info.width < 1 or info.height < 1:
                raise ValueError("it holds no video frames")
            with clock.stage("encode"):
                poster = poster_from_video(video, info.frames)
        except Exception as exc:
            raise UpstreamError(f"the upstream's output is not a playable video: {exc}") from exc
        media = MediaInfo(
            width=info.width,
            height=info.height,
            fps=float(info.fps),
            frames=info.frames,
            duration_seconds=round(info.duration, 6),
            size_bytes=video.stat().st_size,
        )
        outputs = Outputs(
            video_key=keys.video_key(task.id, task.attempt),
            poster_key=keys.poster_key(task.id, task.attempt),
            media=media,
        )
        with clock.stage("upload"):
            self._blobs.put_file(outputs.video_key, video, "video/mp4")
            self._blobs.put_bytes(outputs.poster_key, poster, "image/jpeg")
        return outputs


def _failure(exc: BaseException) -> tuple[str, FailureCode | str]:
    """What the task's owner is told: the upstream's own failure as it said it; for our side
    of an upstream call, the reason without anything only an operator should see."""
    if isinstance(exc, UpstreamFailed):
        return str(exc), exc.code
    if isinstance(exc, InputError):
        return str(exc), FailureCode.ASSET_INVALID
    if isinstance(exc, UpstreamError):
        if exc.status in (401, 403):
            return AUTH_FAILURE, FailureCode.INTERNAL
        return f"upstream: {exc}", FailureCode.INTERNAL
    return f"{type(exc).__name__}: {exc}", FailureCode.INTERNAL


def _log_failure(task_id: str, attempt: int, exc: BaseException) -> None:
    if isinstance(exc, UpstreamFailed | InputError):
        log.info("task %s attempt %d failed: %s", task_id, attempt, exc)
    elif isinstance(exc, UpstreamError):
        hint = " (check the entry's api_key_env)" if exc.status in (401, 403) else ""
        log.error("task %s attempt %d: upstream error%s: %s", task_id, attempt, hint, exc)
    else:
        log.error("task %s attempt %d failed", task_id, attempt, exc_info=exc)
