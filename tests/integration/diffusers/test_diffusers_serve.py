"""Tiny real pipelines of each family served by a real `reelgate serve`: a task succeeds with
an MP4 of the contract's size and frame count, progress rises through the denoising steps, a
cancel stops a run between steps, the same seed gives the same frames; an entry with speed
settings serves like the others."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from reelgate.media.probe import decode_frames, probe
from tests.integration.diffusers.conftest import FAMILIES
from tests.support.server import ServerProcess, wait_for_feed
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

RATIOS = {"wan": ("16:9", 1280, 720), "ltx": ("9:16", 720, 1280), "cogvideox": ("1:1", 960, 960)}
CANCEL_SECONDS = 10.0  # a cancelled run stops within one step; the feed shows it well before


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, models_file: Path) -> Iterator[ServerProcess]:
    env = {
        "REELGATE_MODELS_FILE": str(models_file),
        "HF_HUB_OFFLINE": "1",
        # A cancel reaches a running task with its next heartbeat: a quick beat keeps that well
        # inside the slow models' denoising however loaded the machine.
        "REELGATE_HEARTBEAT_SECONDS": "0.25",
    }
    server = ServerProcess(tmp_path_factory.mktemp("serve-diffusers"), env=env).start()
    yield server
    server.stop()
    assert "Traceback" not in server.logs(), server.logs()[-4000:]


def _create(server: ServerProcess, **body: Any) -> str:
    with server.client() as client:
        response = client.post("/admin/tasks", json=body)
    assert response.status_code == 200, response.text
    task_id: str = response.json()["id"]
    return task_id


def _download(server: ServerProcess, url: str, target: Path) -> Path:
    with server.client(key=None) as client:
        response = client.get(url)
    assert response.status_code == 200, response.text
    target.write_bytes(response.content)
    return target


def _finished(server: ServerProcess, task_id: str) -> list[dict[str, Any]]:
    with server.client() as client:
        return wait_for_feed(client, task_id, timeout=240)


def _png_data_uri() -> str:
    rng = np.random.default_rng(4)
    picture = cv2.GaussianBlur(rng.integers(0, 256, (240, 320, 3), np.uint8), (0, 0), 2)
    ok, png = cv2.imencode(".png", picture)
    assert ok
    return "data:image/png;base64," + base64.b64encode(png.tobytes()).decode()


@pytest.mark.parametrize("family", FAMILIES)
def test_a_task_renders_the_contract_and_the_same_seed_repeats_it(
    server: ServerProcess, tmp_path: Path, family: str
) -> None:
    ratio, width, height = RATIOS[family]
    body = {
        "prompt": "a red fox walking in a snowy forest",
        "model": f"tiny-{family}",
        "ratio": ratio,
        "seconds": 2,
        "seed": 77,
        "style": "noir",
        "motion": {"x": 2.0, "z": 3.0},
    }
    videos = []
    for run in range(2):
        seen = _finished(server, _create(server, **body))
        final = seen[-1]
        assert final["status"] == "SUCCESS", final
        percents = [int(d["progress"].rstrip("%")) for d in seen]
        assert percents == sorted(percents), "progress went backwards"
        assert percents[-1] == 100
        video = _download(server, final["result_url"], tmp_path / f"{run}.mp4")
        info = probe(video)
        assert (info.codec, info.width, info.height, info.pix_fmt) == (
            "h264",
            width,
            height,
            "yuv420p",
        )
        assert (float(info.fps), info.frames) == (24.0, 48)
        videos.append(video)
    for a, b in zip(decode_frames(videos[0]), decode_frames(videos[1]), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("family", FAMILIES)
def test_image_to_video_renders_the_contract(
    server: ServerProcess, tmp_path: Path, family: str
) -> None:
    task_id = _create(
        server,
        prompt="a bird flying over the sea",
        model=f"tiny-{family}",
        ratio="4:3",
        seconds=1,
        image=_png_data_uri(),
        image_as_end_frame=family == "ltx",
    )
    final = _finished(server, task_id)[-1]
    assert final["status"] == "SUCCESS", final
    assert final["action"] == "IMAGE_TO_VIDEO"
    info = probe(_download(server, final["result_url"], tmp_path / "i2v.mp4"))
    assert (info.width, info.height, info.frames) == (1104, 832, 24)


@pytest.mark.parametrize("family", FAMILIES)
def test_progress_rises_with_the_steps_and_a_cancel_stops_the_run(
    server: ServerProcess, family: str
) -> None:
    task_id = _create(server, prompt="a dog on a beach", model=f"slow-{family}", seconds=1)
    percents: list[int] = []
    with server.client() as client:

        def rising() -> bool:  # three values, all while denoising
            data = client.post("/runway/feed", json={"task_id": task_id}).json()["data"]
            assert data["status"] in ("QUEUED", "IN_PROGRESS"), data
            percents.append(int(data["progress"].rstrip("%")))
            return len({p for p in percents if p > 0}) >= 3

        wait_until(rising, 120, interval=0.1, what=lambda: f"progress to rise: {percents}")
        assert percents == sorted(percents)
        assert percents[-1] < 80
        asked = time.monotonic()
        response = client.post(f"/admin/tasks/{task_id}/cancel")
        assert response.status_code == 200, response.text
        final = wait_for_feed(client, task_id, timeout=CANCEL_SECONDS)[-1]
    assert time.monotonic() - asked < CANCEL_SECONDS
    assert (final["status"], final["fail_reason"]) == ("FAILURE", "cancelled")
    assert int(final["progress"].rstrip("%")) < 80  # stopped while denoising


def test_an_entry_with_speed_settings_serves_the_contract(
    server: ServerProcess, tmp_path: Path
) -> None:
    # tuned-wan: first-block cache, the _native_flash attention backend and VAE tiling
    task_id = _create(server, prompt="a cat in the city at night", model="tuned-wan", seconds=2)
    final = _finished(server, task_id)[-1]
    assert final["status"] == "SUCCESS", final
    info = probe(_download(server, final["result_url"], tmp_path / "tuned.mp4"))
    assert (info.width, info.height, float(info.fps), info.frames) == (1280, 720, 24.0, 48)
