"""Hostile input against the app in this process: every case is a 4xx in the dialect's error
shape.

Control and bidirectional characters, numbers no field can hold, JSON that parsers disagree on
(NaN, a byte order mark, UTF-16, duplicate names), deep nesting, wrong content types and shapes.
Each answer is checked for its exact status and code, the CometAPI envelope and the request id,
and the app must still answer `/healthz` afterwards.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from reelgate.api.app import create_app
from reelgate.runtime import Runtime
from reelgate.settings import Settings
from tests.support.inprocess import InProcessServer
from tests.support.server import API_KEY, OTHER_KEY, seed_body

CALLBACK = "https://example.com/hook"
GENERATE = "/runway/pro/generate"
JSON = {"Content-Type": "application/json"}
# Two keys in turn keep this file's ~90 requests inside each key's request-rate burst.
_KEYS = cycle([API_KEY, OTHER_KEY])


@pytest.fixture
def app(idle_app: InProcessServer) -> Iterator[InProcessServer]:
    """The idle app, which must still answer `/healthz` after each test."""
    yield idle_app
    with idle_app.client(None) as client:
        assert client.get("/healthz").status_code == 200


def _post(
    app: InProcessServer, content: bytes, headers: dict[str, str], path: str = GENERATE
) -> httpx.Response:
    with app.client(next(_KEYS)) as client:
        return client.post(path, content=content, headers=headers)


def _raw(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode()


def _assert_error(response: httpx.Response, status: int, code: str) -> str:
    """The CometAPI error shape; returns the message without its request id suffix."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "message", "data"}
    assert body["code"] == code
    assert body["data"] is None
    suffix = f" (request id: {response.headers['x-request-id']})"
    assert body["message"].endswith(suffix)
    return str(body["message"]).removesuffix(suffix)


def _with(path: str, value: Any) -> dict[str, Any]:
    """The seed body with the field at a dotted path replaced."""
    body = seed_body(CALLBACK)
    *parents, name = path.split(".")
    node = body
    for parent in parents:
        node = node[parent]
    node[name] = value
    return body


# --- text fields ------------------------------------------------------------------------------

CONTROL = ["\x00", "\x1b", "\x7f", "\u202e", "\u2066"]


@pytest.mark.parametrize("field", ["prompt", "style"])
@pytest.mark.parametrize("char", CONTROL, ids=lambda c: f"U+{ord(c):04X}")
def test_control_and_bidi_characters_are_refused(
    app: InProcessServer, field: str, char: str
) -> None:
    response = _post(app, _raw(_with(field, f"a {char}cat")), JSON)
    message = _assert_error(response, 400, "invalid_request")
    assert message.startswith(f"{field}: must not contain")
    assert f"U+{ord(char):04X}" in message


# --- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    ["options.seconds", "seed", "options.seed", "options.motion_vector.x"],
)
@pytest.mark.parametrize("value", [10**30, -(10**30)], ids=["1e30", "-1e30"])
def test_huge_integers_are_invalid_request_naming_the_field(
    app: InProcessServer, field: str, value: int
) -> None:
    message = _assert_error(_post(app, _raw(_with(field, value)), JSON), 400, "invalid_request")
    assert message.startswith(f"{field}:")


def test_an_integer_too_long_to_parse_is_invalid_json(app: InProcessServer) -> None:
    raw = _raw(_with("seed", 0)).replace(b'"seed": 0', b'"seed": ' + b"9" * 5000)
    message = _assert_error(_post(app, raw, JSON), 400, "invalid_request")
    assert message.startswith("the request body is not valid JSON")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
@pytest.mark.parametrize("field", ["options.motion_vector.r", "seed", "an_ignored_extra"])
def test_non_finite_numbers_are_invalid_json(
    app: InProcessServer, literal: str, field: str
) -> None:
    raw = _raw(_with(field, "PLACEHOLDER")).replace(b'"PLACEHOLDER"', literal.encode())
    message = _assert_error(_post(app, raw, JSON), 400, "invalid_request")
    reason = f"the number {literal} is out of range" if "e" in literal else "is not a JSON number"
    assert message.startswith("the request body is not valid JSON (")
    assert reason in message


# --- structure --------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [10_000, 100_000])
@pytest.mark.parametrize("bracket", ["[]", "{}"], ids=["arrays", "objects"])
def test_deep_nesting_in_a_field_is_invalid_json(
    app: InProcessServer, depth: int, bracket: str
) -> None:
    opening = "[" if bracket == "[]" else '{"a":'
    nested = opening * depth + "1" + bracket[1] * depth
    raw = _raw(_with("style", "PLACEHOLDER")).replace(b'"PLACEHOLDER"', nested.encode())
    assert len(raw) < 1024 * 1024
    message = _assert_error(_post(app, raw, JSON), 400, "invalid_request")
    assert message == "the request body is not valid JSON (the body is nested too deeply)"


def test_duplicate_member_names_are_invalid_json(app: InProcessServer) -> None:
    raw = _raw(seed_body(CALLBACK)).replace(b'"prompt": ', b'"prompt": "\\u0000", "prompt": ')
    message = _assert_error(_post(app, raw, JSON), 400, "invalid_request")
    assert "'prompt' appears twice" in message


def test_a_huge_number_of_keys_without_the_fields_is_refused(app: InProcessServer) -> None:
    raw = ("{" + ",".join(f'"k{i}":{i}' for i in range(60_000)) + "}").encode()
    assert len(raw) < 1024 * 1024
    _assert_error(_post(app, raw, JSON), 400, "callback_url_empty")


def test_a_huge_number_of_unknown_keys_beside_a_valid_body_is_ignored(
    app: InProcessServer,
) -> None:
    """CONTRACT.md 0: unknown fields are ignored on the CometAPI routes, however many."""
    body = {f"k{i}": i for i in range(50_000)} | seed_body(CALLBACK)
    response = _post(app, _raw(body), JSON)
    assert response.status_code == 200, response.text
    assert response.json()["code"] == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("a cat", "body"),
        ([seed_body(CALLBACK)], "body"),
        (_with("options", "seconds=10"), "options"),
        (_with("options.motion_vector", "0,0,0"), "options.motion_vector"),
        (_with("prompt", {"text": "a cat"}), "prompt"),
        (_with("prompt", ["a cat"]), "prompt"),
        (_with("callback_url", {"url": CALLBACK}), "callback_url"),
        (_with("style", 7), "style"),
        (_with("model", ["gen4"]), "model"),
    ],
    ids=[
        "string-body",
        "array-body",
        "string-options",
        "string-motion",
        "object-prompt",
        "array-prompt",
        "object-callback",
        "number-style",
        "array-model",
    ],
)
def test_wrong_json_shapes_are_invalid_request_naming_the_field(
    app: InProcessServer, body: Any, field: str
) -> None:
    message = _assert_error(_post(app, _raw(body), JSON), 400, "invalid_request")
    assert message.startswith(f"{field}:")


@pytest.mark.parametrize("task_id", [{"id": "x"}, ["x"], 42, None, "x" * 65, "\x00"], ids=repr)
def test_feed_with_a_hostile_task_id_is_refused(app: InProcessServer, task_id: Any) -> None:
    response = _post(app, _raw({"task_id": task_id}), JSON, path="/runway/feed")
    if task_id == "\x00":
        _assert_error(response, 400, "task_not_exist")
    else:
        assert _assert_error(response, 400, "invalid_request").startswith("task_id:")


# --- encodings and content types ----------------------------------------------------------------

SEED = _raw(seed_body(CALLBACK, prompt="un café"))


NOT_UTF8 = "the body is not UTF-8"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (SEED.decode().encode("latin-1"), NOT_UTF8),
        (SEED.decode().encode("utf-16-le"), NOT_UTF8),
        (SEED.decode().encode("utf-16"), NOT_UTF8),
        (SEED.decode().encode("utf-32"), NOT_UTF8),
        (b"\xef\xbb\xbf" + SEED, "the body starts with a byte order mark"),
        (SEED.replace(b"caf\xc3\xa9", b"caf\xed\xa0\x80"), NOT_UTF8),  # an encoded surrogate
        (b"\xff\xfe\xfd", NOT_UTF8),
    ],
    ids=["latin-1", "utf-16", "utf-16-bom", "utf-32", "utf-8-bom", "surrogate", "garbage"],
)
def test_bodies_that_are_not_plain_utf8_json_are_invalid_json(
    app: InProcessServer, raw: bytes, reason: str
) -> None:
    message = _assert_error(_post(app, raw, JSON), 400, "invalid_request")
    assert message.startswith(f"the request body is not valid JSON ({reason}")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (SEED, "text/plain"),
        (SEED, "multipart/form-data; boundary=x"),
        (SEED, None),
        (SEED, "application/x-www-form-urlencoded"),
        (SEED, "application/jsonp"),
        (
            b'--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\ncat\r\n--x--\r\n',
            "multipart/form-data; boundary=x",
        ),
        (b"prompt=cat&ratio=16:9", "application/x-www-form-urlencoded"),
        (b"\x00\x01\x02\xff", "application/octet-stream"),
    ],
    ids=[
        "json-as-text",
        "json-as-multipart",
        "json-without-type",
        "json-as-form",
        "json-as-jsonp",
        "multipart",
        "form",
        "binary",
    ],
)
def test_bodies_not_sent_as_json_are_invalid_request(
    app: InProcessServer, content: bytes, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = _post(app, content, headers)
    assert content_type is not None or "content-type" not in response.request.headers
    message = _assert_error(response, 400, "invalid_request")
    assert "Content-Type: application/json" in message


def test_an_idempotency_key_over_255_characters_is_invalid_request(app: InProcessServer) -> None:
    response = _post(app, SEED, {**JSON, "Idempotency-Key": "k" * 256})
    assert _assert_error(response, 400, "invalid_request").startswith("Idempotency-Key:")


# --- routes outside the dialects ----------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["expires=99999999999&sig=%C3%A9", "expires=" + "9" * 5000 + "&sig=0", "expires=-1&sig="],
    ids=["non-ascii-signature", "huge-expiry", "negative-expiry"],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_forged_file_links_are_forbidden(app: InProcessServer, query: str, method: str) -> None:
    url = f"/files/..%2F..%2Freelgate.db?{query}"
    with app.client(None) as client:
        response = client.request(method, url, headers={"Range": "bytes=junk"})
    assert response.status_code == 403
    assert response.headers["x-request-id"]
    if method == "GET":
        assert response.json()["error"]["code"] == "link_invalid"


@pytest.mark.parametrize("task_id", ["%00", "..%2F..%2Fetc", "x" * 2000, "%E2%80%AE"])
def test_admin_routes_with_hostile_task_ids_are_not_found(
    app: InProcessServer, task_id: str
) -> None:
    with app.client(next(_KEYS)) as client:
        response = client.post(f"/admin/tasks/{task_id}/cancel")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] in ("task_not_found", "not_found")


# --- unexpected errors ----------------------------------------------------------------------------


def _app_with_a_broken_route(tmp_path: Path) -> FastAPI:
    runtime = Runtime.build(Settings(data_dir=tmp_path, api_keys=API_KEY), public_url="http://x")
    runtime.store.prepare()
    app = create_app(runtime.api_services())

    @app.post("/runway/broken")
    def broken() -> None:
        raise RuntimeError("a bug")

    return app


def test_an_unexpected_error_is_internal_error_with_the_request_id(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(_app_with_a_broken_route(tmp_path), raise_app_exceptions=False)

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/runway/broken")

    response = asyncio.run(call())
    assert _assert_error(response, 500, "internal_error") == "internal error"
