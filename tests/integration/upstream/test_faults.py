"""A gateway `reelgate serve` in front of a misbehaving stand-in (standin.py): every fault ends
as docs/models.md says it does. Each gateway model is one fault; the stand-in's model of the
same name plays it. Two more listeners: a "CDN" on 127.0.0.2, which the gateway's outbound
guard allows, and a private service on 127.0.0.1, which it does not (only the configured
endpoint on 127.0.0.1 is trusted)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.upstream.helpers import (
    RUNWAY_VERSION,
    create_runway_task,
    gateway,
    task_row,
    upstream_entry,
    upstream_ref,
)
from tests.integration.upstream.standin import KEY, Answer, Job, Output, Script, StandIn
from tests.support.server import ServerProcess, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

HELD = threading.Event()  # the `capped` jobs run until this is set
THROTTLE = threading.Event()  # the `throttled` job waits at the upstream until this is set
NOT_JSON = b"<html><body>502 Bad Gateway</body></html>"
GARBAGE = bytes(range(256)) * 16
CAP = 2  # the `capped` entry's concurrency


def _scripts(cdn: StandIn, private: StandIn) -> dict[str, tuple[Script, dict[str, object]]]:
    """Per fault: what the stand-in does, and the entry's own settings."""
    return {
        "fine": (Script(run_seconds=0.3), {}),
        "retry-after": (Script(create=[Answer(429, headers={"Retry-After": "1"})]), {}),
        "flaky": (Script(create=[Answer(503)], polls=[Answer(500), Answer(502)]), {}),
        "overloaded": (Script(create=[Answer(500, headers={"Retry-After": "0"})] * 20), {}),
        "hang-create": (Script(create=[Answer(hang=True)]), {}),
        "hang-status": (Script(polls=[Answer(hang=True)] * 50), {"timeout_seconds": 3}),
        "never-finishes": (Script(never_finish=True), {"timeout_seconds": 2}),
        "bad-json-create": (Script(create=[Answer(body=NOT_JSON)]), {}),
        "bad-json-status": (Script(polls=[Answer(body=NOT_JSON)]), {}),
        "oversized": (Script(), {"max_output_bytes": 1024}),
        "oversized-chunked": (
            Script(output=Output(declare_length=False)),
            {"max_output_bytes": 1024},
        ),
        "not-video": (Script(output=Output(body=NOT_JSON, content_type="text/html")), {}),
        "garbage-video": (Script(output=Output(body=GARBAGE)), {}),
        "private-link": (Script(output_url=f"{private.url}/files/{{id}}.mp4"), {}),
        "cdn-link": (Script(output_url=f"{cdn.url}/files/{{id}}.mp4"), {}),
        "throttled": (Script(throttle=THROTTLE, run_seconds=0.3), {}),
        "capped": (Script(hold=HELD), {"concurrency": CAP}),
    }


@pytest.fixture(scope="module")
def standin(video: bytes) -> Iterator[StandIn]:
    with StandIn(video).running() as running:
        yield running


@pytest.fixture(scope="module")
def cdn(video: bytes) -> Iterator[StandIn]:
    with StandIn(video, host="127.0.0.2").running() as running:
        yield running


@pytest.fixture(scope="module")
def private(video: bytes) -> Iterator[StandIn]:
    with StandIn(video).running() as running:
        yield running


@pytest.fixture(scope="module")
def gw(
    tmp_path_factory: pytest.TempPathFactory, standin: StandIn, cdn: StandIn, private: StandIn
) -> Iterator[ServerProcess]:
    entries: dict[str, dict[str, object]] = {}
    for name, (script, settings) in _scripts(cdn, private).items():
        standin.scripts[name] = script
        entries[name] = upstream_entry(
            "runway", [standin.url], name, request_timeout_seconds=1, **settings
        )
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    entries["half-down"] = upstream_entry("runway", [dead, standin.url], "fine")
    server = gateway(
        tmp_path_factory.mktemp("faults") / "data",
        entries,
        KEY,
        # Only the CDN's address is exempt from the outbound guard: the private service on
        # 127.0.0.1 is refused like any private address, though the stand-in beside it is used.
        {"REELGATE_OUTBOUND_ALLOW": "127.0.0.2/32", "REELGATE_SHUTDOWN_GRACE_SECONDS": "0"},
    ).start()
    yield server
    server.stop()


def _create(server: ServerProcess, model: str) -> str:
    with server.client(headers={"X-Runway-Version": RUNWAY_VERSION}) as client:
        return create_runway_task(client, model)


def _task(server: ServerProcess, task_id: str) -> dict[str, Any]:
    with server.client(headers={"X-Runway-Version": RUNWAY_VERSION}) as client:
        answer = client.get(f"/v1/tasks/{task_id}")
    assert answer.status_code == 200, answer.text
    task: dict[str, Any] = answer.json()
    return task


def _finish(server: ServerProcess, task_id: str, timeout: float = 30) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        task = _task(server, task_id)
        return task if task["status"] in ("SUCCEEDED", "FAILED") else None

    return wait_until(finished, timeout, interval=0.1, what=f"task {task_id} to finish")


def _run(server: ServerProcess, model: str, timeout: float = 30) -> dict[str, Any]:
    return _finish(server, _create(server, model), timeout)


def _output(task: dict[str, Any]) -> bytes:
    return httpx.get(task["output"][0], timeout=30).content


def test_429_is_retried_after_its_retry_after(
    gw: ServerProcess, standin: StandIn, video: bytes
) -> None:
    task = _run(gw, "retry-after")
    assert task["status"] == "SUCCEEDED", task
    assert _output(task) == video
    first, second = [s.at for s in standin.seen("POST") if s.path == "/v1/text_to_video"][-2:]
    assert second - first >= 0.95  # Retry-After: 1
    assert (standin.creates("retry-after"), len(standin.jobs_of("retry-after"))) == (2, 1)


def test_5xx_on_create_and_status_is_retried(gw: ServerProcess, standin: StandIn) -> None:
    task = _run(gw, "flaky")
    assert task["status"] == "SUCCEEDED", task
    assert len(standin.jobs_of("flaky")) == 1


def test_5xx_without_end_fails_after_the_bounded_retries(
    gw: ServerProcess, standin: StandIn
) -> None:
    task = _run(gw, "overloaded")
    assert task["status"] == "FAILED"
    assert task["failure"].startswith("upstream: create: HTTP 500"), task
    assert task["failureCode"] == "INTERNAL"
    assert standin.creates("overloaded") == 6
    assert standin.jobs_of("overloaded") == []


def test_a_create_whose_answer_never_comes_is_not_repeated(
    gw: ServerProcess, standin: StandIn
) -> None:
    task = _run(gw, "hang-create")
    assert task["status"] == "FAILED"
    assert "ReadTimeout" in task["failure"], task
    assert "the create may have been accepted, so it is not repeated" in task["failure"]
    assert standin.creates("hang-create") == 1


@pytest.mark.parametrize("model", ["hang-status", "never-finishes"])
def test_a_job_that_never_finishes_times_out_and_is_cancelled_upstream(
    model: str, gw: ServerProcess, standin: StandIn
) -> None:
    task_id = _create(gw, model)
    task = _finish(gw, task_id)
    limit = 3 if model == "hang-status" else 2
    assert task["status"] == "FAILED"
    assert task["failure"] == f"upstream: the upstream did not finish within {limit}s"
    [job] = standin.jobs_of(model)
    assert job.cancelled  # the DELETE reached the stand-in
    row = task_row(gw.data_dir, task_id)
    assert row["finished_at"] - row["started_at"] == pytest.approx(limit, abs=1.5)


@pytest.mark.parametrize(
    ("model", "failure"),
    [
        ("bad-json-create", "upstream: create: the answer is not valid"),
        ("bad-json-status", "upstream: status: the answer is not valid"),
    ],
)
def test_an_answer_that_is_not_json_fails_the_task(
    model: str, failure: str, gw: ServerProcess, standin: StandIn
) -> None:
    task = _run(gw, model)
    assert task["status"] == "FAILED"
    assert task["failure"].startswith(failure), task
    assert standin.creates(model) == 1


@pytest.mark.parametrize(
    ("model", "failure"),
    [
        ("oversized", "upstream: download: the output exceeds 1024 bytes"),
        ("oversized-chunked", "upstream: download: the output exceeds 1024 bytes"),
        ("not-video", "upstream: download: the output is text/html, not a video"),
        ("garbage-video", "upstream: the upstream's output is not a playable video"),
    ],
)
def test_an_output_that_is_too_big_or_not_a_video_is_refused(
    model: str, failure: str, gw: ServerProcess
) -> None:
    task_id = _create(gw, model)
    task = _finish(gw, task_id)
    assert task["status"] == "FAILED"
    assert task["failure"].startswith(failure), task
    kept = [p for p in gw.data_dir.rglob("*") if task_id in str(p) and p.is_file()]
    assert kept == []  # nothing stored, nothing left in the work folder


def test_an_output_link_to_a_private_address_is_refused(
    gw: ServerProcess, private: StandIn
) -> None:
    task = _run(gw, "private-link")
    assert task["status"] == "FAILED"
    assert task["failure"].startswith("upstream: download: the output link is refused"), task
    assert private.seen() == []  # refused before connecting


def test_an_output_link_elsewhere_is_fetched_without_the_key(
    gw: ServerProcess, standin: StandIn, cdn: StandIn, video: bytes
) -> None:
    task = _run(gw, "cdn-link")
    assert task["status"] == "SUCCEEDED", task
    assert _output(task) == video
    [fetch] = cdn.seen("GET", "/files/")
    assert "authorization" not in fetch.headers
    assert all(s.headers["authorization"] == f"Bearer {KEY}" for s in standin.seen(prefix="/v1/"))


def test_an_upstream_throttled_job_shows_throttled(gw: ServerProcess) -> None:
    task_id = _create(gw, "throttled")
    wait_until(
        lambda: _task(gw, task_id)["status"] == "THROTTLED",
        60,
        interval=0.1,
        what="THROTTLED at the gateway",
    )
    THROTTLE.set()
    assert _finish(gw, task_id)["status"] == "SUCCEEDED"


def test_jobs_beyond_the_cap_wait_in_our_queue(gw: ServerProcess, standin: StandIn) -> None:
    ids = [_create(gw, "capped") for _ in range(CAP + 3)]

    def held_a_while() -> list[Job] | None:
        jobs = standin.jobs_of("capped")
        return jobs if len(jobs) == CAP and all(j.polls >= 5 for j in jobs) else None

    held = wait_until(
        held_a_while, 60, interval=0.1, what=f"{CAP} jobs held upstream and polled a while"
    )
    statuses = sorted(_task(gw, i)["status"] for i in ids)
    assert statuses == ["PENDING"] * 3 + ["RUNNING"] * CAP
    assert len(standin.jobs_of("capped")) == len(held)
    HELD.set()
    assert all(_finish(gw, i)["status"] == "SUCCEEDED" for i in ids)
    assert standin.peak_open["capped"] == CAP


def test_an_endpoint_that_refuses_connections_is_skipped(
    gw: ServerProcess, standin: StandIn
) -> None:
    ids = [_create(gw, "half-down") for _ in range(4)]
    assert all(_finish(gw, i)["status"] == "SUCCEEDED" for i in ids)
    assert {(upstream_ref(gw.data_dir, i) or {}).get("endpoint") for i in ids} == {standin.url}
    wait_until(
        lambda: "refused a connection; skipped for 30s" in gw.logs(),
        60,
        interval=0.1,
        what="the cool-down log",
    )
