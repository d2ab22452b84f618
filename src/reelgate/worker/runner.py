"""One worker: claim, render, encode, publish, finish — fenced by its lease at every write."""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reelgate.blobs import keys
from reelgate.blobs.base import BlobStore
from reelgate.core.tasks import FailureCode, GenerationSpec, MediaInfo, Outputs, Task
from reelgate.engines.base import Engine, Reference
from reelgate.engines.registry import ModelRegistry
from reelgate.errors import ImageDecodeError, ImageFetchError, InputError, TaskInterrupted
from reelgate.media.encode import Mp4Writer
from reelgate.media.image import decode_image
from reelgate.media.poster import jpeg_bytes
from reelgate.media.probe import probe
from reelgate.observability import Metrics, log_context, meter, tracing
from reelgate.outbound import OutboundPolicy
from reelgate.outbound.fetch import fetch_image_sync
from reelgate.store.base import Claim, TaskQueue
from reelgate.worker.lease import LeaseKeeper

log = logging.getLogger(__name__)

# At most two progress writes a second per task; each also reads the cancel flag, so a cancel
# stops the engine within about half a second plus one frame.
PROGRESS_WRITE_SECONDS = 0.5
RENDER_SHARE = 0.95  # the frames are 95% of the work; encoding tail and upload the rest

CANCELLED = "cancelled"
LEASE_LOST = "lease lost"
SHUTDOWN = "shutting down"


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    lease_seconds: float
    heartbeat_seconds: float
    poll_seconds: float
    work_dir: Path
    max_running_per_owner: int | None = None


class _Context:
    """The EngineContext handed to an engine for one claim."""

    def __init__(
        self,
        tasks: TaskQueue,
        claim: Claim,
        lease: LeaseKeeper,
        abort: threading.Event,
        reference: Reference | None,
    ) -> None:
        self.reference = reference
        self._tasks = tasks
        self._claim = claim
        self._lease = lease
        self._abort = abort
        self._last_write = 0.0

    def check(self) -> None:
        if self._lease.cancel_requested.is_set():
            raise TaskInterrupted(CANCELLED)
        if self._lease.lost.is_set():
            raise TaskInterrupted(LEASE_LOST)
        if self._abort.is_set():
            raise TaskInterrupted(SHUTDOWN)

    def report(self, fraction: float) -> None:
        self.check()
        now = time.monotonic()
        if now - self._last_write < PROGRESS_WRITE_SECONDS:
            return
        self._last_write = now
        state = self._tasks.report_progress(self._claim, fraction)
        if not state.held:
            self._lease.lost.set()
        elif state.cancel_requested:
            self._lease.cancel_requested.set()
        self.check()


class Stopwatch:
    """Seconds per stage of one attempt, written to the task record when it finishes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 6)


class Worker:
    def __init__(
        self,
        worker_id: str,
        tasks: TaskQueue,
        blobs: BlobStore,
        registry: ModelRegistry,
        config: WorkerConfig,
        *,
        wake: threading.Event,
        abort: threading.Event,
        policy: OutboundPolicy | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.worker_id = worker_id
        self._metrics = metrics
        self._engine_names: dict[str, str] = {}  # model -> its engine's name, once loaded
        self._policy = policy or OutboundPolicy()
        self._tasks = tasks
        self._blobs = blobs
        self._registry = registry
        self._config = config
        self._wake = wake
        self._abort = abort
        self.current_task_id: str | None = None

    def run(self, stop: threading.Event) -> None:
        """Claim and process tasks until `stop` is set."""
        with log_context(worker_id=self.worker_id):
            self._loop(stop)

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                worked = self.run_once()
            except Exception:
                log.exception("worker %s: unexpected error; backing off", self.worker_id)
                worked = False
            if not worked:
                self._wake.wait(self._config.poll_seconds)
                self._wake.clear()

    def run_once(self) -> bool:
        claiming = tracing.now_ns()
        claim = self._tasks.claim(
            self.worker_id,
            self._config.lease_seconds,
            self._registry.names,
            self._config.max_running_per_owner,
        )
        if claim is None:
            return False
        self.current_task_id = claim.task.id
        task = claim.task
        try:
            with attempt_scope(task, self.worker_id, self._metrics):
                log.info("task %s attempt %d claimed (%s)", task.id, task.attempt, task.spec.model)
                # The attempt joins the trace of the request that created the task.
                with tracing.span(
                    "task.attempt",
                    parent=task.trace_context,
                    start_ns=claiming,
                    attributes={
                        "reelgate.task_id": task.id,
                        "reelgate.attempt": task.attempt,
                        "reelgate.model": task.spec.model,
                        "reelgate.worker_id": self.worker_id,
                    },
                ):
                    tracing.record("task.claim", claiming)
                    self.process(claim)
        finally:
            self.current_task_id = None
        return True

    def process(self, claim: Claim) -> None:
        task = claim.task
        # Work files are per claim (the lease token), not per attempt: a released task reuses
        # its attempt number, and the next claimer must never share a folder with this one.
        work = self._config.work_dir / task.id / f"lease-{claim.token}"
        prefix = keys.attempt_prefix(task.id, task.attempt)
        clock = Stopwatch()
        clock.add("queue_wait", max(0.0, time.time() - task.created_at))
        lease = LeaseKeeper(
            self._tasks, claim, self._config.heartbeat_seconds, self._config.lease_seconds
        )
        self._discard_abandoned_attempts(claim)
        try:
            with lease:
                ctx = _Context(self._tasks, claim, lease, self._abort, self._reference(task.spec))
                outputs = self._render(claim, ctx, work, clock)
                ctx.check()
                # Before the commit: a crash after it must not leave work files behind.
                remove_work(work)
                if not self._tasks.succeed(claim, outputs, clock.seconds):
                    raise TaskInterrupted(LEASE_LOST)
            log.info("task %s attempt %d succeeded: %s", task.id, task.attempt, clock.seconds)
            self._finished(task.spec, "succeeded", clock, frames=task.spec.frames)
        except TaskInterrupted as stop:
            self._discard(work, prefix)
            if stop.reason == CANCELLED:
                if self._tasks.cancelled(claim):
                    self._finished(task.spec, "cancelled", clock)
                    if self._metrics is not None:
                        self._metrics.task_cancelled("running")
            elif stop.reason == SHUTDOWN:
                self._tasks.release(claim)
            log.info("task %s attempt %d stopped: %s", task.id, task.attempt, stop.reason)
        except InputError as bad:
            self._discard(work, prefix)
            if self._tasks.fail(claim, str(bad), FailureCode.ASSET_INVALID, clock.seconds):
                self._finished(task.spec, "failed", clock)
                log.info("task %s attempt %d failed: %s", task.id, task.attempt, bad)
        except Exception as exc:
            self._discard(work, prefix)
            failure = f"{type(exc).__name__}: {exc}"
            if self._tasks.fail(claim, failure, FailureCode.INTERNAL, clock.seconds):
                self._finished(task.spec, "failed", clock)
                log.exception("task %s attempt %d failed", task.id, task.attempt)
            else:
                # The lease had already passed to another worker (this one stalled): the error
                # is a consequence of the takeover, not a failure of the task.
                log.info("task %s attempt %d: lease lost (%s)", task.id, task.attempt, exc)

    def _finished(
        self, spec: GenerationSpec, status: str, clock: Stopwatch, frames: int = 0
    ) -> None:
        span = tracing.current()  # the attempt's
        span.set_attribute("reelgate.status", status)
        if status == "failed":
            span.fail("the task failed")
        if self._metrics is not None:
            engine = self._engine_names.get(spec.model, "unknown")
            # Stage histograms from whole attempts only: a failed one's stages are partial.
            timings = clock.seconds if status == "succeeded" else None
            self._metrics.task_finished(spec.model, engine, status, timings, frames=frames)

    def _discard(self, work: Path, prefix: str) -> None:
        remove_work(work)
        self._blobs.delete_prefix(prefix)

    def _reference(self, spec: GenerationSpec) -> Reference | None:
        """Fetch and decode the input image, through the outbound guard for URLs."""
        if spec.image is None:
            return None
        url = spec.image.url
        stored = keys.uploaded_key(url)
        try:
            data = self._blobs.get_bytes(stored) if stored else fetch_image_sync(url, self._policy)
            frame = decode_image(data)
        except (ImageFetchError, ImageDecodeError, FileNotFoundError, ValueError) as exc:
            raise InputError(f"the input image cannot be used: {exc}") from exc
        return Reference(frame=frame, position=spec.image.position)

    def _discard_abandoned_attempts(self, claim: Claim) -> None:
        """Delete what earlier attempts left behind: they lost their lease (or their process),
        so nothing they wrote can ever be published."""
        task = claim.task
        for older in range(1, task.attempt):
            self._blobs.delete_prefix(keys.attempt_prefix(task.id, older))
        for stale in (self._config.work_dir / task.id).glob("*"):
            if stale.name != f"lease-{claim.token}":
                shutil.rmtree(stale, ignore_errors=True)

    def _engine(self, model: str, clock: Stopwatch) -> Engine:
        engine, load_seconds = self._registry.load(model)
        self._engine_names[model] = engine.name
        if load_seconds is not None:  # this task waited for the model: a cold start
            clock.add("load", load_seconds)
            clock.add("cold", 1.0)
            log.info("model %s loaded in %.2fs for its first task", model, load_seconds)
        return engine

    def _render(self, claim: Claim, ctx: _Context, work: Path, clock: Stopwatch) -> Outputs:
        task = claim.task
        spec = task.spec
        engine = self._engine(spec.model, clock)
        work.mkdir(parents=True, exist_ok=True)
        video = work / keys.VIDEO_NAME
        poster = work / keys.POSTER_NAME
        total = spec.frames
        count = 0
        encoding = tracing.now_ns()
        with Mp4Writer(video, spec.width, spec.height, spec.fps) as writer:
            # Frames are encoded as they come: the engine span holds the encoder's writes
            # too, and the encode span (writer open to closed) overlaps it. Each carries the
            # seconds its own stage took.
            with tracing.span("task.engine", attributes={"reelgate.engine": engine.name}) as span:
                frames = iter(engine.generate(spec, ctx))
                while True:
                    with clock.stage("engine"):
                        frame = next(frames, None)
                    if frame is None:
                        break
                    with clock.stage("encode"):
                        writer.write(frame)
                        if count == total // 2:
                            poster.write_bytes(jpeg_bytes(frame))
                    count += 1
                    ctx.report(RENDER_SHARE * count / total)
                span.set_attribute("reelgate.frames", count)
                span.set_attribute("reelgate.seconds", clock.seconds.get("engine", 0.0))
            with clock.stage("encode"):
                writer.close()
        tracing.record(
            "task.encode", encoding, {"reelgate.seconds": clock.seconds.get("encode", 0.0)}
        )
        if count != total:
            raise RuntimeError(f"engine {engine.name} produced {count} frames, expected {total}")
        ctx.report(0.98)
        info = probe(video)
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
        with clock.stage("upload"), tracing.span("task.upload"):
            self._blobs.put_file(outputs.video_key, video, "video/mp4")
            self._blobs.put_file(outputs.poster_key, poster, "image/jpeg")
        return outputs


@contextlib.contextmanager
def attempt_scope(task: Task, worker_id: str, metrics: Metrics | None) -> Iterator[None]:
    """Around one claimed attempt, in a frame worker's thread or a job's coroutine: counts the
    claim, tags every log line with the task, its attempt, worker and request id (one search
    finds its create, render and webhook), and binds what the engine counts to the model."""
    with (
        log_context(
            task_id=task.id,
            attempt=task.attempt,
            request_id=task.request_id,
            worker_id=worker_id,
        ),
        meter.metering(metrics, task.spec.model),
    ):
        if metrics is not None:
            metrics.task_claimed(task.spec.model, task.attempt)
        yield


def remove_work(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    with contextlib.suppress(OSError):
        work.parent.rmdir()  # only when no other claim's folder is left in it


def sweep_work_dir(work_dir: Path, tasks: TaskQueue) -> int:
    """Delete work folders of tasks that are finished or gone: what a process killed outside
    any later claim of the same task left behind. Returns how many were removed."""
    removed = 0
    if not work_dir.is_dir():
        return 0
    for folder in work_dir.iterdir():
        task = tasks.get(folder.name, None)
        if task is None or task.status.terminal:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed
