"""Gateway -> upstream, both real `reelgate serve` processes, once per protocol: the gateway's
models file forwards each model to the upstream in `runway` (the `runwayml` SDK), `cometapi`
(plain HTTP) or `openai` (the `openai` SDK), and a client of the gateway speaks the dialect of the
same name. What a user notices: the upstream's own bytes, its progress, a cancel that reaches it,
its failure with its code and message, and a wrong key that fails cleanly and never leaks."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import cv2
import httpx
import numpy as np
import openai
import pytest
import runwayml

from reelgate.media.probe import decode_frames, probe
from reelgate.worker.jobs import AUTH_FAILURE
from tests.integration.upstream.conftest import FLAGGED, SAFETY_CODE, SAFETY_MESSAGE, STALLED
from tests.integration.upstream.helpers import (
    KEY_ENV,
    RUNWAY_VERSION,
    gateway,
    query,
    run_cli,
    sha256,
    task_row,
    upstream_entry,
    upstream_ref,
    write_models,
)
from tests.support.receiver import Receiver
from tests.support.server import API_KEY, OTHER_KEY, ServerProcess, free_port, seed_body
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    # The SDK marks the Sora methods deprecated (OpenAI's service ends in 2026; ours does not).
    pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning"),
]

PROTOCOLS = ("runway", "cometapi", "openai")
WRONG_KEY = "rg_wrong_key_7f3a9c2e5d1b8a6f4c0e"
WRONG_KEY_ENV = "REELGATE_TEST_WRONG_KEY"
# A clip long enough to show progress (gateway progress is written once a second), and one long
# enough to be cancelled while the upstream renders it.
SHORT = {"runway": 5, "cometapi": 5, "openai": 4}
LONG = {"runway": 10, "cometapi": 10, "openai": 12}
# The upstream's failure code as each protocol hands it over: the openai dialect writes codes in
# lower case with `_` (CONTRACT.md 3), and the gateway keeps what it was given.
KEPT_CODE = {"runway": SAFETY_CODE, "cometapi": SAFETY_CODE, "openai": "safety_input_text"}
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class Seen:
    status: str  # queued | running | succeeded | failed | cancelled
    progress: float | None = None  # 0..1 while running
    failure: str | None = None
    code: str | None = None


class Dialect(Protocol):
    """A client of the gateway, in one dialect."""

    def create(self, model: str, seconds: int) -> str: ...
    def create_from_image(self, model: str, png: bytes, position: str) -> str: ...
    def read(self, task_id: str) -> Seen: ...
    def video(self, task_id: str) -> bytes: ...
    def cancel(self, task_id: str) -> None: ...


class RunwayDialect:
    def __init__(self, base_url: str) -> None:
        self.sdk = runwayml.RunwayML(api_key=API_KEY, base_url=base_url, max_retries=0)

    def create(self, model: str, seconds: int) -> str:
        # The SDK types its models by name; ours are the gateway's own names.
        created = cast(Any, self.sdk.text_to_video).create(
            model=model, prompt_text="a lighthouse at dusk", ratio="1280:720", duration=seconds
        )
        return str(created.id)

    def create_from_image(self, model: str, png: bytes, position: str) -> str:
        created = cast(Any, self.sdk.image_to_video).create(
            model=model,
            prompt_image=[{"uri": _data_uri(png), "position": position}],
            ratio="1280:720",
            duration=2,
        )
        return str(created.id)

    def read(self, task_id: str) -> Seen:
        task: Any = self.sdk.tasks.retrieve(task_id)
        status = {"PENDING": "queued", "THROTTLED": "queued", "RUNNING": "running"}.get(
            task.status, task.status.lower()
        )
        return Seen(
            status,
            getattr(task, "progress", None),
            getattr(task, "failure", None),
            getattr(task, "failure_code", None),
        )

    def video(self, task_id: str) -> bytes:
        task: Any = self.sdk.tasks.retrieve(task_id)
        return httpx.get(task.output[0], timeout=30).content

    def cancel(self, task_id: str) -> None:
        self.sdk.tasks.delete(task_id)


class CometDialect:
    def __init__(self, base_url: str, callback_url: str) -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
        )
        self.callback_url = callback_url

    def create(self, model: str, seconds: int) -> str:
        body = seed_body(self.callback_url, model=model)
        body["options"]["seconds"] = seconds
        return self._generate(body)

    def create_from_image(self, model: str, png: bytes, position: str) -> str:
        body = seed_body(self.callback_url, model=model, image=_data_uri(png))
        body["options"].update(seconds=5, image_as_end_frame=position == "last")
        return self._generate(body)

    def _generate(self, body: dict[str, Any]) -> str:
        answer = self.http.post("/runway/pro/generate", json=body)
        assert answer.status_code == 200, answer.text
        task_id: str = answer.json()["data"]["task_id"]
        return task_id

    def _feed(self, task_id: str) -> dict[str, Any]:
        answer = self.http.post("/runway/feed", json={"task_id": task_id})
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()["data"]
        return data

    def read(self, task_id: str) -> Seen:
        data = self._feed(task_id)
        status = {"QUEUED": "queued", "IN_PROGRESS": "running", "SUCCESS": "succeeded"}.get(
            data["status"], "failed"
        )
        if status == "failed" and data["fail_reason"] == "cancelled":
            return Seen("cancelled")
        progress = float(data["progress"].rstrip("%")) / 100
        inner = data["data"]
        return Seen(status, progress, inner.get("failure"), inner.get("failureCode"))

    def video(self, task_id: str) -> bytes:
        return httpx.get(self._feed(task_id)["result_url"], timeout=30).content

    def cancel(self, task_id: str) -> None:
        answer = self.http.delete(
            f"/runwayml/v1/tasks/{task_id}", headers={"X-Runway-Version": RUNWAY_VERSION}
        )
        assert answer.status_code == 204, answer.text


class OpenAIDialect:
    def __init__(self, base_url: str) -> None:
        self.sdk = openai.OpenAI(api_key=API_KEY, base_url=f"{base_url}/v1", max_retries=0)

    def create(self, model: str, seconds: int) -> str:
        video = self.sdk.videos.create(
            model=model,
            prompt="a lighthouse at dusk",
            seconds=str(seconds),  # type: ignore[arg-type]
            size="1280x720",
        )
        return video.id

    def create_from_image(self, model: str, png: bytes, position: str) -> str:
        assert position == "first"  # OpenAI's input_reference is the first frame
        video = self.sdk.videos.create(
            model=model,
            prompt="a lighthouse at dusk",
            seconds="4",
            size="1280x720",
            input_reference=("reference.png", png, "image/png"),
        )
        return video.id

    def read(self, task_id: str) -> Seen:
        try:
            video = self.sdk.videos.retrieve(task_id)
        except openai.NotFoundError:
            return Seen("gone")
        error = video.error
        if error is not None and error.code == "cancelled":
            return Seen("cancelled")
        status = {"in_progress": "running", "completed": "succeeded"}.get(
            video.status, video.status
        )
        return Seen(
            status,
            video.progress / 100 if video.progress is not None else None,
            error.message if error else None,
            error.code if error else None,
        )

    def video(self, task_id: str) -> bytes:
        return self.sdk.videos.download_content(task_id).read()

    def cancel(self, task_id: str) -> None:
        self.sdk.videos.delete(task_id)  # OpenAI's only way: the video is cancelled and deleted


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory, upstream: ServerProcess
) -> Iterator[ServerProcess]:
    """The gateway: per protocol a model that renders, one the upstream fails, one it holds
    running until cancelled, one with a key the upstream refuses. Its key for the upstream is
    OTHER_KEY, its clients use API_KEY."""
    entries: dict[str, dict[str, object]] = {}
    for protocol in PROTOCOLS:
        entries[protocol] = upstream_entry(protocol, [upstream.base_url], "gen4")
        entries[f"{protocol}-flagged"] = upstream_entry(protocol, [upstream.base_url], FLAGGED)
        entries[f"{protocol}-stalled"] = upstream_entry(protocol, [upstream.base_url], STALLED)
        entries[f"{protocol}-badkey"] = {
            **upstream_entry(protocol, [upstream.base_url], "gen4"),
            "api_key_env": WRONG_KEY_ENV,
        }
    root = tmp_path_factory.mktemp("gateway")
    # The tests poll every 50 ms to see progress move: more than a key's default request rate.
    env = {
        WRONG_KEY_ENV: WRONG_KEY,
        "REELGATE_RATE_PER_MINUTE": "100000",
        "REELGATE_RATE_BURST": "1000",
    }
    server = gateway(root / "data", entries, OTHER_KEY, env).start()
    yield server
    server.stop()


def _dialect(protocol: str, server: ServerProcess, receiver: Receiver) -> Dialect:
    if protocol == "runway":
        return RunwayDialect(server.base_url)
    if protocol == "cometapi":
        return CometDialect(server.base_url, receiver.url)
    return OpenAIDialect(server.base_url)


def _upstream_task(upstream: ServerProcess, job_id: str) -> dict[str, Any] | None:
    """The upstream's own view of a job (its owner is the gateway's key); None once deleted."""
    answer = httpx.get(
        f"{upstream.base_url}/v1/tasks/{job_id}",
        headers={"Authorization": f"Bearer {OTHER_KEY}", "X-Runway-Version": RUNWAY_VERSION},
        timeout=30,
    )
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    task: dict[str, Any] = answer.json()
    return task


def _ended(client: Dialect, task_id: str) -> Seen | None:
    seen = client.read(task_id)
    return seen if seen.status in ("cancelled", "gone") else None


def _stopped(upstream: ServerProcess, job_id: str) -> str | None:
    """How the upstream job ended (its status, or "deleted"); None while it waits or runs."""
    task = _upstream_task(upstream, job_id)
    if task is None:
        return "deleted"
    return None if task["status"] in ("PENDING", "RUNNING") else str(task["status"])


def _upstream_video(upstream: ServerProcess, job_id: str) -> bytes:
    answer = httpx.get(
        f"{upstream.base_url}/v1/videos/{job_id}/content",
        headers={"Authorization": f"Bearer {OTHER_KEY}"},
        timeout=30,
        follow_redirects=True,
    )
    assert answer.status_code == 200, answer.text
    return answer.content


def _finish(client: Dialect, task_id: str, timeout: float = 90) -> list[Seen]:
    """Every reading of the task until it is terminal."""
    readings: list[Seen] = []

    def terminal() -> bool:
        readings.append(client.read(task_id))
        return readings[-1].status in TERMINAL

    wait_until(terminal, timeout, interval=0.05, what=f"task {task_id} to finish")
    return readings


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_task_ends_with_the_upstreams_bytes_and_shows_its_progress(
    protocol: str, gw: ServerProcess, upstream: ServerProcess, receiver: Receiver
) -> None:
    client = _dialect(protocol, gw, receiver)
    task_id = client.create(protocol, SHORT[protocol])
    readings = _finish(client, task_id)

    assert readings[-1].status == "succeeded", readings[-1]
    running = [r.progress for r in readings if r.status == "running" and r.progress is not None]
    assert any(0 < p < 1 for p in running), f"no progress between 0 and 1 seen: {running}"
    assert running == sorted(running), f"progress went backwards: {running}"

    ref = upstream_ref(gw.data_dir, task_id)
    assert ref is not None
    assert ref["endpoint"] == upstream.base_url
    ours = client.video(task_id)
    assert sha256(ours) == sha256(_upstream_video(upstream, ref["job_id"]))

    clip = gw.data_dir / "clip.mp4"
    clip.write_bytes(ours)
    info = probe(clip)
    media = _json(task_row(gw.data_dir, task_id)["output_meta"])
    assert (media["width"], media["height"], media["frames"]) == (1280, 720, info.frames)
    assert media["fps"] == pytest.approx(float(info.fps))
    assert media["duration_seconds"] == pytest.approx(info.duration, abs=1e-3)
    assert media["size_bytes"] == len(ours)
    assert info.frames == SHORT[protocol] * 24


POSITION = {"runway": "last", "cometapi": "last", "openai": "first"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_image_reaches_the_upstream_as_the_clips_first_or_last_frame(
    protocol: str, gw: ServerProcess, upstream: ServerProcess, receiver: Receiver, tmp_path: Path
) -> None:
    client = _dialect(protocol, gw, receiver)
    position = POSITION[protocol]
    task_id = client.create_from_image(protocol, _red_and_blue_png(), position)
    assert _finish(client, task_id)[-1].status == "succeeded"

    ref = upstream_ref(gw.data_dir, task_id)
    assert ref is not None
    spec = json.loads(task_row(upstream.data_dir, ref["job_id"])["spec"])
    assert spec["image"]["position"] == position
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(client.video(task_id))
    frames = list(decode_frames(clip))
    frame = (frames[0] if position == "first" else frames[-1]).astype(float)
    width = frame.shape[1]
    left, right = (
        frame[:, : width // 3].mean(axis=(0, 1)),
        frame[:, -width // 3 :].mean(axis=(0, 1)),
    )
    assert left[0] > left[2] + 80, f"the left of the {position} frame should be red: {left}"
    assert right[2] > right[0] + 80, f"the right of the {position} frame should be blue: {right}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_cancel_on_the_gateway_cancels_the_upstream_job(
    protocol: str, gw: ServerProcess, upstream: ServerProcess, receiver: Receiver
) -> None:
    client = _dialect(protocol, gw, receiver)
    # The upstream relays this model to a stand-in that holds it RUNNING until it is cancelled:
    # however fast the machine, the cancel reaches a job that is still running.
    task_id = client.create(f"{protocol}-stalled", LONG[protocol])
    ref = wait_until(
        lambda: upstream_ref(gw.data_dir, task_id),
        60,
        interval=0.1,
        what="the upstream job recorded",
    )
    wait_until(
        lambda: (_upstream_task(upstream, ref["job_id"]) or {}).get("status") == "RUNNING",
        60,
        interval=0.1,
        what="the upstream rendering the job",
    )

    client.cancel(task_id)

    stopped = wait_until(
        lambda: _stopped(upstream, ref["job_id"]), 60, interval=0.1, what="the upstream job to stop"
    )
    assert stopped in ("CANCELLED", "deleted"), stopped
    final = wait_until(
        lambda: _ended(client, task_id), 30, interval=0.1, what="the gateway task to end cancelled"
    )
    # OpenAI's DELETE removes the video once it has stopped; the others keep it as CANCELLED.
    assert final.status == ("gone" if protocol == "openai" else "cancelled")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_upstream_failure_keeps_its_code_and_message(
    protocol: str, gw: ServerProcess, receiver: Receiver
) -> None:
    client = _dialect(protocol, gw, receiver)
    task_id = client.create(f"{protocol}-flagged", SHORT[protocol])
    final = _finish(client, task_id)[-1]

    assert final.status == "failed"
    assert final.failure == SAFETY_MESSAGE
    code = KEPT_CODE[protocol]
    expected_on_wire = code.lower().replace(".", "_") if protocol == "openai" else code
    assert final.code == expected_on_wire
    row = task_row(gw.data_dir, task_id)
    assert (row["failure"], row["failure_code"], row["attempt"]) == (SAFETY_MESSAGE, code, 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_refused_key_fails_cleanly_and_never_leaks(
    protocol: str, gw: ServerProcess, receiver: Receiver
) -> None:
    client = _dialect(protocol, gw, receiver)
    task_id = client.create(f"{protocol}-badkey", SHORT[protocol])
    final = _finish(client, task_id, timeout=30)[-1]

    assert final.status == "failed"
    assert final.failure == AUTH_FAILURE
    assert task_row(gw.data_dir, task_id)["attempt"] == 1  # not retried
    wait_until(
        lambda: f"{task_id} attempt 1: upstream error (check the entry's api_key_env)" in gw.logs(),
        10,
        interval=0.1,
        what="the operator told which setting to check",
    )
    assert WRONG_KEY not in gw.logs()
    assert OTHER_KEY not in gw.logs()
    assert WRONG_KEY not in _database_dump(gw.data_dir)
    assert OTHER_KEY not in _database_dump(gw.data_dir)


def test_models_lists_and_checks_upstream_entries(tmp_path: Path, upstream: ServerProcess) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    count_before = len(query(upstream.data_dir, "SELECT id FROM tasks"))
    entries = {p: upstream_entry(p, [upstream.base_url], "gen4") for p in PROTOCOLS}
    entries["badkey"] = {
        **upstream_entry("openai", [upstream.base_url], "gen4"),
        "api_key_env": WRONG_KEY_ENV,
    }
    entries["half-down"] = upstream_entry("runway", [dead, upstream.base_url], "gen4")
    env = {
        "PATH": "/usr/bin:/bin",
        "REELGATE_DATA_DIR": str(tmp_path / "data"),
        "REELGATE_MODELS_FILE": str(write_models(tmp_path / "models.toml", entries)),
        KEY_ENV: OTHER_KEY,
        WRONG_KEY_ENV: WRONG_KEY,
    }

    listed = run_cli(env, "models")
    assert listed.returncode == 0, listed.stderr
    assert (
        f"runway\tupstream\tprotocol=runway model=gen4 endpoints={upstream.base_url} "
        f"concurrency=16/endpoint poll=0.1s timeout=3600s key=${KEY_ENV}"
    ) in listed.stdout

    checked = run_cli(env, "models", "--check")
    assert checked.returncode == 1, checked.stderr
    lines = checked.stdout.split("\nNAME\tENDPOINT\tCHECK\n")[1].splitlines()
    outcome = {tuple(line.split("\t")[:2]): line.split("\t")[2] for line in lines}
    for protocol in PROTOCOLS:
        assert outcome[(protocol, upstream.base_url)] == "ok"
    assert "refused the key (HTTP 401)" in outcome[("badkey", upstream.base_url)]
    assert "connection refused" in outcome[("half-down", dead)]
    assert outcome[("half-down", upstream.base_url)] == "ok"
    assert OTHER_KEY not in checked.stdout + checked.stderr
    assert WRONG_KEY not in checked.stdout + checked.stderr
    assert len(query(upstream.data_dir, "SELECT id FROM tasks")) == count_before  # made nothing


def _red_and_blue_png() -> bytes:
    """A 320x180 picture: red left half, blue right half."""
    image = np.zeros((180, 320, 3), np.uint8)
    image[:, :160] = (40, 40, 220)  # BGR
    image[:, 160:] = (220, 40, 40)
    ok, png = cv2.imencode(".png", image)
    assert ok
    return png.tobytes()


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _json(raw: str | None) -> dict[str, Any]:
    assert raw is not None
    parsed: dict[str, Any] = json.loads(raw)
    return parsed


def _database_dump(data_dir: Path) -> str:
    with closing(sqlite3.connect(data_dir / "reelgate.db", timeout=10)) as conn:
        return "\n".join(conn.iterdump())
