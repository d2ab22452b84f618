"""Runway's official format (CONTRACT.md 2) over HTTP against real `reelgate serve` processes:
every bad input with its status and message, the task object in each status, and tasks shared
with the CometAPI routes."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reelgate.media.probe import probe
from tests.support.server import API_KEY, OTHER_KEY, ServerProcess, seed_body

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


def _assert_error(response: httpx.Response, status: int, message: str) -> dict[str, Any]:
    """The Runway error shape: `{"error": "<message> (request id: …)"}`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    rid = response.headers["x-request-id"]
    assert body["error"] == f"{message} (request id: {rid})"
    return body


def _create(server: ServerProcess, route: str, body: dict[str, Any], key: str = API_KEY) -> str:
    with server.client(key) as client:
        response = client.post(route, json=body, headers=VERSION)
    assert response.status_code == 200, response.text
    assert response.headers["x-runway-version"] == "2024-11-06"
    created: dict[str, Any] = response.json()
    assert created == {"id": created["id"], "estimatedCost": {"credits": 0}}
    task_id: str = created["id"]
    assert uuid.UUID(task_id).version == 4
    return task_id


def _get(server: ServerProcess, task_id: str, key: str = API_KEY) -> dict[str, Any]:
    with server.client(key) as client:
        response = client.get(f"/v1/tasks/{task_id}", headers=VERSION)
    assert response.status_code == 200, response.text
    assert response.headers["x-runway-version"] == "2024-11-06"
    task: dict[str, Any] = response.json()
    assert task["id"] == task_id
    return task


def _delete(server: ServerProcess, task_id: str, key: str = API_KEY) -> None:
    with server.client(key) as client:
        response = client.delete(f"/v1/tasks/{task_id}", headers=VERSION)
    assert response.status_code == 204, response.text
    assert response.content == b""


def _wait(
    server: ServerProcess, task_id: str, until: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen.append(_get(server, task_id))
        if until(seen[-1]):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} never got there: {seen[-1:]}")


def _finished(task: dict[str, Any]) -> bool:
    return task["status"] in ("SUCCEEDED", "FAILED", "CANCELLED")


@pytest.fixture
def make(idle_server: ServerProcess) -> Iterator[Maker]:
    """Create tasks on the idle server; cancel them afterwards so the per-key cap stays free."""
    made: list[tuple[str, str]] = []

    def create(route: str = "/v1/text_to_video", key: str = API_KEY, **overrides: Any) -> str:
        body = image_body(**overrides) if "image" in route else text_body(**overrides)
        task_id = _create(idle_server, route, body, key)
        made.append((task_id, key))
        return task_id

    yield create
    for task_id, key in made:
        with idle_server.client(key) as client:
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
    idle_server: ServerProcess, body: dict[str, Any], message: str, path: list[str]
) -> None:
    with idle_server.client() as client:
        response = client.post("/v1/text_to_video", json=body, headers=VERSION)
    error = _assert_error(response, 400, message)
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
    idle_server: ServerProcess, body: dict[str, Any], message: str
) -> None:
    with idle_server.client() as client:
        response = client.post("/v1/image_to_video", json=body, headers=VERSION)
    error = _assert_error(response, 400, message)
    assert error["issues"][0]["path"][0] == "promptImage"


@pytest.mark.parametrize("route", ["/v1/text_to_video", "/v1/image_to_video", "/v1/tasks/x"])
def test_version_header_is_required_and_checked(idle_server: ServerProcess, route: str) -> None:
    method = "GET" if "tasks" in route else "POST"
    body = text_body() if method == "POST" else None
    with idle_server.client() as client:
        missing = client.request(method, route, json=body)
        unknown = client.request(method, route, json=body, headers={"X-Runway-Version": "2099"})
    _assert_error(missing, 400, "the X-Runway-Version header is required; supported: 2024-11-06")
    _assert_error(unknown, 400, "X-Runway-Version '2099' is not supported; supported: 2024-11-06")


def test_bad_or_missing_key_is_401_before_anything_else(idle_server: ServerProcess) -> None:
    with idle_server.client("rg_wrong") as client:
        wrong = client.post("/v1/text_to_video", json={"duration": "x"})
    with idle_server.client(None) as client:
        missing = client.get(f"/v1/tasks/{uuid.uuid4()}", headers=VERSION)
    _assert_error(wrong, 401, "invalid token")
    _assert_error(missing, 401, "missing Authorization: Bearer <api key>")


def test_unknown_and_foreign_tasks_are_404(idle_server: ServerProcess, make: Maker) -> None:
    foreign = make(key=OTHER_KEY)
    unknown = str(uuid.uuid4())
    with idle_server.client() as client:
        for task_id in (unknown, foreign, "not-a-uuid"):
            for method in ("GET", "DELETE"):
                response = client.request(method, f"/v1/tasks/{task_id}", headers=VERSION)
                _assert_error(response, 404, f"task {task_id!r} does not exist")
    assert _get(idle_server, foreign, OTHER_KEY)["status"] == "PENDING"


def test_other_bad_requests_are_in_runway_shape(idle_server: ServerProcess) -> None:
    with idle_server.client() as client:
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
    _assert_error(too_large, 413, "the body exceeds 1048576 bytes")


def test_queue_quota_is_429_with_retry_after(idle_server: ServerProcess, make: Maker) -> None:
    for _ in range(5):  # the idle server's REELGATE_MAX_ACTIVE_TASKS_PER_KEY
        make(key=OTHER_KEY)
    with idle_server.client(OTHER_KEY) as client:
        response = client.post("/v1/text_to_video", json=text_body(), headers=VERSION)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "5"
    assert "already has 5 queued or running tasks" in response.json()["error"]


def test_idempotency_key_replays_or_conflicts(idle_server: ServerProcess, make: Maker) -> None:
    headers = {**VERSION, "Idempotency-Key": f"runway-{uuid.uuid4()}"}
    with idle_server.client() as client:
        first = client.post("/v1/text_to_video", json=text_body(seed=7), headers=headers)
        again = client.post("/v1/text_to_video", json=text_body(seed=7), headers=headers)
        other = client.post("/v1/text_to_video", json=text_body(seed=8), headers=headers)
        client.delete(f"/v1/tasks/{first.json()['id']}", headers=VERSION)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    _assert_error(other, 422, "this Idempotency-Key was already used with a different request body")


@pytest.mark.parametrize("mount", ["/v1", "/runwayml/v1"])
def test_pending_task_shape_and_unknown_fields_ignored(
    idle_server: ServerProcess, make: Maker, mount: str
) -> None:
    extras = {"contentModeration": {"publicFigureThreshold": "low"}, "outputFormat": "mp4"}
    text_id = make(f"{mount}/text_to_video", **extras)
    last_frame = [{"uri": "https://example.com/cat.png", "position": "last"}]
    image_id = make(f"{mount}/image_to_video", promptImage=last_frame)
    for task_id in (text_id, image_id):
        with idle_server.client() as client:
            response = client.get(f"{mount}/tasks/{task_id}", headers=VERSION)
        task = response.json()
        assert set(task) == {"id", "status", "createdAt", "estimatedCost"}, task
        assert task["status"] == "PENDING"
        assert task["estimatedCost"] == {"credits": 0}
        assert task["createdAt"].endswith("Z")


def test_delete_on_pending_task_cancels_it(idle_server: ServerProcess, make: Maker) -> None:
    task_id = make()
    _delete(idle_server, task_id)
    task = _get(idle_server, task_id)
    assert task["status"] == "CANCELLED"
    assert task["cost"] == {"credits": 0}


def test_cometapi_task_reads_through_runway_and_back(
    idle_server: ServerProcess, make: Maker
) -> None:
    with idle_server.client() as client:
        created = client.post("/runway/pro/generate", json=seed_body("https://example.com/h"))
        comet_id = created.json()["data"]["task_id"]
        runway_id = make("/v1/image_to_video")
        feed = client.post("/runway/feed", json={"task_id": runway_id}).json()["data"]
    assert _get(idle_server, comet_id)["status"] == "PENDING"
    _delete(idle_server, comet_id)
    assert feed["task_id"] == runway_id
    assert feed["action"] == "IMAGE_TO_VIDEO"
    assert feed["status"] == "QUEUED"
    assert feed["data"]["status"] == "PENDING"


def test_succeeded_task_output_is_the_video_asked_for(
    server: ServerProcess, tmp_path: Path
) -> None:
    task_id = _create(server, "/v1/text_to_video", text_body(ratio="832:1104", duration=3))
    seen = _wait(server, task_id, _finished)
    final = seen[-1]
    assert final["status"] == "SUCCEEDED", final
    assert set(final) == {"id", "status", "createdAt", "output", "cost"}
    progress = [t["progress"] for t in seen if t["status"] == "RUNNING"]
    assert all(0 <= p < 1 for p in progress)
    assert progress == sorted(progress)
    [url] = final["output"]
    with server.client(key=None) as client:
        video = client.get(url)
        feed = client.post(
            "/runway/feed",
            json={"task_id": task_id},
            headers={"Authorization": f"Bearer {API_KEY}"},
        ).json()["data"]
    assert video.status_code == 200
    (tmp_path / "out.mp4").write_bytes(video.content)
    info = probe(tmp_path / "out.mp4")
    assert (info.codec, info.width, info.height, info.frames) == ("h264", 832, 1104, 3 * 24)
    assert float(info.fps) == 24.0
    assert feed["status"] == "SUCCESS"
    assert feed["action"] == "TEXT_TO_VIDEO"
    assert feed["result_url"].split("?")[0] == url.split("?")[0]

    _delete(server, task_id)
    with server.client() as client:
        gone = client.get(f"/v1/tasks/{task_id}", headers=VERSION)
        feed_gone = client.post("/runway/feed", json={"task_id": task_id})
        link_gone = client.get(url)
    _assert_error(gone, 404, f"task {task_id!r} does not exist")
    assert feed_gone.json()["code"] == "task_not_exist"
    assert link_gone.status_code == 404


def test_failed_task_says_why(server: ServerProcess) -> None:
    task_id = _create(server, "/v1/image_to_video", image_body(promptImage=NOT_A_PNG))
    final = _wait(server, task_id, _finished)[-1]
    assert final["status"] == "FAILED"
    assert set(final) == {"id", "status", "createdAt", "failure", "failureCode", "cost"}
    assert final["failureCode"] == "ASSET.INVALID"
    assert "input image" in final["failure"]


def test_running_task_reports_progress_and_delete_cancels_it(server: ServerProcess) -> None:
    task_id = _create(server, "/v1/text_to_video", text_body(ratio="1280:720", duration=10))
    running = _wait(server, task_id, lambda t: t["status"] == "RUNNING" and t["progress"] > 0)
    task = running[-1]
    assert set(task) == {"id", "status", "createdAt", "progress", "estimatedCost"}
    assert 0 < task["progress"] < 1
    _delete(server, task_id)
    final = _wait(server, task_id, _finished)[-1]
    assert final["status"] == "CANCELLED"
    assert set(final) == {"id", "status", "createdAt", "cost"}


def test_second_task_of_a_key_at_its_running_cap_is_throttled(tmp_path: Path) -> None:
    env = {"REELGATE_MAX_RUNNING_TASKS_PER_KEY": "1", "REELGATE_WORKERS": "2"}
    server = ServerProcess(tmp_path, env=env).start()
    try:
        long = text_body(ratio="1280:720", duration=10)
        first = _create(server, "/v1/text_to_video", long)
        _wait(server, first, lambda t: t["status"] == "RUNNING")
        second = _create(server, "/v1/text_to_video", long)
        other = _create(server, "/v1/text_to_video", long, key=OTHER_KEY)
        time.sleep(1.0)  # several worker polls: the free worker must still leave `second` alone
        assert _get(server, second)["status"] == "THROTTLED"
        assert _get(server, other, OTHER_KEY)["status"] == "RUNNING"
        _delete(server, first)
        _wait(server, second, lambda t: t["status"] == "RUNNING")
        _delete(server, second)
        _delete(server, other, OTHER_KEY)
    finally:
        server.stop()


def test_succeeded_task_whose_files_expired_has_empty_output(tmp_path: Path) -> None:
    env = {"REELGATE_RETENTION_DAYS": "0.00004", "REELGATE_SWEEP_SECONDS": "0.5"}  # ~3.5 s
    server = ServerProcess(tmp_path, env=env).start()
    try:
        task_id = _create(server, "/v1/text_to_video", text_body())
        assert _wait(server, task_id, _finished)[-1]["status"] == "SUCCEEDED"
        final = _wait(server, task_id, lambda t: t["output"] == [])[-1]
        assert final["status"] == "SUCCEEDED"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _fail_with_server_logs(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    for name in ("server", "idle_server"):
        if name in request.fixturenames:
            running: ServerProcess = request.getfixturevalue(name)
            if "Traceback" in running.logs():
                pytest.fail(f"the server logged a traceback:\n{running.logs()[-4000:]}")
