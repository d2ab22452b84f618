"""Every row of CONTRACT.md 1.1's error table, against the app in this process.

Each case asserts the exact HTTP status and `code`, the envelope, and the request id at the end
of the message.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.inprocess import InProcessServer, StartApp
from tests.support.server import API_KEY, OTHER_KEY, seed_body

CALLBACK = "https://example.com/hook"


def _assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["data"] is None
    rid = response.headers["x-request-id"]
    assert body["message"].endswith(f"(request id: {rid})")
    return body


def _generate(app: InProcessServer, body: Any, key: str | None = API_KEY) -> httpx.Response:
    with app.client(key) as client:
        return client.post("/runway/pro/generate", json=body)


def _with_options(**options: Any) -> dict[str, Any]:
    body = seed_body(CALLBACK)
    body["options"] = {**body["options"], **options}
    return body


def _with_motion(**motion: Any) -> dict[str, Any]:
    body = seed_body(CALLBACK)
    body["options"]["motion_vector"] = {**body["options"]["motion_vector"], **motion}
    return body


@pytest.mark.parametrize(
    "body",
    [
        {k: v for k, v in seed_body(CALLBACK).items() if k != "callback_url"},
        seed_body(""),
        seed_body("   "),
        seed_body(None),  # type: ignore[arg-type]
        {"callback_url": ""},  # everything else missing too: the callback rule comes first
    ],
    ids=["missing", "empty", "blank", "null", "empty-and-nothing-else"],
)
def test_missing_callback_url_is_callback_url_empty(
    idle_app: InProcessServer, body: dict[str, Any]
) -> None:
    _assert_error(_generate(idle_app, body), 400, "callback_url_empty")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in seed_body(CALLBACK).items() if k != "prompt"}, "prompt"),
        ({k: v for k, v in seed_body(CALLBACK).items() if k != "ratio"}, "ratio"),
        ({k: v for k, v in seed_body(CALLBACK).items() if k != "style"}, "style"),
        ({k: v for k, v in seed_body(CALLBACK).items() if k != "model"}, "model"),
        ({k: v for k, v in seed_body(CALLBACK).items() if k != "options"}, "options"),
        (_with_options(seconds=7), "options.seconds"),
        (_with_options(seconds="10"), "options.seconds"),
        (_with_options(seconds=10.0), "options.seconds"),
        (_with_options(seconds=True), "options.seconds"),
        (_with_options(motion_vector=None), "options.motion_vector"),
        (_with_motion(r=10.5), "options.motion_vector.r"),
        (_with_motion(x=-11), "options.motion_vector.x"),
        (_with_motion(z="1"), "options.motion_vector.z"),
        (_with_motion(bg_x_pan=True), "options.motion_vector.bg_x_pan"),
        (_with_options(seed=-1), "options.seed"),
        (_with_options(seed=4_294_967_296), "options.seed"),
        (seed_body(CALLBACK, ratio="2:1"), "ratio"),
        (seed_body(CALLBACK, prompt=""), "prompt"),
        (seed_body(CALLBACK, prompt="   "), "prompt"),
        (seed_body(CALLBACK, prompt="x" * 1001), "prompt"),
        (seed_body(CALLBACK, prompt="a\x00cat"), "prompt"),
        (seed_body(CALLBACK, prompt="a \u202ecat"), "prompt"),
        (seed_body(CALLBACK, prompt=42), "prompt"),
        (seed_body(CALLBACK, style="s" * 65), "style"),
        (seed_body(123), "callback_url"),  # type: ignore[arg-type]
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_field_is_invalid_request_naming_the_field(
    idle_app: InProcessServer, body: dict[str, Any], field: str
) -> None:
    error = _assert_error(_generate(idle_app, body), 400, "invalid_request")
    assert error["message"].startswith(f"{field}:")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"callback_url=x", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"[" * 100_000, "application/json"),
        (b"", "application/json"),
    ],
    ids=["broken", "array", "form", "not-utf8", "deep", "empty"],
)
def test_body_that_is_not_a_json_object_is_invalid_request(
    idle_app: InProcessServer, content: bytes, content_type: str
) -> None:
    with idle_app.client() as client:
        response = client.post(
            "/runway/pro/generate", content=content, headers={"Content-Type": content_type}
        )
    _assert_error(response, 400, "invalid_request")


def test_nan_speed_is_invalid_request(idle_app: InProcessServer) -> None:
    raw = httpx.Request("POST", "/", json=seed_body(CALLBACK)).content.decode()
    raw = raw.replace('"r":-6', '"r":NaN')
    with idle_app.client() as client:
        response = client.post(
            "/runway/pro/generate",
            content=raw.encode(),
            headers={"Content-Type": "application/json"},
        )
    _assert_error(response, 400, "invalid_request")


def test_unknown_model_lists_the_models(idle_app: InProcessServer) -> None:
    error = _assert_error(
        _generate(idle_app, seed_body(CALLBACK, model="gen9")), 400, "model_not_supported"
    )
    for name in ("gen4", "gen4_turbo", "gen3", "gen2"):
        assert name in error["message"]


@pytest.mark.parametrize(
    "callback",
    [
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:10.0.0.1]/hook",
        "http://100.64.0.1/hook",
        "ftp://example.com/hook",
        "/relative/hook",
        "http:///nohost",
    ],
)
def test_refused_callback_is_url_not_allowed(idle_app: InProcessServer, callback: str) -> None:
    _assert_error(_generate(idle_app, seed_body(callback)), 400, "url_not_allowed")


@pytest.mark.parametrize(
    "image", ["http://example.com/cat.png", "https://10.1.2.3/cat.png", "file:///etc/passwd"]
)
def test_refused_image_is_url_not_allowed(idle_app: InProcessServer, image: str) -> None:
    _assert_error(_generate(idle_app, seed_body(CALLBACK, image=image)), 400, "url_not_allowed")


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer wrong-key", f"Basic {API_KEY}", API_KEY]
)
def test_bad_key_is_invalid_token(idle_app: InProcessServer, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    with idle_app.client(None, headers=headers) as client:
        _assert_error(
            client.post("/runway/pro/generate", json=seed_body(CALLBACK)), 401, "invalid_token"
        )
        _assert_error(client.post("/runway/feed", json={"task_id": "x"}), 401, "invalid_token")


def test_bad_key_with_bad_body_is_still_invalid_token(idle_app: InProcessServer) -> None:
    with idle_app.client(None) as client:
        response = client.post(
            "/runway/pro/generate",
            content=b"{oops",
            headers={"Content-Type": "application/json"},
        )
    _assert_error(response, 401, "invalid_token")


@pytest.mark.parametrize("task_id", ["", "nope", "3d957031-9a2a-45e2-9dc7-bc8513059c50", "'; --"])
def test_unknown_task_is_task_not_exist(idle_app: InProcessServer, task_id: str) -> None:
    with idle_app.client() as client:
        _assert_error(client.post("/runway/feed", json={"task_id": task_id}), 400, "task_not_exist")


def test_feed_without_task_id_is_invalid_request(idle_app: InProcessServer) -> None:
    with idle_app.client() as client:
        error = _assert_error(client.post("/runway/feed", json={}), 400, "invalid_request")
    assert error["message"].startswith("task_id:")


def test_another_keys_task_does_not_exist(idle_app: InProcessServer) -> None:
    created = _generate(idle_app, seed_body(CALLBACK))
    assert created.status_code == 200
    task_id = created.json()["data"]["task_id"]
    with idle_app.client(OTHER_KEY) as client:
        _assert_error(client.post("/runway/feed", json={"task_id": task_id}), 400, "task_not_exist")


def test_body_over_one_mebibyte_is_request_too_large(idle_app: InProcessServer) -> None:
    body = seed_body(CALLBACK, prompt="x" * (1024 * 1024))
    _assert_error(_generate(idle_app, body), 413, "request_too_large")


def test_chunked_body_over_one_mebibyte_is_request_too_large(idle_app: InProcessServer) -> None:
    def chunks() -> Any:
        yield b'{"callback_url": "https://example.com/hook", "prompt": "'
        for _ in range(40):
            yield b"x" * 32 * 1024
        yield b'"}'

    with idle_app.client() as client:
        response = client.post(
            "/runway/pro/generate", content=chunks(), headers={"Content-Type": "application/json"}
        )
    _assert_error(response, 413, "request_too_large")


def test_unsupported_runway_version_is_invalid_request(idle_app: InProcessServer) -> None:
    with idle_app.client() as client:
        response = client.post(
            "/runway/pro/generate",
            json=seed_body(CALLBACK),
            headers={"X-Runway-Version": "2099-01-01"},
        )
    error = _assert_error(response, 400, "invalid_request")
    assert "2024-11-06" in error["message"]


def test_key_over_its_active_task_quota_is_rate_limited(start_app: StartApp) -> None:
    app = start_app(workers=0, max_active_tasks_per_key=2)
    for _ in range(2):
        assert _generate(app, seed_body(CALLBACK)).status_code == 200
    response = _generate(app, seed_body(CALLBACK))
    _assert_error(response, 429, "rate_limited")
    assert int(response.headers["retry-after"]) > 0
    # Another key has its own quota.
    assert _generate(app, seed_body(CALLBACK), key=OTHER_KEY).status_code == 200


def test_unknown_route_and_method(idle_app: InProcessServer) -> None:
    with idle_app.client() as client:
        _assert_error(client.post("/runway/pro/nothing", json={}), 404, "not_found")
        _assert_error(client.get("/runway/feed"), 405, "method_not_allowed")
