"""Runway's official format (CONTRACT.md 2) with a worker rendering, in this process: the task
object while running, succeeded, failed, cancelled, throttled at a key's running cap and after
its files expired. Bad input and queued tasks are in tests/api/test_runway_dialect.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reelgate.media.probe import probe
from tests.api.test_runway_dialect import (
    NOT_A_PNG,
    VERSION,
    assert_error,
    create_task,
    delete_task,
    get_task,
    image_body,
    text_body,
)
from tests.support.inprocess import InProcessServer, StartApp
from tests.support.server import API_KEY, OTHER_KEY
from tests.support.waiting import wait_until


def wait(
    app: InProcessServer,
    task_id: str,
    until: Callable[[dict[str, Any]], bool],
    key: str = API_KEY,
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def there() -> bool:
        seen.append(get_task(app, task_id, key))
        return until(seen[-1])

    wait_until(there, 60, interval=0.1, what=lambda: f"task {task_id}; last seen {seen[-1:]}")
    return seen


def finished(task: dict[str, Any]) -> bool:
    return task["status"] in ("SUCCEEDED", "FAILED", "CANCELLED")


def test_succeeded_task_output_is_the_video_asked_for(
    rendering_app: InProcessServer, tmp_path: Path
) -> None:
    task_id = create_task(
        rendering_app, "/v1/text_to_video", text_body(ratio="832:1104", duration=3)
    )
    seen = wait(rendering_app, task_id, finished)
    final = seen[-1]
    assert final["status"] == "SUCCEEDED", final
    assert set(final) == {"id", "status", "createdAt", "output", "cost"}
    progress = [t["progress"] for t in seen if t["status"] == "RUNNING"]
    assert all(0 <= p < 1 for p in progress)
    assert progress == sorted(progress)
    [url] = final["output"]
    with rendering_app.client(key=None) as client:
        video = client.get(url)
        feed = client.post(
            "/runway/feed",
            json={"task_id": task_id},
            headers={"Authorization": f"Bearer {API_KEY}"},
        ).json()["data"]
    assert video.status_code == 200
    (tmp_path / "out.mp4").write_bytes(video.content)
    info = probe(tmp_path / "out.mp4")
    assert (info.codec, info.width, info.height, info.frames) == ("h264", 832, 1104, 3 * 24)
    assert float(info.fps) == 24.0
    assert feed["status"] == "SUCCESS"
    assert feed["action"] == "TEXT_TO_VIDEO"
    assert feed["result_url"].split("?")[0] == url.split("?")[0]

    delete_task(rendering_app, task_id)
    with rendering_app.client() as client:
        gone = client.get(f"/v1/tasks/{task_id}", headers=VERSION)
        feed_gone = client.post("/runway/feed", json={"task_id": task_id})
        link_gone = client.get(url)
    assert_error(gone, 404, f"task {task_id!r} does not exist")
    assert feed_gone.json()["code"] == "task_not_exist"
    assert link_gone.status_code == 404


def test_failed_task_says_why(rendering_app: InProcessServer) -> None:
    task_id = create_task(rendering_app, "/v1/image_to_video", image_body(promptImage=NOT_A_PNG))
    final = wait(rendering_app, task_id, finished)[-1]
    assert final["status"] == "FAILED"
    assert set(final) == {"id", "status", "createdAt", "failure", "failureCode", "cost"}
    assert final["failureCode"] == "ASSET.INVALID"
    assert "input image" in final["failure"]


def test_running_task_reports_progress_and_delete_cancels_it(
    rendering_app: InProcessServer,
) -> None:
    task_id = create_task(
        rendering_app, "/v1/text_to_video", text_body(ratio="1280:720", duration=10)
    )
    running = wait(rendering_app, task_id, lambda t: t["status"] == "RUNNING" and t["progress"] > 0)
    task = running[-1]
    assert set(task) == {"id", "status", "createdAt", "progress", "estimatedCost"}
    assert 0 < task["progress"] < 1
    delete_task(rendering_app, task_id)
    final = wait(rendering_app, task_id, finished)[-1]
    assert final["status"] == "CANCELLED"
    assert set(final) == {"id", "status", "createdAt", "cost"}


def test_second_task_of_a_key_at_its_running_cap_is_throttled(start_app: StartApp) -> None:
    app = start_app(workers=2, max_running_tasks_per_key=1)
    long = text_body(ratio="1280:720", duration=10)
    first = create_task(app, "/v1/text_to_video", long)
    wait(app, first, lambda t: t["status"] == "RUNNING")
    second = create_task(app, "/v1/text_to_video", long)
    other = create_task(app, "/v1/text_to_video", long, key=OTHER_KEY)
    # The free worker claims `other`, queued after `second`: it has passed `second` over.
    wait(app, other, lambda t: t["status"] == "RUNNING", key=OTHER_KEY)
    assert get_task(app, second)["status"] == "THROTTLED"
    delete_task(app, first)
    wait(app, second, lambda t: t["status"] == "RUNNING")
    delete_task(app, second)
    delete_task(app, other, OTHER_KEY)


def test_succeeded_task_whose_files_expired_has_empty_output(start_app: StartApp) -> None:
    app = start_app(workers=1, retention_days=0.00004, sweep_seconds=0.5)  # ~3.5 s
    task_id = create_task(app, "/v1/text_to_video", text_body())
    assert wait(app, task_id, finished)[-1]["status"] == "SUCCEEDED"
    final = wait(app, task_id, lambda t: t["output"] == [])[-1]
    assert final["status"] == "SUCCEEDED"


@pytest.fixture(autouse=True)
def _fail_with_app_tracebacks(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "rendering_app" in request.fixturenames:
        app: InProcessServer = request.getfixturevalue("rendering_app")
        if app.tracebacks():
            pytest.fail(f"the app logged a traceback:\n{app.tracebacks()[-4000:]}")
