"""CometAPI's Runway wrapper, reverse format (CONTRACT.md section 1): the seed's routes.

    POST /runway/pro/generate   create a text- or image-to-video task
    POST /runway/feed           poll it

The feed's `data` object is also the webhook body (notifier/payload.py).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import Response

from reelgate.api.auth import CurrentPrincipal
from reelgate.api.cometapi import docs
from reelgate.api.cometapi.schemas import FeedIn, GenerateIn
from reelgate.api.deps import TasksDep
from reelgate.api.middleware.request_id import request_id, request_started
from reelgate.api.wire import (
    IdempotencyKeyHeader,
    RunwayVersionHeader,
    StrictJsonRoute,
    idempotency,
    json_response,
    runway_version,
)
from reelgate.core.tasks import MotionVector
from reelgate.notifier.payload import task_payload
from reelgate.service import CreateTask, ImageUrl

DIALECT = "cometapi"

router = APIRouter(
    prefix="/runway", tags=["CometAPI (reverse format)"], route_class=StrictJsonRoute
)


@router.post(
    "/pro/generate",
    operation_id="cometapi_generate",
    summary="Create a text- or image-to-video task",
    response_description="The task is queued",
    responses=docs.GENERATE_RESPONSES,
)
def generate(
    body: GenerateIn,
    request: Request,
    principal: CurrentPrincipal,
    tasks: TasksDep,
    x_runway_version: RunwayVersionHeader = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Queue a task and answer at once with its id; with `image` it is image-to-video.

    The result is posted to `callback_url` when the task finishes and is always readable
    with `/runway/feed`. Repeat a request with the same `Idempotency-Key` to retry it safely.
    """
    version = runway_version(x_runway_version, required=False)
    options = body.options
    image = None
    if body.image is not None:
        image = ImageUrl(body.image, "last" if options.image_as_end_frame else "first")
    task = tasks.create(
        principal,
        CreateTask(
            dialect=DIALECT,
            api_version=version,
            prompt=body.prompt,
            model=body.model,
            ratio=body.ratio,
            seconds=options.seconds,
            seed=options.seed if options.seed is not None else body.seed,
            style=body.style,
            motion=MotionVector(**options.motion_vector.model_dump()),
            image=image,
            callback_url=body.callback_url,
            idempotency=idempotency(idempotency_key, request.url.path, body),
            request_id=request_id(request.scope),
        ),
    )
    elapsed = time.perf_counter() - request_started(request.scope)
    created = {"code": 200, "msg": "成功", "data": {"task_id": task.id}}
    created["exec_time"] = round(elapsed, 4)
    return json_response(created, headers={"X-Runway-Version": version})


@router.post(
    "/feed",
    operation_id="cometapi_feed",
    summary="Poll a task",
    responses=docs.FEED_RESPONSES,
)
async def feed(
    body: FeedIn,
    principal: CurrentPrincipal,
    tasks: TasksDep,
    x_runway_version: RunwayVersionHeader = None,
) -> Response:
    """The task's status, progress and, once it succeeded, fresh signed output links.

    An unknown id and another key's task both answer `task_not_exist`.
    """
    version = runway_version(x_runway_version, required=False)
    if tasks.inline_reads:  # one indexed read: cheaper than a thread hop
        task = tasks.get(principal.owner_id, body.task_id)
    else:
        task = await run_in_threadpool(tasks.get, principal.owner_id, body.task_id)
    return json_response(
        {"code": "success", "message": "", "data": task_payload(task, tasks.links(task))},
        headers={"X-Runway-Version": version},
    )
