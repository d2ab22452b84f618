"""TaskService after create: reads and changes scoped to the caller, cancel, delete (and wait),
remix, webhook deliveries, the THROTTLED flag, links and the retention date."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from reelgate.blobs import keys
from reelgate.blobs.links import LinkSigner
from reelgate.blobs.local import LocalBlobStore
from reelgate.core.tasks import FailureCode, MotionVector, Outputs, Task, TaskStatus
from reelgate.engines.registry import ModelRegistry
from reelgate.engines.synthetic import SyntheticEngine
from reelgate.errors import ApiError, ErrorKind
from reelgate.outbound import OutboundPolicy
from reelgate.service import Caller, CreateTask, ImageUpload, ImageUrl, TaskService
from reelgate.service.tasks import DELETE_POLL_SECONDS, SECONDS_PER_DAY
from reelgate.store.base import AttemptRecord, Claim, EventState
from reelgate.store.memory import MemoryStore

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
HOOK = "https://hooks.example.com/reelgate"
RETENTION_DAYS = 2.0
REQUEST = CreateTask(
    dialect="cometapi",
    api_version="2024-11-06",
    prompt="a lighthouse at dusk",
    model="gen4_turbo",
    ratio="720:1280",
    seconds=10,
    seed=42,
    style="cinematic",
    motion=MotionVector(x=1.5, r=-2.0),
    callback_url=HOOK,
)


class FakeClock:
    """Unix seconds that move only when the test moves them."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Key:
    owner_id: str
    max_active_tasks: int = 100


ALICE = Key("key_alice")
BOB = Key("key_bob")


@dataclass
class Rig:
    clock: FakeClock
    store: MemoryStore
    blobs: LocalBlobStore
    signer: LinkSigner
    sleeps: list[float] = field(default_factory=list)
    on_sleep: Callable[[int], None] = lambda count: None

    def service(self, max_running_per_owner: int | None = None) -> TaskService:
        return TaskService(
            self.store,
            self.blobs,
            self.signer,
            ModelRegistry({"gen4_turbo": SyntheticEngine}),
            OutboundPolicy(),
            max_running_per_owner=max_running_per_owner,
            retention_days=RETENTION_DAYS,
            clock=self.clock,
            sleep=self.sleep,
        )

    def sleep(self, seconds: float) -> None:
        """delete_and_wait's pause: time passes on the fake clock, and the test's worker acts."""
        self.sleeps.append(seconds)
        self.clock.advance(seconds)
        self.on_sleep(len(self.sleeps))

    def start(self, task: Task) -> Claim:
        """A worker claims `task` (the oldest queued one)."""
        claim = self.store.tasks.claim("worker-1", 30.0)
        assert claim is not None
        assert claim.task.id == task.id
        return claim

    def succeed(self, task: Task) -> Task:
        """A worker renders `task` and publishes its files."""
        claim = self.start(task)
        outputs = Outputs(keys.video_key(task.id, 1), keys.poster_key(task.id, 1))
        self.blobs.put_bytes(outputs.video_key, b"mp4 bytes", "video/mp4")
        self.blobs.put_bytes(outputs.poster_key, b"jpeg bytes", "image/jpeg")
        self.clock.advance(12.0)
        assert self.store.tasks.succeed(claim, outputs, {"engine": 1.0})
        done = self.store.tasks.get(task.id, None)
        assert done is not None
        return done

    def files(self) -> list[str]:
        root = self.blobs.root
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    clock = FakeClock()
    return Rig(
        clock,
        MemoryStore(clock=clock),
        LocalBlobStore(tmp_path / "blobs"),
        LinkSigner(b"link-secret", "http://testserver", 3600),
    )


@pytest.fixture
def service(rig: Rig) -> TaskService:
    return rig.service()


def refused(call: Callable[[], object]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def request(**changes: object) -> CreateTask:
    return dataclasses.replace(REQUEST, **changes)  # type: ignore[arg-type]


# -- ownership -----------------------------------------------------------------------------------
OPERATIONS: dict[str, Callable[[TaskService, Caller, str], object]] = {
    "get": lambda s, c, t: s.get(c.owner_id, t),
    "cancel": lambda s, c, t: s.cancel(c.owner_id, t),
    "delete": lambda s, c, t: s.delete(c.owner_id, t),
    "delete_and_wait": lambda s, c, t: s.delete_and_wait(c.owner_id, t, 5.0),
    "deliveries": lambda s, c, t: s.deliveries(c.owner_id, t),
    "redeliver": lambda s, c, t: s.redeliver(c.owner_id, t, "msg_0123"),
    "remix": lambda s, c, t: s.remix(c, t, "a lighthouse at dawn", "openai"),
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_another_owners_task_is_answered_like_an_unknown_id(
    rig: Rig, service: TaskService, operation: str
) -> None:
    task = service.create(ALICE, request())
    unknown = "9b2f4c1e-5d6a-4b7c-8e9f-0a1b2c3d4e5f"

    theirs = refused(lambda: OPERATIONS[operation](service, BOB, task.id))
    nobody = refused(lambda: OPERATIONS[operation](service, BOB, unknown))

    assert (theirs.kind, theirs.param) == (ErrorKind.TASK_NOT_FOUND, "task_id")
    assert theirs.message == f"task {task.id!r} does not exist"
    assert nobody.message == f"task {unknown!r} does not exist"
    assert service.get(ALICE.owner_id, task.id) == task  # untouched
    assert service.list_page(BOB.owner_id, after=None, limit=10, newest_first=True) == []


@pytest.mark.parametrize("task_id", ["not-a-task", "", "9B2F4C1E5D6A4B7C8E9F0A1B2C3D4E5F"])
def test_an_id_that_is_not_a_task_id_is_not_found(service: TaskService, task_id: str) -> None:
    error = refused(lambda: service.get(ALICE.owner_id, task_id))

    assert error.kind is ErrorKind.TASK_NOT_FOUND


def test_pages_list_only_the_callers_tasks_and_a_foreign_cursor_gives_nothing(
    rig: Rig, service: TaskService
) -> None:
    mine = []
    for _ in range(3):
        mine.append(service.create(ALICE, request()))
        rig.clock.advance(1.0)
    theirs = service.create(BOB, request())

    first = service.list_page(ALICE.owner_id, after=None, limit=2, newest_first=True)
    rest = service.list_page(ALICE.owner_id, after=first[-1].id, limit=2, newest_first=True)

    assert [t.id for t in first + rest] == [t.id for t in reversed(mine)]
    assert service.list_page(ALICE.owner_id, after=theirs.id, limit=2, newest_first=True) == []
    assert service.list_page(ALICE.owner_id, after="bogus", limit=2, newest_first=False) == []


# -- cancel and delete -----------------------------------------------------------------------------
def test_cancelling_a_queued_task_finishes_it_at_once_and_schedules_its_webhook(
    rig: Rig, service: TaskService
) -> None:
    task = service.create(ALICE, request())

    cancelled = service.cancel(ALICE.owner_id, task.id)

    assert cancelled.status is TaskStatus.CANCELLED
    assert cancelled.failure_code == FailureCode.CANCELLED.value
    (delivery,) = service.deliveries(ALICE.owner_id, task.id)
    assert (delivery.event.event_type, delivery.event.url) == ("task.cancelled", HOOK)
    assert delivery.attempts == []


def test_cancelling_a_running_task_asks_its_worker_to_stop(rig: Rig, service: TaskService) -> None:
    task = service.create(ALICE, request())
    rig.start(task)

    asked = service.cancel(ALICE.owner_id, task.id)

    assert asked.status is TaskStatus.RUNNING
    assert asked.cancel_requested


def test_cancelling_a_finished_task_changes_nothing(rig: Rig, service: TaskService) -> None:
    done = rig.succeed(service.create(ALICE, request()))

    assert service.cancel(ALICE.owner_id, done.id) == done


def test_deleting_a_finished_task_removes_its_record_and_every_file(
    rig: Rig, service: TaskService
) -> None:
    other = rig.succeed(service.create(ALICE, request()))
    task = rig.succeed(service.create(ALICE, request(image=ImageUpload(PNG, "png", "image/png"))))
    assert len(rig.files()) == 5  # two clips, two posters, one upload

    deleted = service.delete(ALICE.owner_id, task.id)

    assert deleted.id == task.id
    assert refused(lambda: service.get(ALICE.owner_id, task.id)).kind is ErrorKind.TASK_NOT_FOUND
    assert rig.files() == sorted([other.outputs.video_key, other.outputs.poster_key])  # type: ignore[union-attr]
    assert refused(lambda: service.delete(ALICE.owner_id, task.id)).kind is ErrorKind.TASK_NOT_FOUND


def test_deleting_a_task_that_still_waits_or_runs_cancels_it_and_keeps_the_record(
    rig: Rig, service: TaskService
) -> None:
    running = service.create(ALICE, request())
    rig.start(running)
    queued = service.create(ALICE, request())

    assert service.delete(ALICE.owner_id, queued.id).status is TaskStatus.CANCELLED
    assert service.delete(ALICE.owner_id, running.id).cancel_requested
    assert service.get(ALICE.owner_id, queued.id).status is TaskStatus.CANCELLED
    assert service.get(ALICE.owner_id, running.id).status is TaskStatus.RUNNING


def test_delete_and_wait_deletes_a_queued_task_without_waiting(
    rig: Rig, service: TaskService
) -> None:
    task = service.create(ALICE, request())

    gone, deleted = service.delete_and_wait(ALICE.owner_id, task.id, 10.0)

    assert deleted
    assert gone.status is TaskStatus.CANCELLED
    assert rig.sleeps == []
    assert refused(lambda: service.get(ALICE.owner_id, task.id)).kind is ErrorKind.TASK_NOT_FOUND


def test_delete_and_wait_deletes_a_running_task_once_its_worker_stops(
    rig: Rig, service: TaskService
) -> None:
    task = service.create(ALICE, request())
    claim = rig.start(task)
    rig.blobs.put_bytes(keys.video_key(task.id, 1), b"half a clip", "video/mp4")

    def worker_notices(polls: int) -> None:
        if polls == 3:  # the worker reads the cancel flag at its next progress write
            rig.blobs.delete_prefix(keys.attempt_prefix(task.id, 1))
            assert rig.store.tasks.cancelled(claim)

    rig.on_sleep = worker_notices

    gone, deleted = service.delete_and_wait(ALICE.owner_id, task.id, 10.0)

    assert deleted
    assert gone.status is TaskStatus.CANCELLED
    assert rig.sleeps == [DELETE_POLL_SECONDS] * 3
    assert refused(lambda: service.get(ALICE.owner_id, task.id)).kind is ErrorKind.TASK_NOT_FOUND
    assert rig.files() == []


def test_delete_and_wait_gives_up_after_the_wait_and_a_second_call_deletes(
    rig: Rig, service: TaskService
) -> None:
    task = service.create(ALICE, request())
    claim = rig.start(task)
    started = rig.clock.now

    still, deleted = service.delete_and_wait(ALICE.owner_id, task.id, 2.0)

    assert not deleted
    assert still.status is TaskStatus.RUNNING
    assert still.cancel_requested  # the cancel stands
    assert rig.clock.now - started == pytest.approx(2.0, abs=DELETE_POLL_SECONDS)
    assert service.get(ALICE.owner_id, task.id).cancel_requested
    assert rig.store.tasks.cancelled(claim)  # the worker stops later
    rig.sleeps.clear()
    _, deleted = service.delete_and_wait(ALICE.owner_id, task.id, 2.0)
    assert deleted
    assert rig.sleeps == []


def test_delete_and_wait_deletes_a_finished_task_at_once(rig: Rig, service: TaskService) -> None:
    done = rig.succeed(service.create(ALICE, request()))

    gone, deleted = service.delete_and_wait(ALICE.owner_id, done.id, 10.0)

    assert (gone, deleted) == (done, True)
    assert rig.sleeps == []
    assert rig.files() == []


# -- remix ---------------------------------------------------------------------------------------
def test_a_remix_keeps_every_setting_but_the_prompt_and_records_its_origin(
    rig: Rig, service: TaskService
) -> None:
    original = rig.succeed(service.create(ALICE, request(api_version="2024-11-06")))
    wakes: list[None] = []
    service.on_created = lambda: wakes.append(None)

    remix = service.remix(ALICE, original.id, "a lighthouse at dawn", "openai")

    assert remix.id != original.id
    assert remix.status is TaskStatus.QUEUED
    assert remix.remixed_from == original.id
    assert remix.spec == dataclasses.replace(original.spec, prompt="a lighthouse at dawn")
    assert remix.dialect == "openai"
    assert remix.api_version == original.api_version
    assert remix.callback_url is None
    assert remix.owner_id == ALICE.owner_id
    assert len(wakes) == 1


def test_a_remix_keeps_an_image_url(service: TaskService) -> None:
    image = ImageUrl("https://images.example.com/lighthouse.jpg", position="last")
    original = service.create(ALICE, request(image=image))

    remix = service.remix(ALICE, original.id, "a lighthouse in fog", "openai")

    assert remix.spec.image == original.spec.image


def test_a_remix_owns_a_copy_of_the_uploaded_image(rig: Rig, service: TaskService) -> None:
    original = service.create(ALICE, request(image=ImageUpload(PNG, "png", "image/png")))
    remix = service.remix(ALICE, original.id, "a lighthouse in fog", "openai")
    assert original.spec.image is not None
    assert remix.spec.image is not None
    assert remix.spec.image.url != original.spec.image.url

    service.cancel(ALICE.owner_id, original.id)
    service.delete(ALICE.owner_id, original.id)

    copy = keys.uploaded_key(remix.spec.image.url)
    assert copy is not None
    assert rig.files() == [copy]
    assert rig.blobs.get_bytes(copy) == PNG


def test_a_remix_counts_against_the_quota(service: TaskService) -> None:
    capped = Key(ALICE.owner_id, max_active_tasks=1)
    original = service.create(capped, request())

    error = refused(lambda: service.remix(capped, original.id, "again", "openai"))

    assert error.kind is ErrorKind.RATE_LIMITED


def test_remixing_a_task_whose_upload_expired_is_refused_as_a_request_error(
    rig: Rig, service: TaskService
) -> None:
    task = rig.succeed(service.create(ALICE, request(image=ImageUpload(PNG, "png", "image/png"))))
    rig.clock.advance((RETENTION_DAYS + 1) * SECONDS_PER_DAY)
    rig.store.tasks.mark_outputs_expired(task.id)
    for folder in keys.task_folders(task):  # what Housekeeper.sweep deletes
        rig.blobs.delete_prefix(folder)

    with pytest.raises(ApiError) as refused:
        service.remix(ALICE, task.id, "a lighthouse in fog", "openai")

    assert refused.value.kind is ErrorKind.INVALID_REQUEST
    assert refused.value.param == "image"
    assert "has expired" in refused.value.message


# -- deliveries ------------------------------------------------------------------------------------
def test_deliveries_list_each_event_with_its_attempts(rig: Rig, service: TaskService) -> None:
    task = service.create(ALICE, request())
    service.cancel(ALICE.owner_id, task.id)
    (event,) = rig.store.outbox.claim_due(10, 60.0)
    attempt = AttemptRecord(1, rig.clock.now, 503, 12.5, "receiver answered 503")
    rig.store.outbox.record(event.id, attempt, EventState.PENDING, 5.0)

    (delivery,) = service.deliveries(ALICE.owner_id, task.id)

    assert delivery.event.id == event.id
    assert delivery.event.state is EventState.PENDING
    assert delivery.attempts == [attempt]
    assert (
        service.deliveries(ALICE.owner_id, service.create(ALICE, request(callback_url=None)).id)
        == []
    )


def test_redeliver_makes_a_failed_event_due_now(rig: Rig, service: TaskService) -> None:
    task = service.create(ALICE, request())
    service.cancel(ALICE.owner_id, task.id)
    (event,) = rig.store.outbox.claim_due(10, 60.0)
    failed = AttemptRecord(1, rig.clock.now, 410, 3.0, "receiver answered 410 Gone")
    rig.store.outbox.record(event.id, failed, EventState.FAILED, None)
    assert rig.store.outbox.claim_due(10, 60.0) == []

    service.redeliver(ALICE.owner_id, task.id, event.id)

    (due,) = rig.store.outbox.claim_due(10, 60.0)
    assert due.id == event.id
    assert due.attempts == 1  # attempt numbers carry on


def test_redelivering_an_unknown_event_is_not_found(service: TaskService) -> None:
    task = service.create(ALICE, request())

    error = refused(lambda: service.redeliver(ALICE.owner_id, task.id, "msg_unknown"))

    assert error.kind is ErrorKind.NOT_FOUND


# -- what a read shows ---------------------------------------------------------------------------
def test_a_queued_task_is_throttled_only_while_its_key_is_at_the_running_cap(
    rig: Rig,
) -> None:
    service = rig.service(max_running_per_owner=1)
    running = service.create(ALICE, request())
    rig.start(running)
    waiting = service.create(ALICE, request())
    elsewhere = service.create(BOB, request())

    assert service.throttled(waiting)
    assert not service.throttled(service.get(ALICE.owner_id, running.id))
    assert not service.throttled(elsewhere)
    assert not rig.service().throttled(waiting)  # no cap configured


def test_links_point_at_the_files_and_are_signed(rig: Rig, service: TaskService) -> None:
    done = rig.succeed(service.create(ALICE, request()))
    assert done.outputs is not None

    links = service.links(done)

    assert links is not None
    for url, key in (
        (links.video, done.outputs.video_key),
        (links.poster, done.outputs.poster_key),
    ):
        parts = urlsplit(url)
        assert parts.path == f"/files/{key}"
        query = parse_qs(parts.query)
        assert rig.signer.verify(key, query["expires"][0], query["sig"][0])
    assert service.links(service.create(ALICE, request())) is None


def test_only_a_succeeded_task_has_an_expiry_date(rig: Rig, service: TaskService) -> None:
    done = rig.succeed(service.create(ALICE, request()))
    cancelled = service.cancel(ALICE.owner_id, service.create(ALICE, request()).id)

    assert done.finished_at is not None
    assert service.expires_at(done) == done.finished_at + RETENTION_DAYS * SECONDS_PER_DAY
    assert service.expires_at(cancelled) is None
    assert service.expires_at(service.create(ALICE, request())) is None
