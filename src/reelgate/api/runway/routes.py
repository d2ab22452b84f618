"""Runway's official API (CONTRACT.md section 2), for the `runwayml` SDK pointed at reelgate.

    POST   /v1/text_to_video    create a text-to-video task    -> {"id", "estimatedCost"}
    POST   /v1/image_to_video   create an image-to-video task  -> {"id", "estimatedCost"}
    GET    /v1/tasks/{id}       any of the caller's tasks, whichever dialect created it
    DELETE /v1/tasks/{id}       cancel it while it waits or runs; delete it once finished -> 204

The same router is mounted under `/runwayml/v1` (CometAPI's path for this format). Decisions:

* `X-Runway-Version` is required on every route here: checked right after the key and before the
  body (400 when absent or unknown), and echoed on every success.
* `promptImage` carries one image, `first` or `last` (one is all a task's spec holds); without
  `promptText` the scene is described by `NEUTRAL_PROMPT`; `duration` there defaults to 10 s, as
  Runway's image-to-video does.
* Beyond CONTRACT.md's members, the create answer and a waiting or running task carry
  `estimatedCost`, a finished task `cost`, each `{"credits": 0}`: the SDK 5.x response types
  require them (its strict validation fails without), and a self-hosted render costs nothing.
* A SUCCEEDED task whose files the retention sweep deleted keeps its status with `output: []`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from reelgate.api.auth import CurrentPrincipal
from reelgate.api.deps import TasksDep
from reelgate.api.middleware.request_id import request_id
from reelgate.api.runway import docs
from reelgate.api.runway.schemas import ImageToVideoIn, TextToVideoIn
from reelgate.api.wire import (
    IdempotencyKeyHeader,
    RunwayVersionHeader,
    StrictJsonRoute,
    idempotency,
    iso,
    json_response,
    runway_version,
)
from reelgate.core.tasks import Task, TaskStatus
from reelgate.service import CreateTask, ImageUrl, TaskService

DIALECT = "runway"
MOUNTS = ("/v1", "/runwayml/v1")  # only the first is in the OpenAPI document
NEUTRAL_PROMPT = "the scene in the reference image, gentle natural motion"
FREE = {"credits": 0}  # `cost` and `estimatedCost`: a self-hosted render charges no credits
STATUS = {
    TaskStatus.QUEUED: "PENDING",
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.SUCCEEDED: "SUCCEEDED",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.CANCELLED: "CANCELLED",
}


def _required_version(x_runway_version: RunwayVersionHeader = None) -> str:
    return runway_version(x_runway_version, required=True)


# A dependency, so it is checked after the key and before the body is validated.
RequiredVersion = Annotated[str, Depends(_required_version)]

router = APIRouter(tags=["Runway (official format)"], route_class=StrictJsonRoute)


def task_object(task: Task, tasks: TaskService) -> dict[str, Any]:
    """The task in Runway's shape: members by status (CONTRACT.md 2.3)."""
    status = "THROTTLED" if tasks.throttled(task) else STATUS[task.status]
    body: dict[str, Any] = {"id": task.id, "status": status, "createdAt": iso(task.created_at)}
    if task.status is TaskStatus.RUNNING:
        body["progress"] = round(task.progress, 4)
    elif task.status is TaskStatus.SUCCEEDED:
        links = tasks.links(task)
        body["output"] = [] if links is None else [links.video]
    elif task.status is TaskStatus.FAILED:
        body["failure"] = task.failure or "failed"
        body["failureCode"] = task.failure_code or "INTERNAL"
    cost_key = "cost" if task.status.terminal else "estimatedCost"
    body[cost_key] = FREE
    return body


def _create(
    request: Request,
    principal: CurrentPrincipal,
    tasks: TaskService,
    version: str,
    body: TextToVideoIn | ImageToVideoIn,
    idempotency_key: str | None,
) -> Response:
    image = None
    if isinstance(body, ImageToVideoIn):
        [first] = body.prompt_image
        image = ImageUrl(first.uri, first.position)
    task = tasks.create(
        principal,
        CreateTask(
            dialect=DIALECT,
            api_version=version,
            prompt=body.prompt_text or NEUTRAL_PROMPT,
            model=body.model,
            ratio=body.ratio,
            seconds=body.duration,
            seed=body.seed,
            image=image,
            idempotency=idempotency(idempotency_key, request.url.path, body),
            request_id=request_id(request.scope),
        ),
    )
    created = {"id": task.id, "estimatedCost": FREE}
    return json_response(created, headers={"X-Runway-Version": version})


@router.post(
    "/text_to_video",
    operation_id="v1_text_to_video",
    summary="Create a text-to-video task",
    responses=docs.create_responses("v1"),
)
def text_to_video(
    request: Request,
    principal: CurrentPrincipal,
    tasks: TasksDep,
    version: RequiredVersion,
    body: TextToVideoIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Queue a task and answer at once with its id; poll it with `GET /v1/tasks/{id}`."""
    return _create(request, principal, tasks, version, body, idempotency_key)


@router.post(
    "/image_to_video",
    operation_id="v1_image_to_video",
    summary="Create an image-to-video task",
    responses=docs.create_responses("v1"),
)
def image_to_video(
    request: Request,
    principal: CurrentPrincipal,
    tasks: TasksDep,
    version: RequiredVersion,
    body: ImageToVideoIn,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Queue a task whose first (or last) frame is `promptImage`; answer with its id."""
    return _create(request, principal, tasks, version, body, idempotency_key)


@router.get(
    "/tasks/{task_id}",
    operation_id="v1_get_task",
    summary="Read a task",
    responses=docs.TASK_RESPONSES,
)
def get_task(
    task_id: str, principal: CurrentPrincipal, tasks: TasksDep, version: RequiredVersion
) -> Response:
    """The task as it stands, created through any dialect; output links are fresh."""
    task = tasks.get(principal.owner_id, task_id)
    return json_response(task_object(task, tasks), headers={"X-Runway-Version": version})


@router.delete(
    "/tasks/{task_id}",
    operation_id="v1_delete_task",
    summary="Cancel or delete a task",
    status_code=204,
    responses=docs.DELETE_RESPONSES,
)
def delete_task(
    task_id: str, principal: CurrentPrincipal, tasks: TasksDep, version: RequiredVersion
) -> Response:
    """Cancel a waiting or running task (it reads CANCELLED once its engine stops); delete a
    finished one with its files, after which its id is unknown."""
    tasks.delete(principal.owner_id, task_id)
    return Response(status_code=204, headers={"X-Runway-Version": version})
