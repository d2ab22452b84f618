"""A task's states as server-sent events, for the console, the CLI and scripts.

    GET /admin/tasks/{id}/events        text/event-stream

Each event is `event: task`, `id: <attempt>-<rank>-<percent>` and the task in the native shape
(`native.task_public`) as `data`. The stream sends the current state at once, then every change,
and ends after a terminal state (`succeeded`, `failed`, `cancelled`). A client that reconnects
with `Last-Event-ID` is sent the current state unless it already has it; once the task has
finished and the client has its last state, the answer is 204, which tells an `EventSource` to
stop reconnecting. Owner-scoped like every read: another key's task is 404.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from reelgate.api import openapi
from reelgate.api.auth import CurrentPrincipal
from reelgate.api.deps import TasksDep
from reelgate.api.native.routes import task_public
from reelgate.service import TaskService, TaskWatcher, state_id

RETRY_MILLISECONDS = 2000  # how long an EventSource waits before it reconnects


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


_EXAMPLE = (
    "retry: 2000\n\n"
    'id: 1-1-40\nevent: task\ndata: {"id": "3d957031-…", "status": "running", "percent": 40, …}\n\n'
    'id: 1-2-100\nevent: task\ndata: {"id": "3d957031-…", "status": "succeeded", …}\n\n'
)

router = APIRouter(prefix="/admin", tags=["reelgate tasks"])


def watcher(request: Request, tasks: TaskService) -> TaskWatcher:
    """The app's one watcher, made on first use on the app's event loop."""
    state = request.app.state
    found = getattr(state, "task_watcher", None)
    if isinstance(found, TaskWatcher):
        return found
    made = TaskWatcher(tasks.read_many, inline_reads=tasks.inline_reads)
    state.task_watcher = made
    return made


@router.get(
    "/tasks/{task_id}/events",
    operation_id="native_task_events",
    summary="Follow a task as server-sent events until it finishes",
    response_class=EventStreamResponse,
    responses={
        200: {
            "description": "`event: task` with the task (the `Task` schema) as JSON `data`, at "
            "once and at every change; the stream ends after a terminal status. Lines starting "
            "with `:` keep an idle connection open.",
            "headers": openapi.REQUEST_ID_HEADER,
            "content": {"text/event-stream": {"schema": {"type": "string"}, "example": _EXAMPLE}},
        },
        204: {
            "description": "The task has finished and `Last-Event-ID` is its last state: "
            "nothing more will come (an EventSource stops reconnecting)",
            "headers": openapi.REQUEST_ID_HEADER,
        },
        **openapi.default_errors(400, 401, 404, 413, 429, 500),
    },
)
async def events(
    task_id: str,
    request: Request,
    principal: CurrentPrincipal,
    tasks: TasksDep,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=64,
            description="the `id` of the last event received, when reconnecting",
        ),
    ] = None,
) -> Response:
    if tasks.inline_reads:
        task = tasks.get(principal.owner_id, task_id)
    else:
        task = await run_in_threadpool(tasks.get, principal.owner_id, task_id)
    if task.status.terminal and state_id(task) == last_event_id:
        return Response(status_code=204)
    states = watcher(request, tasks).states(task, last_event_id)

    async def stream() -> AsyncIterator[bytes]:
        yield f"retry: {RETRY_MILLISECONDS}\n\n".encode()
        # aclosing: a client that goes away stops following the task at once.
        async with contextlib.aclosing(states):
            async for state in states:
                if state is None:
                    yield b": keep-alive\n\n"
                    continue
                data = orjson.dumps(task_public(state, tasks))
                yield b"id: " + state_id(state).encode() + b"\nevent: task\ndata: " + data + b"\n\n"

    return EventStreamResponse(
        stream(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
