"""OpenAI's video routes end to end against the app in this process, rendering (CONTRACT.md 3):
content downloads probed frame by frame, image-to-video from a multipart upload, remix lineage,
delete of finished and running videos, and tasks shared with the CometAPI dialect.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from reelgate.media.probe import decode_frames, probe
from tests.api.test_openai_dialect import assert_error
from tests.support.inprocess import InProcessServer
from tests.support.receiver import Receiver
from tests.support.server import seed_body, wait_for_feed
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

RETENTION_SECONDS = 7 * 86_400  # the default REELGATE_RETENTION_DAYS


def create(app: InProcessServer, **fields: Any) -> dict[str, Any]:
    with app.client() as client:
        response = client.post("/v1/videos", json={"prompt": "a fox in snow", **fields})
    assert response.status_code == 200, response.text
    video: dict[str, Any] = response.json()
    return video


def wait(app: InProcessServer, video_id: str, timeout: float = 90.0) -> list[dict[str, Any]]:
    """Poll GET /v1/videos/{id} until it is completed or failed; every object seen."""
    seen: list[dict[str, Any]] = []
    with app.client() as client:

        def finished() -> bool:
            response = client.get(f"/v1/videos/{video_id}")
            assert response.status_code == 200, response.text
            seen.append(response.json())
            return seen[-1]["status"] in ("completed", "failed")

        wait_until(finished, timeout, interval=0.2, what=lambda: f"video {video_id}: {seen[-1:]}")
    return seen


def download(app: InProcessServer, video_id: str, variant: str, target: Path) -> Path:
    with app.client() as client:
        response = client.get(f"/v1/videos/{video_id}/content", params={"variant": variant})
    assert response.status_code == 200, response.text
    target.write_bytes(response.content)
    return target


def assert_clip(path: Path, width: int, height: int, seconds: int) -> None:
    info = probe(path)
    assert (info.codec, info.width, info.height, info.pix_fmt) == ("h264", width, height, "yuv420p")
    assert float(info.fps) == 24.0
    assert info.frames == seconds * 24


def test_text_to_video_completes_and_downloads(
    rendering_app: InProcessServer, tmp_path: Path
) -> None:
    video = create(rendering_app, seconds="4", size="720x1280")
    seen = wait(rendering_app, video["id"])
    final = seen[-1]
    assert final["status"] == "completed", final
    assert final["progress"] == 100
    assert final["error"] is None
    percents = [v["progress"] for v in seen]
    assert percents == sorted(percents), "progress went backwards"
    assert {v["status"] for v in seen} <= {"queued", "in_progress", "completed"}
    assert final["created_at"] <= final["completed_at"]
    assert abs(final["expires_at"] - final["completed_at"] - RETENTION_SECONDS) <= 1

    assert_clip(download(rendering_app, video["id"], "video", tmp_path / "v.mp4"), 720, 1280, 4)
    with rendering_app.client() as client:
        response = client.get(f"/v1/videos/{video['id']}/content")  # variant defaults to video
        assert response.headers["content-type"] == "video/mp4"
        assert response.content == (tmp_path / "v.mp4").read_bytes()
        thumbnail = client.get(f"/v1/videos/{video['id']}/content?variant=thumbnail")
    assert thumbnail.status_code == 200
    assert thumbnail.headers["content-type"] == "image/jpeg"
    assert thumbnail.content.startswith(b"\xff\xd8\xff")
    (tmp_path / "t.jpg").write_bytes(thumbnail.content)
    with av.open(str(tmp_path / "t.jpg")) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (720, 1280)


def test_image_to_video_from_a_multipart_png(
    rendering_app: InProcessServer, tmp_path: Path
) -> None:
    """The uploaded picture is the first frame: left half red, right half blue."""
    image = np.zeros((720, 1280, 3), np.uint8)
    image[:, :640] = (0, 0, 255)  # BGR red
    image[:, 640:] = (255, 0, 0)  # BGR blue
    ok, png = cv2.imencode(".png", image)
    assert ok
    with rendering_app.client() as client:
        response = client.post(
            "/v1/videos",
            data={"prompt": "the flag waves", "size": "1280x720", "seconds": "4"},
            files={"input_reference": ("flag.png", png.tobytes(), "image/png")},
        )
        assert response.status_code == 200, response.text
        video_id = response.json()["id"]
        feed = client.post("/runway/feed", json={"task_id": video_id}).json()["data"]
    assert feed["action"] == "IMAGE_TO_VIDEO"
    final = wait(rendering_app, video_id)[-1]
    assert final["status"] == "completed", final
    path = download(rendering_app, video_id, "video", tmp_path / "i2v.mp4")
    assert_clip(path, 1280, 720, 4)
    first = next(decode_frames(path)).astype(int)
    left, right = first[300:420, 200:440].mean(axis=(0, 1)), first[300:420, 840:1080].mean((0, 1))
    assert np.abs(left - (255, 0, 0)).max() < 60, f"left half is not red: {left}"
    assert np.abs(right - (0, 0, 255)).max() < 60, f"right half is not blue: {right}"


def test_remix_keeps_the_settings_and_records_its_lineage(
    rendering_app: InProcessServer, tmp_path: Path
) -> None:
    original = create(rendering_app, seconds="4", size="1280x720", model="sora-2-pro")
    with rendering_app.client() as client:
        response = client.post(f"/v1/videos/{original['id']}/remix", json={"prompt": "at night"})
        assert response.status_code == 200, response.text
        remix = response.json()
        again = client.post(f"/v1/videos/{remix['id']}/remix", json={"prompt": "in rain"}).json()
    assert remix["id"] != original["id"]
    assert remix["remixed_from_video_id"] == original["id"]
    assert again["remixed_from_video_id"] == remix["id"]
    assert (remix["prompt"], remix["model"], remix["seconds"], remix["size"]) == (
        "at night",
        "sora-2-pro",
        "4",
        "1280x720",
    )
    for video in (original, remix, again):
        assert wait(rendering_app, video["id"])[-1]["status"] == "completed"
    assert_clip(download(rendering_app, remix["id"], "video", tmp_path / "r.mp4"), 1280, 720, 4)
    with rendering_app.client() as client:
        assert (
            client.get(f"/v1/videos/{again['id']}").json()["remixed_from_video_id"] == remix["id"]
        )


def test_delete_of_a_completed_video_removes_it_and_its_files(
    rendering_app: InProcessServer,
) -> None:
    video_id = create(rendering_app)["id"]
    assert wait(rendering_app, video_id)[-1]["status"] == "completed"
    files = rendering_app.data_dir / "blobs" / "tasks" / video_id
    assert any(files.rglob("video.mp4"))
    with rendering_app.client() as client:
        response = client.delete(f"/v1/videos/{video_id}")
        assert response.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
        for path in (f"/v1/videos/{video_id}", f"/v1/videos/{video_id}/content"):
            assert_error(client.get(path), 404, "not_found_error", "video_not_found")
        listed = client.get("/v1/videos", params={"limit": 100}).json()["data"]
    assert video_id not in {v["id"] for v in listed}
    assert not files.exists()


def test_delete_of_a_running_video_stops_and_deletes_it(rendering_app: InProcessServer) -> None:
    video_id = create(rendering_app, seconds="12", size="1792x1024")["id"]
    with rendering_app.client() as client:
        wait_until(
            lambda: client.get(f"/v1/videos/{video_id}").json()["status"] != "queued",
            60,
            interval=0.1,
            what="the video to start",
        )
        started = time.monotonic()
        response = client.delete(f"/v1/videos/{video_id}")
        took = time.monotonic() - started
        assert response.status_code == 200, response.text
        assert response.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
        assert took < 5, f"delete waited {took:.1f}s for the render to stop"
        assert_error(
            client.get(f"/v1/videos/{video_id}"), 404, "not_found_error", "video_not_found"
        )
    assert not (rendering_app.data_dir / "blobs" / "tasks" / video_id).exists()


def test_cometapi_task_renders_and_downloads_through_openai_routes(
    rendering_app: InProcessServer, receiver: Receiver, tmp_path: Path
) -> None:
    body = seed_body(receiver.url)
    body["options"]["seconds"] = 5
    with rendering_app.client() as client:
        task_id = client.post("/runway/pro/generate", json=body).json()["data"]["task_id"]
    final = wait(rendering_app, task_id)[-1]
    assert final["status"] == "completed", final
    assert (final["model"], final["seconds"], final["size"]) == ("gen4", "5", "1280x720")
    assert_clip(download(rendering_app, task_id, "video", tmp_path / "c.mp4"), 1280, 720, 5)

    video_id = create(rendering_app)["id"]
    with rendering_app.client() as client:
        feed = wait_for_feed(client, video_id)[-1]
    assert feed["status"] == "SUCCESS"
    assert feed["result_url"] == feed["data"]["video_url"]
