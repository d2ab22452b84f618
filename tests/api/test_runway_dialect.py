"""Runway's official format (CONTRACT.md 2) against the app in this process with no workers:
every bad input with its status and message, queued and cancelled task objects, and tasks shared
with the CometAPI routes. Rendering is in tests/integration/api/test_runway_render.py."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.inprocess import InProcessServer
from tests.support.server import API_KEY, OTHER_KEY, seed_body

VERSION = {"X-Runway-Version": "2024-11-06"}
MODELS = "gen4, gen4_turbo, gen4.5, gen3, gen2, sora-2, sora-2-pro"
RATIOS = "1280:720, 720:1280, 1104:832, 832:1104, 960:960, 1584:672"
NOT_A_PNG = "data:image/png;base64," + base64.b64encode(b"not an image at all").decode()

Maker = Callable[..., str]


def text_body(**overrides: Any) -> dict[str, Any]:
    body = {"model": "gen4.5", "promptText": "a red boat on the ocean at sunset"}
    return {**body, "ratio": "960:960", "duration": 2, **overrides}


def image_body(**overrides: Any) -> dict[str, Any]:
    body = {"model": "gen4_turbo", "promptImage": "https://example.com/cat.png"}
    return {**body, "ratio": "960:960", "duration": 2, **overrides}


def assert_error(response: httpx.Response, status: int, message: str) -> dict[str, Any]:
    """The Runway error shape: `{"error": "<message> (request id: …)"}`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    rid = response.headers["x-request-id"]
    assert body["error"] == f"{message} (request id: {rid})"
    return body


def create_task(app: InProcessServer, route: str, body: dict[str, Any], key: str = API_KEY) -> str:
    with app.client(key) as client:
        response = client.post(route, json=body, headers=VERSION)
    assert response.status_code == 200, response.text
    assert response.headers["x-runway-version"] == "2024-11-06"
    created: dict[str, Any] = response.json()
    assert created == {"id": created["id"], "estimatedCost": {"credits": 0}}
    task_id: str = created["id"]
    assert uuid.UUID(task_id).version == 4
    return task_id


def get_task(app: InProcessServer, task_id: str, key: str = API_KEY) -> dict[str, Any]:
    with app.client(key) as client:
        response = client.get(f"/v1/tasks/{task_id}", headers=VERSION)
    assert response.status_code == 200, response.text
    assert response.headers["x-runway-version"] == "2024-11-06"
    task: dict[str, Any] = response.json()
    assert task["id"] == task_id
    return task


def delete_task(app: InProcessServer, task_id: str, key: str = API_KEY) -> None:
    with app.client(key) as client:
        response = client.delete(f"/v1/tasks/{task_id}", headers=VERSION)
    assert response.status_code == 204, response.text
    assert response.content == b""


@pytest.fixture
def make(idle_app: InProcessServer) -> Iterator[Maker]:
    """Create tasks on the idle app; cancel them afterwards so the per-key cap stays free."""
    made: list[tuple[str, str]] = []

    def create(route: str = "/v1/text_to_video", key: str = API_KEY, **overrides: Any) -> str:
        body = image_body(**overrides) if "image" in route else text_body(**overrides)
        task_id = create_task(idle_app, route, body, key)
        made.append((task_id, key))
        return task_id

    yield create
    for task_id, key in made:
        with idle_app.client(key) as client:
            client.delete(f"/v1/tasks/{task_id}", headers=VERSION)


BAD_TEXT_TO_VIDEO = [
    (text_body(ratio="16:9"), f"ratio: must be one of {RATIOS}", ["ratio"]),
    (text_body(duration=1), "duration: Input should be greater than or equal to 2", ["duration"]),
    (text_body(duration=11), "duration: Input should be less than or equal to 10", ["duration"]),
    (text_body(duration="5"), "duration: Input should be a valid integer", ["duration"]),
    (text_body(duration=5.0), "duration: Input should be a valid integer", ["duration"]),
    (
        text_body(promptText="a" * 1001),
        "promptText: must be at most 1000 characters (got 1001)",
        ["promptText"],
    ),
    (
        text_body(promptText="a cat\x07"),
        "promptText: must not contain the control character U+0007",
        ["promptText"],
    ),
    (text_body(promptText="   "), "promptText: must not be empty", ["promptText"]),
    (text_body(seed=-1), "seed: Input should be greater than or equal to 0", ["seed"]),
    (
        text_body(seed=4_294_967_296),
        "seed: Input should be less than or equal to 4294967295",
        ["seed"],
    ),
    (
        {k: v for k, v in text_body().items() if k != "promptText"},
        "promptText: Field required",
        ["promptText"],
    ),
    (
        text_body(model="gen9"),
        f"model 'gen9' is not supported; available models: {MODELS}",
        ["model"],
    ),
]


@pytest.mark.parametrize(
    ("body", "message", "path"),
    BAD_TEXT_TO_VIDEO,
    ids=[
        "ratio",
        "duration-1",
        "duration-11",
        "duration-string",
        "duration-float",
        "prompt-too-long",
        "prompt-control-char",
        "prompt-blank",
        "seed-negative",
        "seed-too-big",
        "prompt-missing",
        "unknown-model",
    ],
)
def test_bad_text_to_video_is_400_naming_the_field(
    idle_app: InProcessServer, body: dict[str, Any], message: str, path: list[str]
) -> None:
    with idle_app.client() as client:
        response = client.post("/v1/text_to_video", json=body, headers=VERSION)
    error = assert_error(response, 400, message)
    assert error["issues"][0]["path"] == path


BAD_IMAGE_TO_VIDEO = [
    (
        image_body(promptImage="http://example.com/cat.png"),
        "promptImage.0.uri: the image URL must start with https://, not http://",
    ),
    (
        image_body(promptImage="https://10.0.0.8/cat.png"),
        "promptImage.0.uri: the image URL host 10.0.0.8 is a private address; "
        "an operator can allow it with REELGATE_OUTBOUND_ALLOW",
    ),
    (
        image_body(promptImage=[{"uri": "https://example.com/a.png", "position": "middle"}]),
        "promptImage.0.position: Input should be 'first' or 'last'",
    ),
    (
        image_body(promptImage=[{"uri": "https://example.com/a.png"}]),
        "promptImage.0.position: Field required",
    ),
    (
        image_body(
            promptImage=[
                {"uri": "https://example.com/a.png", "position": "first"},
                {"uri": "https://example.com/b.png", "position": "last"},
            ]
        ),
        "promptImage: must hold exactly one image, first or last (got 2)",
    ),
    (image_body(promptImage=[]), "promptImage: must hold exactly one image, first or last (got 0)"),
    (image_body(promptImage=7), "promptImage: must be a URI string or a list of {uri, position}"),
    (
        image_body(promptImage="data:text/plain;base64,aGk="),
        "promptImage.0.uri: a data URI image must start with data:image/<type>;base64,",
    ),
]


@pytest.mark.parametrize(
    ("body", "message"),
    BAD_IMAGE_TO_VIDEO,
    ids=[
        "http",
        "private-ip",
        "bad-position",
        "no-position",
        "two-images",
        "no-images",
        "not-a-uri",
        "data-not-image",
    ],
)
def test_bad_image_to_video_is_400_naming_the_field(
    idle_app: InProcessServer, body: dict[str, Any], message: str
) -> None:
    with idle_app.client() as client:
        response = client.post("/v1/image_to_video", json=body, headers=VERSION)
    error = assert_error(response, 400, message)
    assert error["issues"][0]["path"][0] == "promptImage"


@pytest.mark.parametrize("route", ["/v1/text_to_video", "/v1/image_to_video", "/v1/tasks/x"])
def test_version_header_is_required_and_checked(idle_app: InProcessServer, route: str) -> None:
    method = "GET" if "tasks" in route else "POST"
    body = text_body() if method == "POST" else None
    with idle_app.client() as client:
        missing = client.request(method, route, json=body)
        unknown = client.request(method, route, json=body, headers={"X-Runway-Version": "2099"})
    assert_error(missing, 400, "the X-Runway-Version header is required; supported: 2024-11-06")
    assert_error(unknown, 400, "X-Runway-Version '2099' is not supported; supported: 2024-11-06")


def test_bad_or_missing_key_is_401_before_anything_else(idle_app: InProcessServer) -> None:
    with idle_app.client("rg_wrong") as client:
        wrong = client.post("/v1/text_to_video", json={"duration": "x"})
    with idle_app.client(None) as client:
        missing = client.get(f"/v1/tasks/{uuid.uuid4()}", headers=VERSION)
    assert_error(wrong, 401, "invalid token")
    assert_error(missing, 401, "missing Authorization: Bearer <api key>")


def test_unknown_and_foreign_tasks_are_404(idle_app: InProcessServer, make: Maker) -> None:
    foreign = make(key=OTHER_KEY)
    unknown = str(uuid.uuid4())
    with idle_app.client() as client:
        for task_id in (unknown, foreign, "not-a-uuid"):
            for method in ("GET", "DELETE"):
                response = client.request(method, f"/v1/tasks/{task_id}", headers=VERSION)
                assert_error(response, 404, f"task {task_id!r} does not exist")
    assert get_task(idle_app, foreign, OTHER_KEY)["status"] == "PENDING"


def test_other_bad_requests_are_in_runway_shape(idle_app: InProcessServer) -> None:
    with idle_app.client() as client:
        not_json = client.post(
            "/v1/text_to_video",
            content=b"{nope",
            headers={**VERSION, "Content-Type": "application/json"},
        )
        wrong_method = client.put(f"/v1/tasks/{uuid.uuid4()}", headers=VERSION)
        too_large = client.post(
            "/v1/image_to_video",
            json=image_body(promptImage="data:image/png;base64," + "A" * 1_100_000),
            headers=VERSION,
        )
    assert not_json.status_code == 400
    assert not_json.json()["error"].startswith("the request body is not valid JSON")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"].startswith("PUT is not allowed on /v1/tasks/")
    assert_error(too_large, 413, "the body exceeds 1048576 bytes")


def test_queue_quota_is_429_with_retry_after(idle_app: InProcessServer, make: Maker) -> None:
    for _ in range(5):  # the idle app's max_active_tasks_per_key
        make(key=OTHER_KEY)
    with idle_app.client(OTHER_KEY) as client:
        response = client.post("/v1/text_to_video", json=text_body(), headers=VERSION)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "5"
    assert "already has 5 queued or running tasks" in response.json()["error"]


def test_idempotency_key_replays_or_conflicts(idle_app: InProcessServer, make: Maker) -> None:
    headers = {**VERSION, "Idempotency-Key": f"runway-{uuid.uuid4()}"}
    with idle_app.client() as client:
        first = client.post("/v1/text_to_video", json=text_body(seed=7), headers=headers)
        again = client.post("/v1/text_to_video", json=text_body(seed=7), headers=headers)
        other = client.post("/v1/text_to_video", json=text_body(seed=8), headers=headers)
        client.delete(f"/v1/tasks/{first.json()['id']}", headers=VERSION)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert_error(other, 422, "this Idempotency-Key was already used with a different request body")


@pytest.mark.parametrize("mount", ["/v1", "/runwayml/v1"])
def test_pending_task_shape_and_unknown_fields_ignored(
    idle_app: InProcessServer, make: Maker, mount: str
) -> None:
    extras = {"contentModeration": {"publicFigureThreshold": "low"}, "outputFormat": "mp4"}
    text_id = make(f"{mount}/text_to_video", **extras)
    last_frame = [{"uri": "https://example.com/cat.png", "position": "last"}]
    image_id = make(f"{mount}/image_to_video", promptImage=last_frame)
    for task_id in (text_id, image_id):
        with idle_app.client() as client:
            response = client.get(f"{mount}/tasks/{task_id}", headers=VERSION)
        task = response.json()
        assert set(task) == {"id", "status", "createdAt", "estimatedCost"}, task
        assert task["status"] == "PENDING"
        assert task["estimatedCost"] == {"credits": 0}
        assert task["createdAt"].endswith("Z")


def test_delete_on_pending_task_cancels_it(idle_app: InProcessServer, make: Maker) -> None:
    task_id = make()
    delete_task(idle_app, task_id)
    task = get_task(idle_app, task_id)
    assert task["status"] == "CANCELLED"
    assert task["cost"] == {"credits": 0}


def test_cometapi_task_reads_through_runway_and_back(
    idle_app: InProcessServer, make: Maker
) -> None:
    with idle_app.client() as client:
        created = client.post("/runway/pro/generate", json=seed_body("https://example.com/h"))
        comet_id = created.json()["data"]["task_id"]
        runway_id = make("/v1/image_to_video")
        feed = client.post("/runway/feed", json={"task_id": runway_id}).json()["data"]
    assert get_task(idle_app, comet_id)["status"] == "PENDING"
    delete_task(idle_app, comet_id)
    assert feed["task_id"] == runway_id
    assert feed["action"] == "IMAGE_TO_VIDEO"
    assert feed["status"] == "QUEUED"
    assert feed["data"]["status"] == "PENDING"


@pytest.fixture(autouse=True)
def _fail_with_app_tracebacks(idle_app: InProcessServer) -> Iterator[None]:
    yield
    if idle_app.tracebacks():
        pytest.fail(f"the app logged a traceback:\n{idle_app.tracebacks()[-4000:]}")
