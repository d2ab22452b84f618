"""One worker: claim, render, encode, publish, finish — fenced by its lease at every write."""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from reelgate.blobs.base import BlobStore
from reelgate.core.tasks import BLOB_SCHEME, FailureCode, GenerationSpec, Outputs
from reelgate.engines.base import Reference, TaskInterrupted
from reelgate.engines.registry import ModelRegistry
from reelgate.media.encode import Mp4Writer
from reelgate.media.image import ImageDecodeError, decode_image
from reelgate.media.poster import jpeg_bytes
from reelgate.outbound import OutboundPolicy
from reelgate.outbound.fetch import ImageFetchError, fetch_image_sync
from reelgate.store.tasks import Claim, TaskRepo
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


class InputError(Exception):
    """A task's input (its reference image) cannot be used: the task fails as ASSET.INVALID."""


class _Context:
    """The EngineContext handed to an engine for one claim."""

    def __init__(
        self,
        tasks: TaskRepo,
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


class Worker:
    def __init__(
        self,
        worker_id: str,
        tasks: TaskRepo,
        blobs: BlobStore,
        registry: ModelRegistry,
        config: WorkerConfig,
        *,
        wake: threading.Event,
        abort: threading.Event,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.worker_id = worker_id
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
        claim = self._tasks.claim(
            self.worker_id,
            self._config.lease_seconds,
            self._registry.names,
            self._config.max_running_per_owner,
        )
        if claim is None:
            return False
        self.current_task_id = claim.task.id
        try:
            self.process(claim)
        finally:
            self.current_task_id = None
        return True

    def process(self, claim: Claim) -> None:
        task = claim.task
        # Work files are per claim (the lease token), not per attempt: a released task reuses
        # its attempt number, and the next claimer must never share a folder with this one.
        work = self._config.work_dir / task.id / f"lease-{claim.token}"
        prefix = f"tasks/{task.id}/{task.attempt}/"
        lease = LeaseKeeper(
            self._tasks, claim, self._config.heartbeat_seconds, self._config.lease_seconds
        )
        self._discard_abandoned_attempts(claim)
        try:
            with lease:
                ctx = _Context(self._tasks, claim, lease, self._abort, self._reference(task.spec))
                outputs = self._render(claim, ctx, work, prefix)
                ctx.check()
                # Before the commit: a crash after it must not leave work files behind.
                _remove_work(work)
                if not self._tasks.succeed(claim, outputs):
                    raise TaskInterrupted(LEASE_LOST)
        except TaskInterrupted as stop:
            self._discard(work, prefix)
            if stop.reason == CANCELLED:
                self._tasks.cancelled(claim)
            elif stop.reason == SHUTDOWN:
                self._tasks.release(claim)
            log.info("task %s attempt %d stopped: %s", task.id, task.attempt, stop.reason)
        except InputError as bad:
            self._discard(work, prefix)
            self._tasks.fail(claim, str(bad), FailureCode.ASSET_INVALID)
        except Exception as exc:
            self._discard(work, prefix)
            if self._tasks.fail(claim, f"{type(exc).__name__}: {exc}", FailureCode.INTERNAL):
                log.exception("task %s attempt %d failed", task.id, task.attempt)
            else:
                # The lease had already passed to another worker (this one stalled): the error
                # is a consequence of the takeover, not a failure of the task.
                log.info("task %s attempt %d: lease lost (%s)", task.id, task.attempt, exc)

    def _discard(self, work: Path, prefix: str) -> None:
        _remove_work(work)
        self._blobs.delete_prefix(prefix)

    def _reference(self, spec: GenerationSpec) -> Reference | None:
        """Fetch and decode the input image, through the outbound guard for URLs."""
        if spec.image is None:
            return None
        url = spec.image.url
        try:
            if url.startswith(BLOB_SCHEME):
                data = self._blobs.get_bytes(url.removeprefix(BLOB_SCHEME))
            else:
                data = fetch_image_sync(url, self._policy)
            frame = decode_image(data)
        except (ImageFetchError, ImageDecodeError, FileNotFoundError, ValueError) as exc:
            raise InputError(f"the input image cannot be used: {exc}") from exc
        return Reference(frame=frame, position=spec.image.position)

    def _discard_abandoned_attempts(self, claim: Claim) -> None:
        """Delete what earlier attempts left behind: they lost their lease (or their process),
        so nothing they wrote can ever be published."""
        task = claim.task
        for older in range(1, task.attempt):
            self._blobs.delete_prefix(f"tasks/{task.id}/{older}/")
        for stale in (self._config.work_dir / task.id).glob("*"):
            if stale.name != f"lease-{claim.token}":
                shutil.rmtree(stale, ignore_errors=True)

    def _render(self, claim: Claim, ctx: _Context, attempt_dir: Path, prefix: str) -> Outputs:
        spec = claim.task.spec
        engine = self._registry.engine(spec.model)
        attempt_dir.mkdir(parents=True, exist_ok=True)
        video = attempt_dir / "video.mp4"
        poster = attempt_dir / "poster.jpg"
        total = spec.frames
        count = 0
        with Mp4Writer(video, spec.width, spec.height, spec.fps) as writer:
            for frame in engine.generate(spec, ctx):
                writer.write(frame)
                if count == total // 2:
                    poster.write_bytes(jpeg_bytes(frame))
                count += 1
                ctx.report(RENDER_SHARE * count / total)
        if count != total:
            raise RuntimeError(f"engine {engine.name} produced {count} frames, expected {total}")
        ctx.report(0.98)
        outputs = Outputs(video_key=prefix + "video.mp4", poster_key=prefix + "poster.jpg")
        self._blobs.put_file(outputs.video_key, video, "video/mp4")
        self._blobs.put_file(outputs.poster_key, poster, "image/jpeg")
        return outputs


def _remove_work(work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    with contextlib.suppress(OSError):
        work.parent.rmdir()  # only when no other claim's folder is left in it


def sweep_work_dir(work_dir: Path, tasks: TaskRepo) -> int:
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
