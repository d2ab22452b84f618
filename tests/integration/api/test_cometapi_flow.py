"""The seed's API end to end: create, poll, download, probe, callback (CONTRACT.md 1)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from reelgate.media.probe import decode_frames, probe
from tests.support.inprocess import InProcessServer
from tests.support.receiver import Receiver
from tests.support.server import seed_body, wait_for_feed


def _create(app: InProcessServer, body: dict[str, Any]) -> str:
    with app.client() as client:
        response = client.post(
            "/runway/pro/generate", json=body, headers={"X-Runway-Version": "2024-11-06"}
        )
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["code"] == 200
    assert created["msg"] == "成功"
    assert isinstance(created["exec_time"], float)
    assert response.headers["x-runway-version"] == "2024-11-06"
    task_id: str = created["data"]["task_id"]
    assert uuid.UUID(task_id).version == 4
    return task_id


def _download(app: InProcessServer, url: str, target: Path) -> Path:
    with app.client(key=None) as client:  # signed links need no API key
        response = client.get(url)
    assert response.status_code == 200, response.text
    target.write_bytes(response.content)
    return target


def test_seed_request_renders_a_real_video_and_signed_callback(
    rendering_app: InProcessServer, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.secret = rendering_app.webhook_secret  # checked as each delivery arrives
    task_id = _create(rendering_app, seed_body(receiver.url))
    with rendering_app.client() as client:
        seen = wait_for_feed(client, task_id)
    final = seen[-1]
    assert final["status"] == "SUCCESS", final
    assert final["action"] == "TEXT_TO_VIDEO"
    assert final["progress"] == "100%"
    assert final["fail_reason"] == ""
    assert final["submit_time"] <= final["start_time"] <= final["finish_time"]
    percents = [int(d["progress"].rstrip("%")) for d in seen]
    assert percents == sorted(percents), "progress went backwards"
    inner = final["data"]
    assert inner["id"] == task_id
    assert inner["status"] == "SUCCEEDED"
    assert inner["output"] == [inner["video_url"]] == [final["result_url"]]

    video = _download(rendering_app, inner["video_url"], tmp_path / "out.mp4")
    info = probe(video)
    assert (info.codec, info.width, info.height) == ("h264", 1280, 720)
    assert info.pix_fmt == "yuv420p"
    assert float(info.fps) == 24.0
    assert info.frames == 240
    poster = _download(rendering_app, inner["poster"], tmp_path / "poster.jpg")
    with av.open(str(poster)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (1280, 720)

    hooks = receiver.wait_for(1, timeout=60)
    assert len(hooks) == 1, f"expected one callback, got {len(hooks)}"
    [hook] = hooks
    assert hook.verified, hook.error
    payload = hook.payload
    assert payload is not None
    assert hook.headers["webhook-id"].startswith("msg_")
    assert hook.headers["content-type"] == "application/json"
    assert hook.headers["user-agent"].startswith("reelgate/")
    assert payload["task_id"] == task_id
    assert payload["status"] == "SUCCESS"
    assert _without_links(payload) == _without_links(final)


def test_seed_callback_that_cannot_be_reached_does_not_fail_the_task(
    rendering_app: InProcessServer,
) -> None:
    body = seed_body("http://baidu.com", ratio="1:1")
    body["options"]["seconds"] = 5
    task_id = _create(rendering_app, body)
    with rendering_app.client() as client:
        final = wait_for_feed(client, task_id)[-1]
    assert final["status"] == "SUCCESS"


def test_same_request_and_seed_give_identical_frames(
    rendering_app: InProcessServer, receiver: Receiver, tmp_path: Path
) -> None:
    body = seed_body(receiver.url, ratio="9:16", prompt="a snowy forest at night")
    body["options"] = {"seconds": 5, "seed": 1234, "motion_vector": {"x": 2, "z": 3}}
    videos = []
    for run in range(2):
        task_id = _create(rendering_app, body)
        with rendering_app.client() as client:
            final = wait_for_feed(client, task_id)[-1]
        assert final["status"] == "SUCCESS"
        videos.append(_download(rendering_app, final["data"]["video_url"], tmp_path / f"{run}.mp4"))
    for a, b in zip(decode_frames(videos[0]), decode_frames(videos[1]), strict=True):
        assert np.array_equal(a, b)


def test_tampered_or_expired_link_is_forbidden(
    rendering_app: InProcessServer, receiver: Receiver
) -> None:
    body = seed_body(receiver.url, ratio="1:1")
    body["options"]["seconds"] = 5
    task_id = _create(rendering_app, body)
    with rendering_app.client() as client:
        url = wait_for_feed(client, task_id)[-1]["data"]["video_url"]
    base, _, query = url.partition("?")
    params = dict(p.split("=") for p in query.split("&"))
    tampered = [
        f"{base}?expires={params['expires']}&sig={'0' * 64}",
        f"{base}?expires={int(params['expires']) + 3600}&sig={params['sig']}",
        f"{base}?expires=1000&sig={params['sig']}",
        base.replace("video.mp4", "poster.jpg") + "?" + query,
        base,
    ]
    with rendering_app.client(key=None) as client:
        for link in tampered:
            response = client.get(link)
            assert response.status_code == 403, link
            assert response.json()["error"]["code"] == "link_invalid"


def _without_links(data: dict[str, Any]) -> dict[str, Any]:
    """Signed links carry their own expiry, so two renderings differ only there."""
    text = json.dumps(data)
    for key in ("video_url", "poster"):
        value = data["data"].get(key)
        if value:
            text = text.replace(value, f"<{key}>")
    return dict(json.loads(text))


@pytest.fixture(autouse=True)
def _fail_with_app_tracebacks(rendering_app: InProcessServer) -> Any:
    yield
    if rendering_app.tracebacks():
        pytest.fail(f"the app logged a traceback:\n{rendering_app.tracebacks()[-4000:]}")
