"""A misbehaving upstream on loopback: Runway's official API, as reelgate's `runway` protocol
client speaks it, where the upstream `model` of each create picks a `Script` of how to behave.

    POST   /v1/text_to_video, /v1/image_to_video   create: the script's `create` answers first
    GET    /v1/tasks/{id}                           status: PENDING/THROTTLED/RUNNING, then the end
    DELETE /v1/tasks/{id}                           cancel
    GET    /files/{id}.mp4                          the output, served as the script says

Every request is recorded (`seen`) with its arrival time; every job too (`jobs`). It is an
asyncio app (Starlette on uvicorn in a thread), so five hundred waiting polls cost no threads.
A stand-in without scripts (a "CDN" on another loopback address) serves `/files/*` only.

    with StandIn(video).running() as upstream:
        upstream.scripts["flaky"] = Script(polls=[Answer(500)] * 2)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

KEY = "standin_key_5b7c1e0f9a"
START_TIMEOUT_SECONDS = 10.0
HANG_SECONDS = 120.0  # a hanging answer; stop() cuts it short
FREE = {"credits": 0}


@dataclass(frozen=True)
class Answer:
    """One scripted HTTP answer instead of the normal one."""

    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    hang: bool = False  # never answer (until the stand-in stops)


@dataclass(frozen=True)
class Output:
    """How the finished video is served."""

    body: bytes | None = None  # None: the stand-in's good video
    content_type: str = "video/mp4"
    declare_length: bool = True  # False: chunked, so only counting the bytes finds the size


@dataclass
class Script:
    """What the stand-in does for one upstream model name."""

    create: list[Answer] = field(default_factory=list)  # the first creates' answers, in order
    polls: list[Answer] = field(default_factory=list)  # each job's first polls' answers
    throttle: threading.Event | None = None  # THROTTLED until set
    hold: threading.Event | None = None  # RUNNING until set
    run_seconds: float = 0.0  # RUNNING this long after the job starts
    never_finish: bool = False
    fail: tuple[str, str] | None = None  # (failureCode, failure) instead of success
    output: Output = field(default_factory=Output)
    output_url: str | None = None  # "…/{id}.mp4": the link handed back, instead of /files/
    poll_delay_seconds: float = 0.0  # every status answer comes this late


@dataclass
class Job:
    id: str
    model: str
    created_at: float
    started_at: float | None = None  # when it stopped being throttled
    finished_at: float | None = None  # when a poll first saw it end
    cancelled: bool = False
    polls: int = 0
    closed: bool = False  # its output fetched, or cancelled: no longer held by the gateway


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    at: float  # time.time()


class StandIn:
    def __init__(self, video: bytes, host: str = "127.0.0.1") -> None:
        self.video = video
        self.host = host
        self.scripts: dict[str, Script] = {}
        self.jobs: dict[str, Job] = {}
        self._seen: list[Seen] = []
        self._creates: dict[str, int] = {}
        self._open: dict[str, int] = {}
        self.peak_open: dict[str, int] = {}  # per model: most jobs held by the gateway at once
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self._server: uvicorn.Server | None = None
        self.stopping = threading.Event()  # ends every hanging answer
        self.release = threading.Event()  # for scripts to hold jobs on (`Script.hold`)

    # -- what the tests read ----------------------------------------------------------------
    def seen(self, method: str | None = None, prefix: str = "") -> list[Seen]:
        with self._lock:
            return [
                s
                for s in self._seen
                if (method is None or s.method == method) and s.path.startswith(prefix)
            ]

    def creates(self, model: str) -> int:
        """Create requests that named `model`, whatever they were answered."""
        with self._lock:
            return self._creates.get(model, 0)

    def jobs_of(self, model: str) -> list[Job]:
        with self._lock:
            return [j for j in self.jobs.values() if j.model == model]

    # -- running ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def running(self) -> Iterator[StandIn]:
        app = Starlette(
            routes=[
                Route("/v1/text_to_video", self._create, methods=["POST"]),
                Route("/v1/image_to_video", self._create, methods=["POST"]),
                Route("/v1/tasks/{job_id}", self._status, methods=["GET"]),
                Route("/v1/tasks/{job_id}", self._cancel, methods=["DELETE"]),
                Route("/files/{name}", self._file, methods=["GET"]),
            ]
        )
        app.add_middleware(_Recorder, standin=self)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            backlog=4096,
        )
        self._server = server = uvicorn.Server(config)
        self._sock.listen(4096)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [self._sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the stand-in upstream did not start")
            time.sleep(0.02)
        try:
            yield self
        finally:
            self.stopping.set()
            server.should_exit = True
            thread.join(30)
            self._sock.close()

    def record(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self._seen.append(Seen(method, path, headers, time.time()))

    # -- the routes ---------------------------------------------------------------------------
    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {KEY}"

    async def _create(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "Invalid API key")
        body = await request.json()
        model = str(body.get("model"))
        script = self.scripts.get(model, Script())
        with self._lock:
            count = self._creates.get(model, 0)
            self._creates[model] = count + 1
        if count < len(script.create):
            return await _scripted(script.create[count], self.stopping)
        job = Job(str(uuid.uuid4()), model, time.time())
        if script.throttle is None:
            job.started_at = job.created_at
        with self._lock:
            self.jobs[job.id] = job
            self._open[model] = self._open.get(model, 0) + 1
            self.peak_open[model] = max(self.peak_open.get(model, 0), self._open[model])
        return JSONResponse({"id": job.id, "estimatedCost": FREE})

    async def _status(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "Invalid API key")
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            return _error(404, "Task not found")
        script = self.scripts.get(job.model, Script())
        job.polls += 1
        if script.poll_delay_seconds:
            await asyncio.sleep(script.poll_delay_seconds)
        if job.polls <= len(script.polls):
            return await _scripted(script.polls[job.polls - 1], self.stopping)
        return JSONResponse(self._task(job, script))

    def _task(self, job: Job, script: Script) -> dict[str, Any]:
        now = time.time()
        base: dict[str, Any] = {"id": job.id, "createdAt": _iso(job.created_at)}
        if job.cancelled:
            return {**base, "status": "CANCELLED", "cost": FREE}
        if job.started_at is None:
            if script.throttle is not None and not script.throttle.is_set():
                return {**base, "status": "THROTTLED", "estimatedCost": FREE}
            job.started_at = now
        elapsed = now - job.started_at
        held = script.hold is not None and not script.hold.is_set()
        if held or script.never_finish or elapsed < script.run_seconds:
            progress = 0.5 if held or script.never_finish else elapsed / script.run_seconds
            return {
                **base,
                "status": "RUNNING",
                "progress": round(min(progress, 0.99), 3),
                "estimatedCost": FREE,
            }
        if job.finished_at is None:
            job.finished_at = now
        if script.fail is not None:
            code, message = script.fail
            return {**base, "status": "FAILED", "failure": message, "failureCode": code}
        link = (script.output_url or f"{self.url}/files/{{id}}.mp4").format(id=job.id)
        return {**base, "status": "SUCCEEDED", "output": [link], "cost": FREE}

    async def _cancel(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "Invalid API key")
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            return _error(404, "Task not found")
        job.cancelled = True
        self._close(job)
        return Response(status_code=204)

    def _close(self, job: Job) -> None:
        with self._lock:
            if not job.closed:
                job.closed = True
                self._open[job.model] -= 1

    async def _file(self, request: Request) -> Response:
        job_id = request.path_params["name"].removesuffix(".mp4")
        job = self.jobs.get(job_id)
        if job is not None:
            self._close(job)
        output = self.scripts.get(job.model, Script()).output if job else Output()
        body = self.video if output.body is None else output.body
        if output.declare_length:
            return Response(body, media_type=output.content_type)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 4096):
                yield body[start : start + 4096]

        return StreamingResponse(chunks(), media_type=output.content_type)


class _Recorder:
    """ASGI middleware: note every request before it is answered."""

    def __init__(self, app: Any, standin: StandIn) -> None:
        self.app = app
        self.standin = standin

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.standin.record(scope["method"], scope["path"], headers)
        await self.app(scope, receive, send)


async def _scripted(answer: Answer, stopping: threading.Event) -> Response:
    if answer.hang:
        deadline = time.monotonic() + HANG_SECONDS
        while not stopping.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    return Response(
        answer.body,
        status_code=answer.status,
        headers=answer.headers,
        media_type=answer.content_type,
    )


def _error(status: int, message: str) -> Response:
    return Response(
        json.dumps({"error": message}), status_code=status, media_type="application/json"
    )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
