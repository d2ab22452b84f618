"""OpenAI's video routes against the app in this process with no workers (CONTRACT.md 3):
every refusal with its exact status, `error.type`, `error.code` and `error.param`; paging;
delete and cancel semantics of videos that never start. Rendering is in test_openai_render.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from tests.support.inprocess import InProcessServer, running
from tests.support.server import API_KEY, OTHER_KEY, seed_body

MIB = 1024 * 1024
PNG_HEADER = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"
)
BAD = "invalid_request_error"


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """No workers, and limits high enough for many refusals in a row from one address."""
    with running(
        tmp_path_factory.mktemp("openai-quiet"),
        workers=0,
        rate_per_minute=100000,
        rate_burst=10000,
        auth_failures_per_minute=10000,
    ) as app:
        yield app


def assert_error(
    response: httpx.Response, status: int, error_type: str, code: str, param: str | None = None
) -> str:
    """The OpenAI error envelope with these fields; returns the message."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"], error["param"]) == (error_type, code, param)
    assert error["message"].endswith(f"(request id: {response.headers['x-request-id']})")
    message: str = error["message"]
    return message


def create(app: InProcessServer, key: str = API_KEY, **fields: Any) -> dict[str, Any]:
    with app.client(key) as client:
        response = client.post("/v1/videos", json={"prompt": "a lighthouse at dusk", **fields})
    assert response.status_code == 200, response.text
    video: dict[str, Any] = response.json()
    return video


MISSING = "missing_required_parameter"
REF = "input_reference"


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({}, MISSING, "prompt"),
        ({"prompt": "   "}, "invalid_value", "prompt"),
        ({"prompt": "x" * 1001}, "invalid_value", "prompt"),
        ({"prompt": "a\x00b"}, "invalid_value", "prompt"),
        ({"prompt": 7}, "invalid_type", "prompt"),
        ({"prompt": "x", "seconds": 4}, "invalid_type", "seconds"),
        ({"prompt": "x", "seconds": "5"}, "invalid_value", "seconds"),
        ({"prompt": "x", "seconds": "10"}, "invalid_value", "seconds"),
        ({"prompt": "x", "size": "1280:720"}, "invalid_value", "size"),
        ({"prompt": "x", "size": "640x480"}, "invalid_value", "size"),
        ({"prompt": "x", "model": "gen9"}, "invalid_value", "model"),
        ({"prompt": "x", "style": "noir"}, "unknown_parameter", "style"),
        ({"prompt": "x", REF: "https://e.com/a.png"}, "invalid_type", REF),
        ({"prompt": "x", REF: {"file_id": "file-1"}}, "unsupported_value", f"{REF}.file_id"),
        ({"prompt": "x", REF: {}}, MISSING, f"{REF}.image_url"),
        ({"prompt": "x", REF: {"url": "x"}}, "unknown_parameter", f"{REF}.url"),
    ],
)
def test_bad_json_create_names_the_parameter(
    quiet: InProcessServer, body: dict[str, Any], code: str, param: str
) -> None:
    with quiet.client() as client:
        response = client.post("/v1/videos", json=body)
    assert_error(response, 400, BAD, code, param)


def test_unknown_model_lists_the_models(quiet: InProcessServer) -> None:
    with quiet.client() as client:
        response = client.post("/v1/videos", json={"prompt": "x", "model": "gen9"})
    assert "sora-2" in assert_error(response, 400, BAD, "invalid_value", "model")


@pytest.mark.parametrize(
    "url", ["http://example.com/cat.png", "https://10.1.2.3/cat.png", "file:///etc/passwd"]
)
def test_refused_image_url_is_url_not_allowed(quiet: InProcessServer, url: str) -> None:
    with quiet.client() as client:
        response = client.post(
            "/v1/videos", json={"prompt": "x", "input_reference": {"image_url": url}}
        )
    assert_error(response, 400, BAD, "url_not_allowed", "input_reference.image_url")


@pytest.mark.parametrize(
    ("content", "code"), [(b"{not json", "invalid_json"), (b"[1, 2]", "invalid_type")]
)
def test_body_that_is_not_a_json_object(quiet: InProcessServer, content: bytes, code: str) -> None:
    with quiet.client() as client:
        response = client.post(
            "/v1/videos", content=content, headers={"Content-Type": "application/json"}
        )
    assert_error(response, 400, BAD, code)


TEXT_FILE = ("notes.txt", b"just text\n" * 20, "text/plain")
PNG_FILE = ("a.png", PNG_HEADER, "image/png")


@pytest.mark.parametrize(
    ("parts", "code", "param"),
    [
        ([(REF, PNG_FILE)], MISSING, "prompt"),
        ([("prompt", "x"), ("seconds", "5")], "invalid_value", "seconds"),
        ([("prompt", "x"), ("size", "1280x720"), ("size", "720x1280")], "invalid_value", "size"),
        ([("prompt", "x"), (REF, TEXT_FILE)], "invalid_image", REF),
        ([("prompt", "x"), (REF, ("a.png", b"", "image/png"))], "invalid_image", REF),
        ([("prompt", "x"), (REF, "https://e.com/a.png")], "invalid_type", REF),
        ([("prompt", "x"), ("size", TEXT_FILE)], "invalid_type", "size"),
        ([("prompt", "x"), ("character_ids[]", "c1")], "unknown_parameter", "character_ids[]"),
    ],
    ids=["no-prompt", "seconds", "twice", "text-file", "empty-file", "url-text", "file", "extra"],
)
def test_bad_multipart_create_names_the_parameter(
    quiet: InProcessServer, parts: list[tuple[str, Any]], code: str, param: str
) -> None:
    files = [(name, (None, v) if isinstance(v, str) else v) for name, v in parts]
    with quiet.client() as client:
        response = client.post("/v1/videos", files=files)
    assert response.request.headers["content-type"].startswith("multipart/form-data")
    assert_error(response, 400, BAD, code, param)


def test_multipart_image_over_16_mib_is_request_too_large(quiet: InProcessServer) -> None:
    image = PNG_HEADER + b"\x00" * (16 * MIB + 10 - len(PNG_HEADER))
    with quiet.client() as client:
        response = client.post(
            "/v1/videos",
            data={"prompt": "x"},
            files={"input_reference": ("big.png", image, "image/png")},
        )
    assert_error(response, 413, BAD, "request_too_large", "input_reference")


def test_multipart_body_over_17_mib_is_request_too_large(quiet: InProcessServer) -> None:
    image = PNG_HEADER + b"\x00" * (18 * MIB)
    with quiet.client() as client:
        response = client.post(
            "/v1/videos",
            data={"prompt": "x"},
            files={"input_reference": ("huge.png", image, "image/png")},
        )
    assert_error(response, 413, BAD, "request_too_large")


def test_json_body_over_1_mib_is_request_too_large(quiet: InProcessServer) -> None:
    with quiet.client() as client:
        response = client.post("/v1/videos", json={"prompt": "x" * (MIB + 1)})
    assert_error(response, 413, BAD, "request_too_large")


ROUTES = [
    ("POST", "/v1/videos", {"prompt": "x"}),
    ("GET", "/v1/videos", None),
    ("GET", "/v1/videos/{id}", None),
    ("DELETE", "/v1/videos/{id}", None),
    ("GET", "/v1/videos/{id}/content", None),
    ("POST", "/v1/videos/{id}/remix", {"prompt": "x"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize("key", [None, "rg_not_a_key"], ids=["missing", "unknown"])
def test_every_route_needs_a_valid_key(
    quiet: InProcessServer, method: str, path: str, body: Any, key: str | None
) -> None:
    video_id = create(quiet)["id"]
    with quiet.client(key) as client:
        response = client.request(method, path.format(id=video_id), json=body)
    assert_error(response, 401, "authentication_error", "invalid_api_key")


def test_bad_key_is_401_before_the_body_is_judged(quiet: InProcessServer) -> None:
    with quiet.client("rg_not_a_key") as client:
        response = client.post("/v1/videos", json={"seconds": 4})
    assert_error(response, 401, "authentication_error", "invalid_api_key")


@pytest.mark.parametrize(("method", "path", "body"), ROUTES[2:])
@pytest.mark.parametrize("whose", ["unknown", "not-a-uuid", "other-key"])
def test_unknown_or_foreign_video_is_404(
    quiet: InProcessServer, method: str, path: str, body: Any, whose: str
) -> None:
    video_id = {
        "unknown": str(uuid.uuid4()),
        "not-a-uuid": "video_123",
        "other-key": create(quiet, OTHER_KEY)["id"],
    }[whose]
    with quiet.client() as client:
        response = client.request(method, path.format(id=video_id), json=body)
    assert_error(response, 404, "not_found_error", "video_not_found")


@pytest.mark.parametrize(
    ("query", "code", "param"),
    [
        ("limit=0", "invalid_value", "limit"),
        ("limit=101", "invalid_value", "limit"),
        ("limit=ten", "invalid_type", "limit"),
        ("order=newest", "invalid_value", "order"),
    ],
)
def test_bad_list_parameters(quiet: InProcessServer, query: str, code: str, param: str) -> None:
    with quiet.client() as client:
        assert_error(client.get(f"/v1/videos?{query}"), 400, BAD, code, param)


def test_content_of_a_video_that_is_not_completed_is_400(quiet: InProcessServer) -> None:
    video_id = create(quiet)["id"]
    with quiet.client() as client:
        response = client.get(f"/v1/videos/{video_id}/content")
        assert_error(response, 400, BAD, "video_not_completed")
        response = client.get(f"/v1/videos/{video_id}/content?variant=spritesheet")
        assert_error(response, 400, BAD, "invalid_value", "variant")


def test_remix_needs_a_prompt(quiet: InProcessServer) -> None:
    video_id = create(quiet)["id"]
    with quiet.client() as client:
        response = client.post(f"/v1/videos/{video_id}/remix", json={})
        assert_error(response, 400, BAD, "missing_required_parameter", "prompt")
        response = client.post(f"/v1/videos/{video_id}/remix", json={"prompt": "x", "seed": 1})
        assert_error(response, 400, BAD, "unknown_parameter", "seed")


def test_wrong_method_is_405(quiet: InProcessServer) -> None:
    video_id = create(quiet)["id"]
    with quiet.client() as client:
        response = client.put(f"/v1/videos/{video_id}", json={"prompt": "x"})
    assert_error(response, 405, BAD, "method_not_allowed")


def test_created_video_object(quiet: InProcessServer) -> None:
    video = create(quiet, seconds="8", size="1792x1024", model="sora-2-pro")
    assert uuid.UUID(video["id"]).version == 4
    assert video == {
        "id": video["id"],
        "object": "video",
        "model": "sora-2-pro",
        "status": "queued",
        "progress": 0,
        "created_at": video["created_at"],
        "completed_at": None,
        "expires_at": None,
        "prompt": "a lighthouse at dusk",
        "seconds": "8",
        "size": "1792x1024",
        "remixed_from_video_id": None,
        "error": None,
    }
    defaults = create(quiet)
    assert (defaults["model"], defaults["seconds"], defaults["size"]) == ("sora-2", "4", "720x1280")


def test_idempotency_key_replays_json_and_multipart_creates(quiet: InProcessServer) -> None:
    png = _png()
    with quiet.client() as client:

        def upload(key: str, image: bytes) -> httpx.Response:
            return client.post(
                "/v1/videos",
                data={"prompt": "x"},
                files={"input_reference": ("a.png", image, "image/png")},
                headers={"Idempotency-Key": key},
            )

        first = client.post("/v1/videos", json={"prompt": "x"}, headers={"Idempotency-Key": "j1"})
        again = client.post("/v1/videos", json={"prompt": "x"}, headers={"Idempotency-Key": "j1"})
        assert first.json()["id"] == again.json()["id"]
        changed = client.post("/v1/videos", json={"prompt": "y"}, headers={"Idempotency-Key": "j1"})
        assert_error(changed, 422, BAD, "idempotency_key_reused", "Idempotency-Key")
        assert upload("m1", png).json()["id"] == upload("m1", png).json()["id"]
        other_image = upload("m1", _png(color=(0, 0, 255)))
        assert_error(other_image, 422, BAD, "idempotency_key_reused", "Idempotency-Key")
    uploads = list((quiet.data_dir / "blobs" / "inputs").iterdir())
    assert len(uploads) == 1, "a replayed upload must not leave a second copy behind"


def test_list_pages_with_after_limit_and_order(quiet: InProcessServer) -> None:
    mine = [create(quiet, OTHER_KEY, prompt=f"page {n}")["id"] for n in range(5)]
    with quiet.client(OTHER_KEY) as client:

        def walk(order: str) -> list[str]:
            seen: list[str] = []
            after: str | None = None
            while True:
                params: dict[str, Any] = {"limit": 2, "order": order}
                if after is not None:
                    params["after"] = after
                page = client.get("/v1/videos", params=params).json()
                assert page["object"] == "list"
                ids = [v["id"] for v in page["data"]]
                assert (page["first_id"], page["last_id"]) == (ids[0], ids[-1])
                seen += ids
                if not page["has_more"]:
                    return seen
                assert len(ids) == 2
                after = page["last_id"]

        newest_first = walk("desc")
        everything = client.get("/v1/videos", params={"limit": 100}).json()
        assert everything["has_more"] is False
        assert [v["id"] for v in everything["data"]] == newest_first
        assert walk("asc") == newest_first[::-1]
        assert [i for i in newest_first if i in mine] == mine[::-1]
        default = client.get("/v1/videos").json()
        assert [v["id"] for v in default["data"]] == newest_first[:20]
        unknown = client.get("/v1/videos", params={"after": str(uuid.uuid4())}).json()
        assert unknown == {
            "object": "list",
            "data": [],
            "first_id": None,
            "last_id": None,
            "has_more": False,
        }
    with quiet.client(API_KEY) as client:
        listed = client.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert not set(mine) & {v["id"] for v in listed}, "another key's videos were listed"


def test_delete_of_a_queued_video_cancels_and_deletes_it(quiet: InProcessServer) -> None:
    video_id = create(quiet)["id"]
    with quiet.client() as client:
        response = client.delete(f"/v1/videos/{video_id}")
        assert response.status_code == 200, response.text
        assert response.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
        assert_error(
            client.get(f"/v1/videos/{video_id}"), 404, "not_found_error", "video_not_found"
        )
        again = client.delete(f"/v1/videos/{video_id}")
        assert_error(again, 404, "not_found_error", "video_not_found")


def test_cancelled_video_is_failed_with_code_cancelled(quiet: InProcessServer) -> None:
    video_id = create(quiet)["id"]
    with quiet.client() as client:
        assert client.post(f"/admin/tasks/{video_id}/cancel").status_code == 200
        video = client.get(f"/v1/videos/{video_id}").json()
    assert video["status"] == "failed"
    assert video["error"]["code"] == "cancelled"
    assert video["completed_at"] >= video["created_at"]
    assert video["expires_at"] is None


def test_cometapi_task_reads_as_a_video_and_a_video_reads_in_the_feed(
    quiet: InProcessServer,
) -> None:
    with quiet.client() as client:
        body = seed_body("https://example.com/hook", ratio="21:9")
        task_id = client.post("/runway/pro/generate", json=body).json()["data"]["task_id"]
        video = client.get(f"/v1/videos/{task_id}").json()
        assert (video["id"], video["status"], video["model"]) == (task_id, "queued", "gen4")
        assert (video["seconds"], video["size"], video["prompt"]) == ("10", "1584x672", "a cat")
        video_id = create(quiet)["id"]
        feed = client.post("/runway/feed", json={"task_id": video_id}).json()["data"]
    assert (feed["task_id"], feed["status"], feed["action"]) == (
        video_id,
        "QUEUED",
        "TEXT_TO_VIDEO",
    )


def _png(color: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    ok, encoded = cv2.imencode(".png", np.full((64, 64, 3), color, np.uint8))
    assert ok
    return bytes(encoded.tobytes())
