"""The official `runwayml` SDK, unchanged but for its base URL and transport (its `http_client`
carries the in-process one), against the app in this process.

The client validates every answer strictly against the SDK's own response types, so a missing or
mistyped member fails here. `wait_for_task_output` polls every 6 ± 1.5 s: clips stay short.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from runwayml import AuthenticationError, BadRequestError, NotFoundError, RunwayML
from runwayml.lib.polling import TaskFailedError
from runwayml.types import TaskRetrieveResponse

from reelgate.media.probe import decode_frames, probe
from tests.support.inprocess import InProcessServer
from tests.support.server import API_KEY
from tests.support.waiting import wait_until

SDK_TIMEOUT_SECONDS = 60.0


def _client(app: InProcessServer, key: str = API_KEY, mount: str = "") -> RunwayML:
    return RunwayML(
        api_key=key,
        base_url=app.base_url + mount,
        max_retries=0,
        http_client=app.client(None),
        _strict_response_validation=True,
    )


@pytest.fixture
def client(rendering_app: InProcessServer) -> Iterator[RunwayML]:
    with _client(rendering_app) as sdk:
        yield sdk


def _png_data_uri() -> str:
    """A 320x320 picture: red left half, blue right half."""
    image = np.zeros((320, 320, 3), np.uint8)
    image[:, :160] = (40, 40, 220)  # BGR
    image[:, 160:] = (220, 40, 40)
    ok, png = cv2.imencode(".png", image)
    assert ok
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()


def _download(app: InProcessServer, task: TaskRetrieveResponse, target: Path) -> Path:
    assert task.status == "SUCCEEDED"
    [url] = task.output
    with app.client(None) as anonymous:  # signed links need no API key
        response = anonymous.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    target.write_bytes(response.content)
    return target


def test_text_to_video_waits_for_a_real_video(
    rendering_app: InProcessServer, client: RunwayML, tmp_path: Path
) -> None:
    created = client.text_to_video.create(
        model="gen4.5", prompt_text="a dog in a snowy forest", ratio="720:1280", duration=2
    )
    task = created.wait_for_task_output(timeout=SDK_TIMEOUT_SECONDS)
    assert task.id == created.id
    assert task.status == "SUCCEEDED"
    info = probe(_download(rendering_app, task, tmp_path / "t2v.mp4"))
    assert (info.codec, info.width, info.height, info.frames) == ("h264", 720, 1280, 2 * 24)
    assert float(info.fps) == 24.0
    again = client.tasks.retrieve(created.id)
    assert again.status == "SUCCEEDED"
    assert again.created_at == task.created_at
    assert again.cost.credits == 0


def test_image_to_video_with_a_data_uri_starts_from_the_image(
    rendering_app: InProcessServer, client: RunwayML, tmp_path: Path
) -> None:
    created = client.image_to_video.create(
        model="gen4_turbo",
        prompt_image=[{"uri": _png_data_uri(), "position": "first"}],
        ratio="960:960",
        duration=2,
        seed=42,
    )
    task = created.wait_for_task_output(timeout=SDK_TIMEOUT_SECONDS)
    video = _download(rendering_app, task, tmp_path / "i2v.mp4")
    info = probe(video)
    assert (info.width, info.height, info.frames) == (960, 960, 2 * 24)
    first = next(decode_frames(video)).astype(float)  # RGB; the generator closes the file
    left, right = first[:, :400].mean(axis=(0, 1)), first[:, 560:].mean(axis=(0, 1))
    assert left[0] > left[2] + 80, f"left half should be red, got {left}"
    assert right[2] > right[0] + 80, f"right half should be blue, got {right}"


def test_an_image_that_cannot_be_decoded_raises_task_failed(client: RunwayML) -> None:
    created = client.image_to_video.create(
        model="gen4_turbo",
        prompt_image="data:image/png;base64," + base64.b64encode(b"not a png").decode(),
        ratio="960:960",
        duration=2,
    )
    with pytest.raises(TaskFailedError) as failed:
        created.wait_for_task_output(timeout=SDK_TIMEOUT_SECONDS)
    details = failed.value.task_details
    assert details.status == "FAILED"
    assert details.failure_code == "ASSET.INVALID"


def test_delete_cancels_a_running_task(client: RunwayML) -> None:
    created = client.text_to_video.create(
        model="gen4.5", prompt_text="a boat on the ocean", ratio="1280:720", duration=10
    )
    task = _poll(client, created.id, ("RUNNING",))
    assert task.status == "RUNNING"
    assert 0 <= task.progress < 1
    client.tasks.delete(created.id)
    assert _poll(client, created.id, ("CANCELLED",)).status == "CANCELLED"


def test_tasks_are_readable_through_the_cometapi_mount(rendering_app: InProcessServer) -> None:
    with _client(rendering_app, mount="/runwayml") as sdk:
        created = sdk.text_to_video.create(
            model="gen4.5", prompt_text="a cat", ratio="1280:720", duration=2
        )
        task = sdk.tasks.retrieve(created.id)
        assert task.id == created.id
        assert task.status in ("PENDING", "RUNNING", "SUCCEEDED")
        _poll(sdk, created.id, ("SUCCEEDED",))


def test_documented_errors_raise_the_sdk_exceptions(rendering_app: InProcessServer) -> None:
    bad_ratio: Any = "16:9"
    with _client(rendering_app) as sdk:
        with pytest.raises(BadRequestError) as bad:
            sdk.text_to_video.create(
                model="gen4.5", prompt_text="a cat", ratio=bad_ratio, duration=5
            )
        with pytest.raises(NotFoundError) as missing:
            sdk.tasks.retrieve(str(uuid.uuid4()))
    stranger = _client(rendering_app, key="key_" + "0" * 128)
    with stranger, pytest.raises(AuthenticationError):
        stranger.tasks.retrieve(str(uuid.uuid4()))
    assert isinstance(bad.value.body, dict)
    assert bad.value.body["error"].startswith("ratio: must be one of 1280:720")
    assert bad.value.body["issues"][0]["path"] == ["ratio"]
    assert missing.value.status_code == 404


def _poll(client: RunwayML, task_id: str, statuses: tuple[str, ...]) -> TaskRetrieveResponse:
    seen: list[TaskRetrieveResponse] = []

    def reached() -> bool:
        seen.append(client.tasks.retrieve(task_id))
        return seen[-1].status in statuses

    wait_until(
        reached,
        SDK_TIMEOUT_SECONDS,
        interval=0.1,
        what=lambda: f"task {task_id} to reach {statuses}; last {seen[-1:]}",
    )
    return seen[-1]


@pytest.fixture(autouse=True)
def _fail_with_app_tracebacks(rendering_app: InProcessServer) -> Iterator[None]:
    yield
    if rendering_app.tracebacks():
        pytest.fail(f"the app logged a traceback:\n{rendering_app.tracebacks()[-4000:]}")
