"""The official `openai` SDK (`client.videos`) against the app in this process, changed only in
`base_url`, key and transport (CONTRACT.md 3): what a client written for OpenAI does, start to
finish. The SDK is built on `httpx2`; its client gets the in-process transport for `httpx2`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx2
import numpy as np
import openai
import pytest
from openai import OpenAI

from reelgate.media.probe import probe
from tests.support.inprocess import InProcessServer, running
from tests.support.server import API_KEY

# The SDK marks the Sora methods deprecated (OpenAI's service shuts down in 2026; ours does not).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning"),
]

POLL_MS = 200


@pytest.fixture(scope="module")
def sdk_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    """Two workers, so the few clips of this module render side by side."""
    with running(tmp_path_factory.mktemp("openai-sdk"), workers=2, shutdown_grace_seconds=0) as app:
        yield app


def _sdk(app: InProcessServer, key: str) -> OpenAI:
    http = httpx2.Client(transport=app.httpx2_transport())
    return OpenAI(api_key=key, base_url=app.base_url + "/v1", max_retries=0, http_client=http)


@pytest.fixture
def client(sdk_app: InProcessServer) -> Iterator[OpenAI]:
    with _sdk(sdk_app, API_KEY) as sdk:
        yield sdk


def test_create_poll_download_and_retrieve(client: OpenAI, tmp_path: Path) -> None:
    video = client.videos.create_and_poll(
        prompt="a paper boat on a pond", seconds="4", size="720x1280", poll_interval_ms=POLL_MS
    )
    assert video.status == "completed", video.error
    assert (video.model, video.seconds, video.size, video.progress) == (
        "sora-2",
        "4",
        "720x1280",
        100,
    )
    assert video.completed_at is not None
    assert video.expires_at is not None
    assert video.expires_at > video.completed_at

    content = client.videos.download_content(video.id, variant="video")
    content.write_to_file(tmp_path / "boat.mp4")
    info = probe(tmp_path / "boat.mp4")
    assert (info.codec, info.width, info.height, info.frames) == ("h264", 720, 1280, 96)
    assert float(info.fps) == 24.0

    thumbnail = client.videos.download_content(video.id, variant="thumbnail")
    assert thumbnail.response.headers["content-type"] == "image/jpeg"
    still = cv2.imdecode(np.frombuffer(thumbnail.content, np.uint8), cv2.IMREAD_COLOR)
    assert still is not None
    assert still.shape == (1280, 720, 3)

    again = client.videos.retrieve(video.id)
    assert again.model_dump() == video.model_dump()


def test_image_to_video_from_an_uploaded_png(client: OpenAI, tmp_path: Path) -> None:
    picture = np.full((720, 1280, 3), (40, 160, 40), np.uint8)  # BGR green
    path = tmp_path / "meadow.png"
    assert cv2.imwrite(str(path), picture)
    with path.open("rb") as image:
        video = client.videos.create(
            prompt="wind over a meadow", input_reference=image, size="1280x720"
        )
    assert video.status == "queued"
    done = client.videos.poll(video.id, poll_interval_ms=POLL_MS)
    assert done.status == "completed", done.error
    client.videos.download_content(done.id).write_to_file(tmp_path / "meadow.mp4")
    info = probe(tmp_path / "meadow.mp4")
    assert (info.width, info.height, info.frames) == (1280, 720, 96)


def test_list_auto_pages_and_delete(client: OpenAI) -> None:
    created = [client.videos.create(prompt=f"clip {n}").id for n in range(3)]
    listed = [v.id for v in client.videos.list(limit=1)]  # one video per page: auto-paging
    assert [i for i in listed if i in created] == created[::-1]
    oldest_first = [v.id for v in client.videos.list(limit=2, order="asc")]
    assert oldest_first == listed[::-1]
    page = client.videos.list(limit=2)
    assert page.has_more is True
    assert len(page.data) == 2
    for video_id in created:
        deleted = client.videos.delete(video_id)
        assert (deleted.id, deleted.deleted, deleted.object) == (video_id, True, "video.deleted")
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(created[0])
    assert not set(created) & {v.id for v in client.videos.list(limit=100)}


def test_remix_records_its_source(client: OpenAI) -> None:
    source = client.videos.create(prompt="a kite", seconds="4", size="1280x720")
    remix = client.videos.remix(source.id, prompt="a kite at sunset")
    assert remix.id != source.id
    assert remix.remixed_from_video_id == source.id
    assert (remix.seconds, remix.size, remix.prompt) == ("4", "1280x720", "a kite at sunset")
    done = client.videos.poll(remix.id, poll_interval_ms=POLL_MS)
    assert done.status == "completed", done.error
    assert done.remixed_from_video_id == source.id


@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({"seconds": "5"}, "seconds", "invalid_value"),
        ({"size": "640x480"}, "size", "invalid_value"),
        ({"model": "dall-e-9"}, "model", "invalid_value"),
        ({"prompt": ""}, "prompt", "invalid_value"),
    ],
)
def test_bad_requests_raise_bad_request_error(
    client: OpenAI, fields: dict[str, Any], param: str, code: str
) -> None:
    arguments: dict[str, Any] = {"prompt": "a kite", **fields}
    with pytest.raises(openai.BadRequestError) as raised:
        client.videos.create(**arguments)
    error = raised.value
    assert (error.status_code, error.param, error.code, error.type) == (
        400,
        param,
        code,
        "invalid_request_error",
    )


def test_text_file_as_input_reference_is_bad_request(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.videos.create(prompt="x", input_reference=("notes.txt", b"hello", "text/plain"))
    assert (raised.value.param, raised.value.code) == ("input_reference", "invalid_image")


def test_unknown_key_raises_authentication_error(sdk_app: InProcessServer) -> None:
    with (
        _sdk(sdk_app, "sk-not-ours") as stranger,
        pytest.raises(openai.AuthenticationError) as raised,
    ):
        stranger.videos.list()
    assert raised.value.code == "invalid_api_key"


def test_unknown_video_raises_not_found_error(client: OpenAI) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for call in (
        lambda: client.videos.retrieve(missing),
        lambda: client.videos.delete(missing),
        lambda: client.videos.download_content(missing),
        lambda: client.videos.remix(missing, prompt="x"),
    ):
        with pytest.raises(openai.NotFoundError) as raised:
            call()
        assert raised.value.code == "video_not_found"
