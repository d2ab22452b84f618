"""TaskService.create: every rule of the create pipeline, in its documented order, with the error
kind and field that every dialect renders for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from reelgate.blobs.links import LinkSigner
from reelgate.blobs.local import LocalBlobStore
from reelgate.core.tasks import MAX_SEED, Action, MotionVector, TaskStatus
from reelgate.engines.registry import ModelRegistry
from reelgate.engines.synthetic import SyntheticEngine
from reelgate.errors import ApiError, ErrorKind
from reelgate.outbound import OutboundPolicy
from reelgate.service import CreateTask, IdempotencyKey, ImageUpload, ImageUrl, TaskService
from reelgate.service.tasks import QUOTA_RETRY_AFTER_SECONDS
from reelgate.store.memory import MemoryStore
from reelgate.store.rules import STALE_RESERVATION_SECONDS

MODELS = ("gen4_turbo", "sora-2")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24  # the service stores uploads as given
REQUEST = CreateTask(
    dialect="runway",
    api_version="2024-11-06",
    prompt="a red fox trotting through fresh snow",
    model="gen4_turbo",
    ratio="1280:720",
    seconds=5,
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
    service: TaskService
    wakes: list[None] = field(default_factory=list)

    def files(self) -> list[str]:
        root = self.blobs.root
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    blobs = LocalBlobStore(tmp_path / "blobs")
    service = TaskService(
        store,
        blobs,
        LinkSigner(b"link-secret", "http://testserver", 3600),
        ModelRegistry(dict.fromkeys(MODELS, SyntheticEngine)),
        OutboundPolicy(),
        clock=clock,
    )
    made = Rig(clock, store, blobs, service)
    service.on_created = lambda: made.wakes.append(None)
    return made


def refused(call: Callable[[], object]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def request(**changes: object) -> CreateTask:
    return dataclasses.replace(REQUEST, **changes)  # type: ignore[arg-type]


def keyed(key: str, body: str = "body-1") -> IdempotencyKey:
    return IdempotencyKey(key=key, request_hash=f"sha256-of-{body}")


# -- a valid request -------------------------------------------------------------------------------
def test_a_valid_request_queues_a_text_to_video_task_for_its_owner(rig: Rig) -> None:
    task = rig.service.create(ALICE, request(trace_context={"traceparent": "00-ab-cd-01"}))

    assert task.status is TaskStatus.QUEUED
    assert task.owner_id == ALICE.owner_id
    assert task.action is Action.TEXT_TO_VIDEO
    assert (task.dialect, task.api_version) == ("runway", "2024-11-06")
    assert task.spec.prompt == REQUEST.prompt
    assert task.spec.model == "gen4_turbo"
    assert task.spec.seconds == 5
    assert task.created_at == rig.clock.now
    assert task.callback_url is None
    assert task.trace_context == {"traceparent": "00-ab-cd-01"}
    assert rig.service.get(ALICE.owner_id, task.id) == task
    assert rig.service.list_page(ALICE.owner_id, after=None, limit=10, newest_first=True) == [task]


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("16:9", (1280, 720)),
        ("1280:720", (1280, 720)),
        ("720x1280", (720, 1280)),
        ("1:1", (960, 960)),
        ("1584:672", (1584, 672)),
        ("1792x1024", (1792, 1024)),
    ],
)
def test_the_frame_size_comes_from_the_ratio(rig: Rig, ratio: str, size: tuple[int, int]) -> None:
    task = rig.service.create(ALICE, request(ratio=ratio))

    assert (task.spec.width, task.spec.height) == size


def test_a_request_without_a_seed_gets_a_random_one_in_range(rig: Rig) -> None:
    seeds = {rig.service.create(ALICE, request()).spec.seed for _ in range(5)}

    assert all(0 <= seed <= MAX_SEED for seed in seeds)
    assert len(seeds) > 1  # five draws from 2**32 values


@pytest.mark.parametrize("seed", [0, 42, MAX_SEED])
def test_a_given_seed_is_kept(rig: Rig, seed: int) -> None:
    assert rig.service.create(ALICE, request(seed=seed)).spec.seed == seed


def test_style_and_motion_reach_the_spec(rig: Rig) -> None:
    motion = MotionVector(x=2.5, z=-1.0)

    task = rig.service.create(ALICE, request(style="cinematic", motion=motion))

    assert (task.spec.style, task.spec.motion) == ("cinematic", motion)


@pytest.mark.parametrize(
    "image",
    [
        ImageUrl("https://images.example.com/fox.png"),
        ImageUrl("data:image/png;base64,iVBORw0KGgo=", position="last"),
    ],
)
def test_an_image_url_makes_an_image_to_video_task(rig: Rig, image: ImageUrl) -> None:
    task = rig.service.create(ALICE, request(image=image))

    assert task.action is Action.IMAGE_TO_VIDEO
    assert task.spec.image is not None
    assert (task.spec.image.url, task.spec.image.position) == (image.url, image.position)


def test_an_accepted_callback_url_is_kept(rig: Rig) -> None:
    task = rig.service.create(ALICE, request(callback_url="https://hooks.example.com/reelgate"))

    assert task.callback_url == "https://hooks.example.com/reelgate"


# -- each rule's refusal ---------------------------------------------------------------------------
@pytest.mark.parametrize("callback", ["", "   "])
def test_an_empty_callback_url_is_refused(rig: Rig, callback: str) -> None:
    error = refused(lambda: rig.service.create(ALICE, request(callback_url=callback)))

    assert (error.kind, error.param) == (ErrorKind.CALLBACK_URL_EMPTY, "callback_url")


def test_an_unknown_model_is_refused_with_the_models_on_offer(rig: Rig) -> None:
    error = refused(lambda: rig.service.create(ALICE, request(model="veo-9")))

    assert (error.kind, error.param) == (ErrorKind.MODEL_NOT_SUPPORTED, "model")
    assert "'veo-9'" in error.message
    assert error.message.endswith("available models: gen4_turbo, sora-2")
    assert rig.service.models == MODELS


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "http://[::1]/hook",
        "ftp://hooks.example.com/hook",
        "/relative/hook",
        "https://hooks.example.com/a hook",
    ],
)
def test_a_refused_callback_url_names_the_callback_field(rig: Rig, url: str) -> None:
    error = refused(lambda: rig.service.create(ALICE, request(callback_url=url)))

    assert (error.kind, error.param) == (ErrorKind.URL_NOT_ALLOWED, "callback_url")
    assert error.message.startswith("callback_url: the callback URL")


@pytest.mark.parametrize(
    "url",
    [
        "http://images.example.com/fox.png",  # plain http: anyone on the path could swap it
        "https://192.168.1.20/fox.png",
        "https://localhost/fox.png",
        "data:text/plain;base64,aGk=",
        "data:image/png;base64,not base64!",
        "data:image/png;base64,",
    ],
)
def test_a_refused_image_url_names_the_image_field(rig: Rig, url: str) -> None:
    error = refused(lambda: rig.service.create(ALICE, request(image=ImageUrl(url))))

    assert (error.kind, error.param) == (ErrorKind.URL_NOT_ALLOWED, "image")
    assert error.message.startswith("image: ")


@pytest.mark.parametrize("ratio", ["5:4", "1280x721", "", "16/9"])
def test_an_unknown_ratio_is_an_invalid_request_naming_ratio(rig: Rig, ratio: str) -> None:
    error = refused(lambda: rig.service.create(ALICE, request(ratio=ratio)))

    assert (error.kind, error.param) == (ErrorKind.INVALID_REQUEST, "ratio")
    assert error.message.startswith("ratio: ")


@pytest.mark.parametrize(
    ("changes", "kind", "param"),
    [
        (
            {"callback_url": " ", "model": "veo-9"},
            ErrorKind.CALLBACK_URL_EMPTY,
            "callback_url",
        ),
        (
            {"model": "veo-9", "callback_url": "http://127.0.0.1/hook"},
            ErrorKind.MODEL_NOT_SUPPORTED,
            "model",
        ),
        (
            {
                "callback_url": "http://127.0.0.1/hook",
                "image": ImageUrl("http://images.example.com/fox.png"),
            },
            ErrorKind.URL_NOT_ALLOWED,
            "callback_url",
        ),
        (
            {"image": ImageUrl("http://images.example.com/fox.png"), "ratio": "5:4"},
            ErrorKind.URL_NOT_ALLOWED,
            "image",
        ),
    ],
)
def test_the_first_broken_rule_in_the_documented_order_is_reported(
    rig: Rig, changes: dict[str, object], kind: ErrorKind, param: str
) -> None:
    error = refused(lambda: rig.service.create(ALICE, request(**changes)))

    assert (error.kind, error.param) == (kind, param)


def test_a_refused_request_reserves_no_idempotency_key_and_queues_nothing(rig: Rig) -> None:
    error = refused(
        lambda: rig.service.create(ALICE, request(ratio="5:4", idempotency=keyed("k1", "a")))
    )
    assert error.param == "ratio"

    # The key is still free: another body with it is a new request, not a mismatch.
    task = rig.service.create(ALICE, request(idempotency=keyed("k1", "b")))

    assert rig.service.list_page(ALICE.owner_id, after=None, limit=10, newest_first=True) == [task]
    assert len(rig.wakes) == 1


# -- quota -----------------------------------------------------------------------------------------
def test_a_key_at_its_active_task_cap_is_rate_limited_until_one_finishes(rig: Rig) -> None:
    capped = Key(ALICE.owner_id, max_active_tasks=2)
    first = rig.service.create(capped, request())
    rig.service.create(capped, request())

    error = refused(lambda: rig.service.create(capped, request()))

    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.retry_after_seconds == QUOTA_RETRY_AFTER_SECONDS
    assert "2 queued or running tasks (limit 2)" in error.message
    assert rig.service.create(Key(BOB.owner_id, max_active_tasks=2), request())  # per key
    rig.service.cancel(capped.owner_id, first.id)
    assert rig.service.create(capped, request()).status is TaskStatus.QUEUED


# -- Idempotency-Key ---------------------------------------------------------------------------
def test_a_repeat_with_the_same_key_and_body_returns_the_first_task(rig: Rig) -> None:
    first = rig.service.create(ALICE, request(idempotency=keyed("retry-1")))

    again = rig.service.create(ALICE, request(idempotency=keyed("retry-1")))

    assert again.id == first.id
    assert rig.service.list_page(ALICE.owner_id, after=None, limit=10, newest_first=True) == [first]
    assert len(rig.wakes) == 1  # the workers are woken for the new task only


def test_the_same_key_with_another_body_is_a_mismatch(rig: Rig) -> None:
    rig.service.create(ALICE, request(idempotency=keyed("retry-1", "a")))

    error = refused(lambda: rig.service.create(ALICE, request(idempotency=keyed("retry-1", "b"))))

    assert (error.kind, error.param) == (ErrorKind.IDEMPOTENCY_MISMATCH, "Idempotency-Key")


def test_a_key_whose_first_request_is_still_running_is_in_flight_until_it_goes_stale(
    rig: Rig,
) -> None:
    rig.store.idempotency.reserve(ALICE.owner_id, "retry-1", keyed("retry-1").request_hash)

    error = refused(lambda: rig.service.create(ALICE, request(idempotency=keyed("retry-1"))))

    assert (error.kind, error.param) == (ErrorKind.IDEMPOTENCY_IN_FLIGHT, "Idempotency-Key")
    # A request that died before making its task does not block the key for ever.
    rig.clock.advance(STALE_RESERVATION_SECONDS + 1)
    task = rig.service.create(ALICE, request(idempotency=keyed("retry-1")))
    assert task.status is TaskStatus.QUEUED


def test_keys_are_scoped_to_their_owner(rig: Rig) -> None:
    mine = rig.service.create(ALICE, request(idempotency=keyed("retry-1", "a")))

    theirs = rig.service.create(BOB, request(idempotency=keyed("retry-1", "b")))

    assert theirs.id != mine.id
    assert theirs.owner_id == BOB.owner_id


def test_a_create_refused_by_the_quota_releases_its_key_and_deletes_its_upload(rig: Rig) -> None:
    capped = Key(ALICE.owner_id, max_active_tasks=1)
    blocking = rig.service.create(capped, request())
    upload = ImageUpload(PNG, "png", "image/png")

    error = refused(
        lambda: rig.service.create(capped, request(image=upload, idempotency=keyed("k")))
    )

    assert error.kind is ErrorKind.RATE_LIMITED
    assert rig.files() == []
    rig.service.cancel(capped.owner_id, blocking.id)
    # The retry with the same key is served, not answered "in flight" or replayed.
    task = rig.service.create(capped, request(image=upload, idempotency=keyed("k")))
    assert task.id != blocking.id
    assert task.status is TaskStatus.QUEUED
    assert len(rig.files()) == 1


# -- uploaded images -------------------------------------------------------------------------------
def test_an_uploaded_image_is_stored_under_the_input_layout(rig: Rig) -> None:
    upload = ImageUpload(PNG, "png", "image/png", position="last")

    task = rig.service.create(ALICE, request(image=upload))

    assert task.action is Action.IMAGE_TO_VIDEO
    assert task.spec.image is not None
    assert task.spec.image.position == "last"
    (stored,) = rig.files()
    assert stored.startswith("inputs/")
    assert stored.endswith("/reference.png")
    assert task.spec.image.url == f"blob:{stored}"
    assert rig.blobs.get_bytes(stored) == PNG


def test_a_replayed_upload_is_not_stored_twice(rig: Rig) -> None:
    upload = ImageUpload(PNG, "webp", "image/webp")
    first = rig.service.create(ALICE, request(image=upload, idempotency=keyed("k")))

    again = rig.service.create(ALICE, request(image=upload, idempotency=keyed("k")))

    assert again.id == first.id
    assert len(rig.files()) == 1


def test_each_new_task_wakes_the_workers_once(rig: Rig) -> None:
    rig.service.create(ALICE, request())
    rig.service.create(ALICE, request(idempotency=keyed("k")))
    rig.service.create(ALICE, request(idempotency=keyed("k")))  # a replay
    refused(lambda: rig.service.create(ALICE, request(model="veo-9")))

    assert len(rig.wakes) == 2
