"""Housekeeper.sweep: outputs past the retention period are deleted and the task says so."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from reelgate.blobs import keys
from reelgate.blobs.local import LocalBlobStore
from reelgate.core.tasks import Action, GenerationSpec, ImageInput, NewTask, Outputs, Task
from reelgate.store.memory import MemoryStore
from reelgate.worker.housekeeping import Housekeeper

OWNER = "key_alice"
RETENTION_DAYS = 7.0
DAY = 86_400.0


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def finished_task(store: MemoryStore, blobs: LocalBlobStore, *, with_upload: bool) -> Task:
    image = None
    if with_upload:
        upload = keys.new_input_key("png")
        blobs.put_bytes(upload, b"png bytes", "image/png")
        image = ImageInput(keys.upload_url(upload))
    spec = GenerationSpec(
        prompt="a fox", model="tiny", width=64, height=48, seconds=1, seed=1, image=image
    )
    task_id = str(uuid.uuid4())
    store.tasks.create(
        NewTask(task_id, OWNER, "native", Action.TEXT_TO_VIDEO, spec, None, "2024-11-06", 0.0)
    )
    claim = store.tasks.claim("w1", 30.0)
    assert claim is not None
    outputs = Outputs(keys.video_key(task_id, 1), keys.poster_key(task_id, 1))
    blobs.put_bytes(outputs.video_key, b"mp4", "video/mp4")
    blobs.put_bytes(outputs.poster_key, b"jpeg", "image/jpeg")
    assert store.tasks.succeed(claim, outputs)
    done = store.tasks.get(task_id, OWNER)
    assert done is not None
    return done


def files(blobs: LocalBlobStore) -> list[str]:
    root = blobs.root
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_a_sweep_deletes_the_files_of_tasks_past_retention_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    blobs = LocalBlobStore(tmp_path)
    clock.now -= RETENTION_DAYS * DAY + 60
    old = finished_task(store, blobs, with_upload=True)
    clock.now += RETENTION_DAYS * DAY
    recent = finished_task(store, blobs, with_upload=False)
    assert recent.outputs is not None

    assert Housekeeper(store, blobs, RETENTION_DAYS, sweep_seconds=300.0).sweep() == 1

    expired = store.tasks.get(old.id, OWNER)
    assert expired is not None
    assert expired.outputs_expired
    assert expired.outputs is None
    assert files(blobs) == sorted([recent.outputs.video_key, recent.outputs.poster_key])
