"""The upstream engine's decisions, with a scripted protocol client, a fake clock and a job
context in memory: submitted once and recorded first, resumed never resubmitted, what is
retried and for how long, the timeout, cancel, failures, and the cap per endpoint. The real
protocols and processes are in tests/integration/upstream."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from reelgate.core.tasks import GenerationSpec, UpstreamRef
from reelgate.engines.base import ImageBytes
from reelgate.engines.upstream.config import UpstreamConfig
from reelgate.engines.upstream.engine import SUBMIT_ATTEMPTS, UpstreamEngine
from reelgate.engines.upstream.protocol import (
    JobRequest,
    JobState,
    JobStatus,
    status_error,
    transport_error,
)
from reelgate.errors import TaskInterrupted, UpstreamError, UpstreamFailed

A, B = "http://gpu-a:8000", "http://gpu-b:8000"
KEY = "rw_live_3f9a8c7b6d5e"
OUTPUT = "https://cdn.example/out.mp4"  # not a configured endpoint: fetched by ctx.guarded_client
VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"v" * 100
SPEC = GenerationSpec(prompt="a cat", model="gen4", width=1280, height=720, seconds=5, seed=7)
DONE = JobStatus(JobState.SUCCEEDED, 1.0, OUTPUT)
Scripted = JobStatus | UpstreamError


class Log(list[str]):
    """What happened, in order, across the client and the context."""


class FakeClient:
    def __init__(self, log: Log, statuses: list[Scripted], creates: list[UpstreamError]) -> None:
        self.log = log
        self.statuses = statuses  # one per poll; the last repeats
        self.creates = creates  # raised by the first creates, in order
        self.requests: list[tuple[str, JobRequest]] = []
        self.gate: asyncio.Event | None = None  # polls wait for it when set
        self.cancel_error: UpstreamError | None = None  # raised by every cancel when set

    async def submit(self, endpoint: str, request: JobRequest) -> str:
        self.log.append(f"submit {endpoint}")
        self.requests.append((endpoint, request))
        if self.creates:
            raise self.creates.pop(0)
        return f"job-{len(self.requests)}"

    async def status(self, endpoint: str, job_id: str) -> JobStatus:
        self.log.append(f"status {job_id}")
        if self.gate is not None:
            await self.gate.wait()
        answer = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if isinstance(answer, UpstreamError):
            raise answer
        return answer

    async def cancel(self, endpoint: str, job_id: str) -> None:
        self.log.append(f"cancel {job_id}")
        if self.cancel_error is not None:
            raise self.cancel_error

    def content_url(self, endpoint: str, job_id: str, status: JobStatus) -> str:
        assert status.output_url is not None
        return status.output_url

    async def check(self, endpoint: str) -> None: ...

    async def aclose(self) -> None: ...


class FakeContext:
    def __init__(self, log: Log, work_dir: Path, upstream: UpstreamRef | None = None) -> None:
        self.log = log
        self.task_id = "task-1"
        self.upstream = upstream
        self.image: ImageBytes | None = None
        self.work_dir = work_dir
        self.reports: list[float] = []
        self.cancel = False
        self.guarded_client = httpx.AsyncClient(
            transport=httpx.MockTransport(
                lambda _: httpx.Response(200, content=VIDEO, headers={"content-type": "video/mp4"})
            )
        )

    async def record(self, ref: UpstreamRef) -> None:
        self.log.append(f"record {ref.job_id} {ref.state}")
        self.upstream = ref

    async def report(self, fraction: float) -> None:
        self.reports.append(fraction)

    def cancel_requested(self) -> bool:
        return self.cancel


class Clock:
    """Monotonic time that moves only when the engine sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


Build = Callable[..., tuple[UpstreamEngine, FakeClient, FakeContext, Clock, Log]]


@pytest.fixture
def build(tmp_path: Path) -> Build:
    def make(
        statuses: list[Scripted] | None = None,
        creates: list[UpstreamError] | None = None,
        upstream: UpstreamRef | None = None,
        **settings: Any,
    ) -> tuple[UpstreamEngine, FakeClient, FakeContext, Clock, Log]:
        log, clock = Log(), Clock()
        config = UpstreamConfig(
            protocol="runway",
            endpoints=settings.pop("endpoints", [A]),
            model="gen4.5",
            poll_seconds=1.0,
            **settings,
        )
        client = FakeClient(log, statuses or [DONE], creates or [])
        engine = UpstreamEngine(config, client=client, api_key=KEY, clock=clock, sleep=clock.sleep)
        return engine, client, FakeContext(log, tmp_path, upstream), clock, log

    return make


def test_the_job_is_recorded_before_anything_else_and_its_output_fetched(build: Build) -> None:
    engine, client, ctx, _, log = build([JobStatus(JobState.RUNNING, 0.4), DONE])
    path = asyncio.run(engine.run(SPEC, ctx))
    assert log[:3] == [f"submit {A}", "record job-1 submitted", "status job-1"]
    assert path.read_bytes() == VIDEO
    assert ctx.reports == [0.4, 1.0]
    [(_, request)] = client.requests
    assert (request.model, request.width, request.height, request.seconds) == (
        "gen4.5",
        1280,
        720,
        5,
    )
    assert request.idempotency_key == "task-1"


def test_a_recorded_job_is_resumed_never_submitted_again(build: Build) -> None:
    engine, client, ctx, _, log = build(upstream=UpstreamRef(B, "job-9"), endpoints=[A, B])
    asyncio.run(engine.run(SPEC, ctx))
    assert client.requests == []
    assert log == ["status job-9", "record job-9 SUCCEEDED"]


def test_429_waits_its_retry_after(build: Build) -> None:
    busy = status_error("create", 429, "slow down", {"retry-after": "7"})
    engine, client, ctx, clock, _ = build(creates=[busy])
    asyncio.run(engine.run(SPEC, ctx))
    assert len(client.requests) == 2
    assert clock.sleeps[0] == 7.0


def test_5xx_is_retried_with_bounded_backoff_then_fails(build: Build) -> None:
    down = [status_error("create", 503, "") for _ in range(SUBMIT_ATTEMPTS)]
    engine, client, ctx, clock, _ = build(creates=down)
    with pytest.raises(UpstreamError, match="create: HTTP 503"):
        asyncio.run(engine.run(SPEC, ctx))
    assert len(client.requests) == SUBMIT_ATTEMPTS
    assert all(0 <= s <= 0.5 * 2**n for n, s in enumerate(clock.sleeps))


def test_a_create_whose_answer_was_lost_is_not_repeated(build: Build) -> None:
    lost = transport_error("create", httpx.ReadTimeout("timed out"))
    engine, client, ctx, _, _ = build(creates=[lost])
    with pytest.raises(UpstreamError, match="may have been accepted, so it is not repeated"):
        asyncio.run(engine.run(SPEC, ctx))
    assert len(client.requests) == 1


def test_a_refusing_endpoint_rests_and_the_next_takes_the_job(build: Build) -> None:
    refused = transport_error("create", httpx.ConnectError("refused"))
    engine, client, ctx, clock, _ = build(creates=[refused], endpoints=[A, B], cooldown_seconds=30)
    asyncio.run(engine.run(SPEC, ctx))
    assert [e for e, _ in client.requests] == [A, B]
    assert ctx.upstream == UpstreamRef(B, "job-2", "SUCCEEDED")
    assert clock.sleeps == []  # B was tried at once

    ctx.upstream = None
    asyncio.run(engine.run(SPEC, ctx))
    assert client.requests[-1][0] == B  # A still rests
    clock.now += 30
    ctx.upstream = None
    asyncio.run(engine.run(SPEC, ctx))
    assert client.requests[-1][0] == A


def test_a_job_past_its_timeout_is_cancelled_upstream_and_fails(build: Build) -> None:
    engine, _, ctx, clock, log = build([JobStatus(JobState.RUNNING, 0.5)], timeout_seconds=10)
    with pytest.raises(UpstreamError, match="did not finish within 10s"):
        asyncio.run(engine.run(SPEC, ctx))
    assert log[-2:] == ["cancel job-1", "record job-1 CANCELLED"]
    assert clock.now - 1000 == pytest.approx(10)  # never slept past the deadline


def test_failing_polls_are_retried_but_not_past_the_timeout(build: Build) -> None:
    flaky = status_error("status", 502, "")
    engine, _, ctx, clock, _ = build([flaky], timeout_seconds=5)
    with pytest.raises(UpstreamError, match="did not finish within 5s"):
        asyncio.run(engine.run(SPEC, ctx))
    assert clock.now - 1000 == pytest.approx(5)


def test_a_cancel_is_passed_upstream(build: Build) -> None:
    engine, _, ctx, _, log = build([JobStatus(JobState.RUNNING, 0.1)])
    ctx.cancel = True
    with pytest.raises(TaskInterrupted) as stopped:
        asyncio.run(engine.run(SPEC, ctx))
    assert stopped.value.reason == "cancelled"
    assert log[-2:] == ["cancel job-1", "record job-1 CANCELLED"]


def test_a_cancel_the_upstream_did_not_take_leaves_the_job_live(build: Build) -> None:
    """Not recorded as ended, so the sweep for abandoned jobs tries the cancel again."""
    engine, client, ctx, _, log = build([JobStatus(JobState.RUNNING, 0.1)])
    client.cancel_error = status_error("cancel", 503, "busy")
    ctx.cancel = True
    with pytest.raises(TaskInterrupted):
        asyncio.run(engine.run(SPEC, ctx))
    assert log[-1] == "cancel job-1"
    assert ctx.upstream is not None
    assert ctx.upstream.live


@pytest.mark.parametrize(
    ("error", "gone"),
    [
        (None, True),
        (status_error("cancel", 404, "no such task"), True),  # the upstream no longer has it
        (status_error("cancel", 503, "busy"), False),
        (transport_error("cancel", httpx.ConnectError("refused")), False),
    ],
)
def test_abandon_cancels_the_job_and_says_whether_it_is_gone(
    build: Build, error: UpstreamError | None, gone: bool
) -> None:
    engine, client, _, _, log = build()
    client.cancel_error = error
    assert asyncio.run(engine.abandon(UpstreamRef(A, "job-7", "THROTTLED"))) is gone
    assert log == ["cancel job-7"]


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (
            JobStatus(JobState.FAILED, failure="flagged", failure_code="SAFETY.INPUT.TEXT"),
            "flagged",
            "SAFETY.INPUT.TEXT",
        ),
        (JobStatus(JobState.FAILED), "the upstream failed the task", "UPSTREAM.FAILED"),
        (JobStatus(JobState.CANCELLED), "the upstream cancelled the task", "UPSTREAM.CANCELLED"),
    ],
)
def test_an_upstream_failure_keeps_its_message_and_code(
    build: Build, status: JobStatus, message: str, code: str
) -> None:
    engine, client, ctx, _, log = build([status])
    with pytest.raises(UpstreamFailed) as failed:
        asyncio.run(engine.run(SPEC, ctx))
    assert (str(failed.value), failed.value.code) == (message, code)
    assert len(client.requests) == 1
    assert log[-1] == f"record job-1 {status.state.value}"  # ended there: nothing to sweep


def test_a_key_echoed_back_by_the_upstream_is_never_repeated(build: Build) -> None:
    echo = status_error("create", 400, f"bad request from key {KEY}")
    engine, _, ctx, _, _ = build(creates=[echo])
    with pytest.raises(UpstreamError) as failed:
        asyncio.run(engine.run(SPEC, ctx))
    assert str(failed.value) == "create: HTTP 400: bad request from key [key]"


def test_throttled_at_the_upstream_is_recorded_and_cleared(build: Build) -> None:
    waiting = JobStatus(JobState.THROTTLED)
    engine, _, ctx, _, log = build([waiting, waiting, JobStatus(JobState.RUNNING, 0.2), DONE])
    asyncio.run(engine.run(SPEC, ctx))
    assert [line for line in log if line.startswith("record")] == [
        "record job-1 submitted",
        "record job-1 THROTTLED",
        "record job-1 RUNNING",
        "record job-1 SUCCEEDED",
    ]


def test_no_more_jobs_than_the_cap_per_endpoint(build: Build) -> None:
    engine, client, ctx, _, _ = build(endpoints=[A, B], concurrency=1)

    async def two_jobs() -> list[bool]:
        client.gate = asyncio.Event()
        seen = [engine.has_capacity()]
        first = asyncio.create_task(engine.run(SPEC, ctx))
        await asyncio.sleep(0.01)
        seen.append(engine.has_capacity())
        second = asyncio.create_task(engine.run(SPEC, FakeContext(ctx.log, ctx.work_dir)))
        await asyncio.sleep(0.01)
        seen.append(engine.has_capacity())
        client.gate.set()
        await asyncio.gather(first, second)
        seen.append(engine.has_capacity())
        return seen

    assert asyncio.run(two_jobs()) == [True, True, False, True]
    assert sorted(e for e, _ in client.requests) == [A, B]  # one on each endpoint
