"""reelgate's own task routes, used by the `reelgate generate` and `reelgate tasks` commands.

    POST /admin/tasks          create (every option of the engine, strict: unknown fields → 400)
    GET  /admin/tasks          list the caller's tasks, newest first (?limit=&after=&status=&model=)
    GET  /admin/tasks/{id}     one task
    DELETE /admin/tasks/{id}   delete a finished task (a waiting or running one is cancelled)

Same store, same rules as the dialects: a task made here is readable through all three, and a
task made through any dialect is readable here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from reelgate.api.auth import CurrentPrincipal
from reelgate.api.deps import TasksDep
from reelgate.api.middleware.request_id import request_id
from reelgate.api.native import docs
from reelgate.api.native.schemas import TaskCreate
from reelgate.api.wire import (
    DEFAULT_RUNWAY_VERSION,
    IdempotencyKeyHeader,
    StrictJsonRoute,
    idempotency,
    json_response,
)
from reelgate.core.tasks import MotionVector, Task, TaskStatus
from reelgate.service import CreateTask, ImageUrl, TaskService

DIALECT = "native"

router = APIRouter(prefix="/admin", tags=["reelgate tasks"], route_class=StrictJsonRoute)


def task_public(task: Task, tasks: TaskService) -> dict[str, Any]:
    """The native task shape: everything a person at a terminal wants to see."""
    spec = task.spec
    links = tasks.links(task)
    return {
        "id": task.id,
        "status": task.status.value,
        "progress": 1.0 if task.status is TaskStatus.SUCCEEDED else round(task.progress, 4),
        "percent": task.percent,
        "action": task.action.value,
        "dialect": task.dialect,
        "model": spec.model,
        "prompt": spec.prompt,
        "width": spec.width,
        "height": spec.height,
        "seconds": spec.seconds,
        "seed": spec.seed,
        "style": spec.style,
        "motion": spec.to_json()["motion"],
        "created_at": task.created_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
        "attempt": task.attempt,
        "failure": task.failure,
        "failure_code": task.failure_code,
        "output_expired": task.outputs_expired,
        "video_url": None if links is None else links.video,
        "poster_url": None if links is None else links.poster,
    }


@router.post(
    "/tasks",
    summary="Create a task with every engine option",
    **docs.CREATE,
)
def create(
    body: TaskCreate,
    request: Request,
    principal: CurrentPrincipal,
    tasks: TasksDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    image = None
    if body.image is not None:
        image = ImageUrl(body.image, "last" if body.image_as_end_frame else "first")
    task = tasks.create(
        principal,
        CreateTask(
            dialect=DIALECT,
            api_version=DEFAULT_RUNWAY_VERSION,
            prompt=body.prompt,
            model=body.model,
            ratio=body.ratio,
            seconds=body.seconds,
            seed=body.seed,
            style=body.style,
            motion=MotionVector(**body.motion.model_dump()),
            image=image,
            callback_url=body.callback_url,
            idempotency=idempotency(idempotency_key, request.url.path, body),
            request_id=request_id(request.scope),
        ),
    )
    return json_response(task_public(task, tasks))


@router.get(
    "/tasks",
    summary="The caller's tasks, newest first",
    **docs.LIST,
)
def list_tasks(
    principal: CurrentPrincipal,
    tasks: TasksDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    after: str | None = None,
    status: Annotated[
        TaskStatus | None, Query(description="only the tasks with this status")
    ] = None,
    model: Annotated[
        str | None, Query(max_length=64, description="only the tasks of this model")
    ] = None,
) -> Response:
    found = tasks.list_page(
        principal.owner_id,
        after=after,
        limit=limit,
        newest_first=True,
        status=status,
        model=model,
    )
    return json_response({"data": [task_public(t, tasks) for t in found]})


@router.get("/tasks/{task_id}", summary="One task", **docs.SHOW)
def show(task_id: str, principal: CurrentPrincipal, tasks: TasksDep) -> Response:
    return json_response(task_public(tasks.get(principal.owner_id, task_id), tasks))


@router.delete("/tasks/{task_id}", summary="Delete a finished task, or cancel one", **docs.DELETE)
def delete(task_id: str, principal: CurrentPrincipal, tasks: TasksDep) -> Response:
    tasks.delete(principal.owner_id, task_id)
    return Response(status_code=204)
