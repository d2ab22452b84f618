"""Worker.process and run_once over the in-memory store and a blob directory: what the owner of a
task sees after a worker claimed it (files, status, failure, timings)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from reelgate.blobs import keys
from reelgate.blobs.local import LocalBlobStore
from reelgate.core.tasks import (
    Action,
    FailureCode,
    GenerationSpec,
    ImageInput,
    MediaInfo,
    NewTask,
    Task,
    TaskStatus,
)
from reelgate.engines.base import Engine, EngineContext, Frame
from reelgate.engines.registry import EngineFactory, ModelRegistry
from reelgate.engines.synthetic import SyntheticEngine
from reelgate.media.probe import probe
from reelgate.store.base import Claim
from reelgate.store.memory import MemoryStore
from reelgate.worker.runner import Worker, WorkerConfig

OWNER = "key_alice"
LEASE_SECONDS = 30.0
QUEUED_FOR_SECONDS = 3.0
WIDTH, HEIGHT, FPS = 64, 48, 4  # one second is four frames: a clip renders in milliseconds
FRAMES = FPS


class FakeClock:
    """The store's clock: starts at the real time (the worker measures queue waits with it) and
    moves only when the test moves it, so leases lapse without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Scripted:
    """An engine that runs `before` inside the claim, then yields `frames` flat frames."""

    name = "scripted"

    def __init__(
        self,
        frames: int = FRAMES,
        before: Callable[[], object] = lambda: None,
        fail_after: int | None = None,
    ) -> None:
        self.frames = frames
        self.before = before
        self.fail_after = fail_after
        self.yielded = 0

    def generate(self, spec: GenerationSpec, ctx: EngineContext) -> Iterator[Frame]:
        self.before()
        for index in range(self.frames):
            if index == self.fail_after:
                raise RuntimeError("the model ran out of memory")
            self.yielded += 1
            yield np.full((spec.height, spec.width, 3), 40 * index % 256, np.uint8)


@dataclass
class Rig:
    clock: FakeClock
    store: MemoryStore
    blobs: LocalBlobStore
    work_dir: Path
    abort: threading.Event
    wake: threading.Event

    def worker(
        self, engine: Engine | None = None, worker_id: str = "w1", poll_seconds: float = 0.05
    ) -> Worker:
        factories: dict[str, EngineFactory] = {"tiny": SyntheticEngine}
        if engine is not None:
            factories["scripted"] = lambda: engine
        config = WorkerConfig(
            lease_seconds=LEASE_SECONDS,
            heartbeat_seconds=60.0,  # the keeper never beats within a test: no thread timing
            poll_seconds=poll_seconds,
            work_dir=self.work_dir,
        )
        return Worker(
            worker_id,
            self.store.tasks,
            self.blobs,
            ModelRegistry(factories),
            config,
            wake=self.wake,
            abort=self.abort,
        )

    def queue(self, model: str = "tiny", image: str | None = None) -> Task:
        spec = GenerationSpec(
            prompt="a red fox trotting through fresh snow",
            model=model,
            width=WIDTH,
            height=HEIGHT,
            seconds=1,
            seed=7,
            fps=FPS,
            image=ImageInput(image) if image else None,
        )
        new = NewTask(
            id=str(uuid.uuid4()),
            owner_id=OWNER,
            dialect="native",
            action=Action.IMAGE_TO_VIDEO if image else Action.TEXT_TO_VIDEO,
            spec=spec,
            callback_url=None,
            api_version="2024-11-06",
            created_at=self.clock.now - QUEUED_FOR_SECONDS,
        )
        return self.store.tasks.create(new)

    def claim(self, worker_id: str) -> Claim:
        claim = self.store.tasks.claim(worker_id, LEASE_SECONDS)
        assert claim is not None
        return claim

    def take_over(self) -> Claim:
        """Another worker claims the task after this one's lease lapsed (it stalled)."""
        self.clock.advance(LEASE_SECONDS + 1)
        assert self.store.tasks.reap_expired(max_attempts=3).requeued == 1
        return self.claim("w2")

    def task(self, task_id: str) -> Task:
        task = self.store.tasks.get(task_id, OWNER)
        assert task is not None
        return task

    def files(self, task_id: str) -> list[str]:
        folder = self.blobs.root / "tasks" / task_id
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())

    def work_left(self) -> list[Path]:
        return list(self.work_dir.rglob("*")) if self.work_dir.exists() else []


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    clock = FakeClock()
    return Rig(
        clock,
        MemoryStore(clock=clock),
        LocalBlobStore(tmp_path / "blobs"),
        tmp_path / "work",
        threading.Event(),
        threading.Event(),
    )


def png(width: int = 32, height: int = 24) -> bytes:
    ok, encoded = cv2.imencode(".png", np.full((height, width, 3), 200, np.uint8))
    assert ok
    return encoded.tobytes()


# -- success -------------------------------------------------------------------------------------
def test_a_task_is_rendered_published_and_finished(rig: Rig) -> None:
    task = rig.queue()
    worker = rig.worker()

    assert worker.run_once()

    done = rig.task(task.id)
    assert done.status is TaskStatus.SUCCEEDED
    assert (done.progress, done.percent, done.attempt) == (1.0, 100, 1)
    assert done.failure is None
    assert done.outputs is not None
    assert done.outputs.video_key == f"tasks/{task.id}/1/video.mp4"
    assert done.outputs.poster_key == f"tasks/{task.id}/1/poster.jpg"
    assert rig.files(task.id) == ["1/poster.jpg", "1/video.mp4"]
    assert rig.blobs.get_bytes(done.outputs.poster_key).startswith(b"\xff\xd8")  # a JPEG
    assert rig.work_left() == []
    assert worker.current_task_id is None


def test_the_published_media_info_is_what_the_file_is(rig: Rig) -> None:
    task = rig.queue()

    rig.worker().run_once()

    outputs = rig.task(task.id).outputs
    assert outputs is not None
    video = rig.blobs.local_path(outputs.video_key)
    assert video is not None
    info = probe(video)
    assert outputs.media == MediaInfo(
        width=info.width,
        height=info.height,
        fps=float(info.fps),
        frames=info.frames,
        duration_seconds=round(info.duration, 6),
        size_bytes=video.stat().st_size,
    )
    assert (info.width, info.height, info.frames, float(info.fps)) == (WIDTH, HEIGHT, FRAMES, FPS)
    assert info.codec == "h264"


def test_timings_cover_every_stage_and_only_the_first_task_is_a_cold_start(rig: Rig) -> None:
    first, second = rig.queue(), rig.queue()
    worker = rig.worker()

    worker.run_once()
    worker.run_once()

    cold = rig.task(first.id).timings
    warm = rig.task(second.id).timings
    assert cold is not None
    assert warm is not None
    assert set(cold) == {"queue_wait", "load", "cold", "engine", "encode", "upload"}
    assert cold["cold"] == 1.0
    assert set(warm) == {"queue_wait", "engine", "encode", "upload"}
    for timings in (cold, warm):
        assert QUEUED_FOR_SECONDS <= timings["queue_wait"] < QUEUED_FOR_SECONDS + 60
        assert all(seconds >= 0 for seconds in timings.values())


def test_an_empty_queue_or_another_workers_model_leaves_the_worker_idle(rig: Rig) -> None:
    worker = rig.worker()
    assert not worker.run_once()

    foreign = rig.queue(model="wan-14b")

    assert not worker.run_once()
    assert rig.task(foreign.id).status is TaskStatus.QUEUED


def test_an_uploaded_image_becomes_an_image_to_video_clip(rig: Rig) -> None:
    key = keys.new_input_key("png")
    rig.blobs.put_bytes(key, png(), "image/png")
    task = rig.queue(image=keys.upload_url(key))

    rig.worker().run_once()

    assert rig.task(task.id).status is TaskStatus.SUCCEEDED


def test_files_left_by_an_abandoned_attempt_are_deleted_by_the_next(rig: Rig) -> None:
    task = rig.queue()
    rig.claim("w-dead")
    rig.blobs.put_bytes(keys.video_key(task.id, 1), b"from a worker that died", "video/mp4")
    (rig.work_dir / task.id / "lease-1").mkdir(parents=True)
    claim = rig.take_over()

    rig.worker().process(claim)

    assert rig.task(task.id).status is TaskStatus.SUCCEEDED
    assert rig.files(task.id) == ["2/poster.jpg", "2/video.mp4"]
    assert rig.work_left() == []


# -- failures ------------------------------------------------------------------------------------
def test_an_engine_error_fails_the_task_with_its_reason(rig: Rig) -> None:
    task = rig.queue(model="scripted")

    rig.worker(Scripted(fail_after=2)).run_once()

    failed = rig.task(task.id)
    assert failed.status is TaskStatus.FAILED
    assert failed.failure_code == FailureCode.INTERNAL.value
    assert failed.failure == "RuntimeError: the model ran out of memory"
    assert failed.outputs is None
    assert failed.timings is not None
    assert "queue_wait" in failed.timings
    assert rig.files(task.id) == []
    assert rig.work_left() == []


@pytest.mark.parametrize("frames", [FRAMES - 2, FRAMES + 2])
def test_an_engine_yielding_the_wrong_number_of_frames_fails_clearly(rig: Rig, frames: int) -> None:
    task = rig.queue(model="scripted")

    rig.worker(Scripted(frames=frames)).run_once()

    failed = rig.task(task.id)
    assert failed.status is TaskStatus.FAILED
    assert failed.failure_code == FailureCode.INTERNAL.value
    assert failed.failure == (
        f"RuntimeError: engine scripted produced {frames} frames, expected {FRAMES}"
    )
    assert rig.files(task.id) == []


@pytest.mark.parametrize(
    "content", [b"this is not a picture", None], ids=["undecodable", "missing"]
)
def test_an_unusable_input_image_fails_the_task_as_an_invalid_asset(
    rig: Rig, content: bytes | None
) -> None:
    key = keys.new_input_key("png")
    if content is not None:
        rig.blobs.put_bytes(key, content, "image/png")
    task = rig.queue(image=keys.upload_url(key))

    rig.worker().run_once()

    failed = rig.task(task.id)
    assert failed.status is TaskStatus.FAILED
    assert failed.failure_code == FailureCode.ASSET_INVALID.value
    assert failed.failure is not None
    assert failed.failure.startswith("the input image cannot be used: ")
    assert rig.files(task.id) == []


# -- interruptions -------------------------------------------------------------------------------
def test_a_cancel_asked_mid_render_stops_the_engine_and_leaves_no_files(rig: Rig) -> None:
    task = rig.queue(model="scripted")
    engine = Scripted(before=lambda: rig.store.tasks.request_cancel(task.id, OWNER) and None)

    rig.worker(engine).run_once()

    cancelled = rig.task(task.id)
    assert cancelled.status is TaskStatus.CANCELLED
    assert cancelled.failure_code == FailureCode.CANCELLED.value
    assert engine.yielded < FRAMES  # stopped at the first progress write, not at the end
    assert rig.files(task.id) == []
    assert rig.work_left() == []


def test_a_worker_that_lost_its_lease_mid_render_writes_nothing(rig: Rig) -> None:
    task = rig.queue(model="scripted")
    taken: list[Claim] = []
    engine = Scripted(before=lambda: taken.append(rig.take_over()))

    rig.worker(engine).run_once()

    (newer,) = taken
    now = rig.task(task.id)
    assert now.status is TaskStatus.RUNNING  # still the other worker's
    assert now.attempt == 2
    assert now.progress == 0.0  # the stale worker's progress was refused
    assert now.outputs is None
    assert rig.files(task.id) == []
    assert engine.yielded < FRAMES
    rig.worker(Scripted(), worker_id="w2").process(newer)
    assert rig.task(task.id).status is TaskStatus.SUCCEEDED
    assert rig.files(task.id) == ["2/poster.jpg", "2/video.mp4"]


def test_a_worker_that_lost_its_lease_while_uploading_discards_its_files(
    rig: Rig, tmp_path: Path
) -> None:
    taken: list[Claim] = []
    uploaded: list[str] = []

    class TakenOverDuringUpload(LocalBlobStore):
        def put_file(self, key: str, source: Path, content_type: str) -> None:
            super().put_file(key, source, content_type)
            uploaded.append(key)
            if key.endswith(keys.POSTER_NAME):
                taken.append(rig.take_over())

    rig.blobs = TakenOverDuringUpload(tmp_path / "blobs")
    task = rig.queue()

    rig.worker().run_once()

    now = rig.task(task.id)
    assert len(taken) == 1
    assert uploaded == [keys.video_key(task.id, 1), keys.poster_key(task.id, 1)]
    assert (now.status, now.attempt, now.outputs) == (TaskStatus.RUNNING, 2, None)
    assert rig.files(task.id) == []  # uploaded, then discarded when the commit was refused
    assert rig.work_left() == []


def test_shutting_down_mid_render_gives_the_task_back_without_counting_the_attempt(
    rig: Rig,
) -> None:
    task = rig.queue(model="scripted")
    engine = Scripted(before=rig.abort.set)

    rig.worker(engine).run_once()

    released = rig.task(task.id)
    assert released.status is TaskStatus.QUEUED
    assert released.attempt == 0
    assert released.failure is None
    assert engine.yielded < FRAMES
    assert rig.files(task.id) == []
    assert rig.work_left() == []
    assert rig.claim("w2").task.attempt == 1  # the next process starts it as its first attempt


# -- the loop ------------------------------------------------------------------------------------
def test_a_sleeping_worker_picks_up_a_task_as_soon_as_it_is_woken(rig: Rig) -> None:
    stop = threading.Event()
    worker = rig.worker(Scripted(before=stop.set), poll_seconds=600.0)
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        task = rig.queue(model="scripted")
        rig.wake.set()
        thread.join(timeout=30.0)  # without the wake it would sleep for the 600 s poll
        assert not thread.is_alive()
    finally:
        stop.set()
        rig.wake.set()
        thread.join()
    assert rig.task(task.id).status is TaskStatus.SUCCEEDED
