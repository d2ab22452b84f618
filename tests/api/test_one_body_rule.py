"""One body rule on every route and body type (issue 13): duplicate member names and invalid
UTF-8 are refused as malformed in each dialect's own error shape, a refused upload names the
limit it broke, and an over-long URL gets the same code wherever it appears."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reelgate.outbound import MAX_IMAGE_BYTES
from tests.support.inprocess import InProcessServer
from tests.support.server import seed_body

CALLBACK = "https://example.com/hook"
LONG_URL = "https://example.com/" + "a" * 3000  # over the 2048-character URL limit
RUNWAY = {"X-Runway-Version": "2024-11-06"}
JSON = {"Content-Type": "application/json"}


def cometapi_code(response: httpx.Response) -> str:
    code: str = response.json()["code"]
    return code


def native_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def openai_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def post(
    app: InProcessServer, path: str, content: bytes, headers: dict[str, str]
) -> httpx.Response:
    with app.client() as client:
        return client.post(path, content=content, headers=headers)


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/runway/pro/generate", b'{"prompt": "a", "prompt": "b"}', JSON),
        ("/v1/text_to_video", b'{"promptText": "a", "promptText": "b"}', JSON | RUNWAY),
        ("/v1/videos", b'{"prompt": "a", "prompt": "b"}', JSON),
        ("/admin/tasks", b'{"prompt": "a", "prompt": "b"}', JSON),
    ],
    ids=["cometapi", "runway", "openai", "native"],
)
def test_duplicate_member_names_are_refused_on_every_dialect(
    idle_app: InProcessServer, path: str, body: bytes, headers: dict[str, str]
) -> None:
    response = post(idle_app, path, body, headers)

    assert response.status_code == 400, response.text
    assert "'prompt" in response.text
    assert "appears twice in one object" in response.text


def test_openai_names_the_duplicate_in_its_invalid_json_error(idle_app: InProcessServer) -> None:
    response = post(idle_app, "/v1/videos", b'{"prompt": "a", "prompt": "b"}', JSON)

    assert response.status_code == 400
    assert openai_code(response) == "invalid_json"
    assert response.json()["error"]["message"].startswith(
        "We could not parse the JSON body of your request (the member name 'prompt' appears "
        "twice in one object)."
    )


@pytest.mark.parametrize(
    ("path", "headers", "code_of", "code"),
    [
        ("/runway/pro/generate", JSON, cometapi_code, "invalid_request"),
        ("/v1/videos", JSON, openai_code, "invalid_json"),
        ("/admin/tasks", JSON, native_code, "invalid_request"),
    ],
    ids=["cometapi", "openai", "native"],
)
def test_json_that_is_not_utf8_is_refused_on_every_dialect(
    idle_app: InProcessServer, path: str, headers: dict[str, str], code_of: Any, code: str
) -> None:
    response = post(idle_app, path, b'{"prompt": "caf\xe9"}', headers)

    assert response.status_code == 400, response.text
    assert code_of(response) == code
    assert "not UTF-8" in response.text


def test_runway_refuses_json_that_is_not_utf8(idle_app: InProcessServer) -> None:
    response = post(idle_app, "/v1/text_to_video", b'{"promptText": "caf\xe9"}', JSON | RUNWAY)

    assert response.status_code == 400, response.text
    assert "not UTF-8" in response.json()["error"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (
            b'--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\ncaf\xe9\r\n--x--\r\n',
            "multipart/form-data; boundary=x",
        ),
        (b"prompt=caf%E9", "application/x-www-form-urlencoded"),
        (b"prompt=caf\xe9", "application/x-www-form-urlencoded"),
    ],
    ids=["multipart", "form-escaped", "form-raw"],
)
def test_a_form_field_that_is_not_utf8_is_invalid_request(
    idle_app: InProcessServer, content: bytes, content_type: str
) -> None:
    response = post(idle_app, "/v1/videos", content, {"Content-Type": content_type})

    assert response.status_code == 400, response.text
    assert openai_code(response) == "invalid_request"
    assert "is not valid UTF-8" in response.json()["error"]["message"]


def test_utf8_form_fields_are_kept_as_sent(idle_app: InProcessServer) -> None:
    multipart = (
        b'--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\ncaf\xc3\xa9\r\n--x--\r\n'
    )
    for content, content_type in [
        (multipart, "multipart/form-data; boundary=x"),
        (b"prompt=caf%C3%A9", "application/x-www-form-urlencoded"),
    ]:
        response = post(idle_app, "/v1/videos", content, {"Content-Type": content_type})
        assert response.status_code == 200, response.text
        assert response.json()["prompt"] == "café"


def test_an_oversized_upload_is_refused_naming_the_upload_limit(idle_app: InProcessServer) -> None:
    limit = MAX_IMAGE_BYTES + 1024 * 1024  # an image plus the form's other fields
    headers = {
        "Content-Type": "multipart/form-data; boundary=x",
        "Content-Length": str(limit + 1),
    }
    response = post(idle_app, "/v1/videos", b"--x--\r\n", headers)

    assert response.status_code == 413, response.text
    assert openai_code(response) == "request_too_large"
    assert response.json()["error"]["message"].startswith(f"the body exceeds {limit} bytes")


def test_an_oversized_json_body_is_refused_naming_the_json_limit(
    idle_app: InProcessServer,
) -> None:
    headers = JSON | {"Content-Length": str(1024 * 1024 + 1)}
    response = post(idle_app, "/v1/videos", b"{}", headers)

    assert response.status_code == 413, response.text
    assert response.json()["error"]["message"].startswith("the body exceeds 1048576 bytes")


def test_an_over_long_callback_url_and_image_url_get_the_same_code(
    idle_app: InProcessServer,
) -> None:
    with idle_app.client() as client:
        callback = client.post("/runway/pro/generate", json=seed_body(LONG_URL))
        image = client.post("/runway/pro/generate", json=seed_body(CALLBACK, image=LONG_URL))
        native_callback = client.post(
            "/admin/tasks", json={"prompt": "x", "callback_url": LONG_URL}
        )
        native_image = client.post("/admin/tasks", json={"prompt": "x", "image": LONG_URL})
        openai_image = client.post(
            "/v1/videos", json={"prompt": "x", "input_reference": {"image_url": LONG_URL}}
        )

    for response in (callback, image):
        assert response.status_code == 400, response.text
        assert cometapi_code(response) == "url_not_allowed"
    for response in (native_callback, native_image):
        assert response.status_code == 400, response.text
        assert native_code(response) == "url_not_allowed"
    assert openai_image.status_code == 400
    assert openai_code(openai_image) == "url_not_allowed"
    assert "is longer than 2048 characters" in callback.text
    assert "is longer than 2048 characters" in image.text
