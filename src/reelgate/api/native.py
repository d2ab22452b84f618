"""reelgate's own task routes, used by the `reelgate generate` and `reelgate tasks` commands.

    POST /admin/tasks          create (every option of the engine, strict: unknown fields → 400)
    GET  /admin/tasks          list the caller's tasks, newest first (?limit=&after=)
    GET  /admin/tasks/{id}     one task

Same store, same rules as the dialects: a task made here is readable through all three, and a
task made through any dialect is readable here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
)
from starlette.responses import Response

from reelgate.api import native_docs
from reelgate.api.auth import CurrentPrincipal
from reelgate.api.cometapi import MAX_SEED, MotionVectorIn, policy_check, random_seed
from reelgate.api.errors import json_response
from reelgate.api.idempotency import IdempotencyKeyHeader, idempotency
from reelgate.api.jsonbody import StrictJsonRoute
from reelgate.api.text import Prompt, check_text
from reelgate.core.sizes import COMETAPI_RATIOS, OPENAI_SIZES, frame_size
from reelgate.core.tasks import (
    Action,
    Dialect,
    GenerationSpec,
    ImageInput,
    MotionVector,
    Task,
    TaskStatus,
)
from reelgate.runtime import Runtime
from reelgate.settings import DEFAULT_RUNWAY_VERSION

RATIOS = tuple(dict.fromkeys((*COMETAPI_RATIOS, *OPENAI_SIZES)))


class MotionIn(MotionVectorIn):
    """The CometAPI motion vector, strict: our own format rejects unknown fields."""

    model_config = ConfigDict(extra="forbid")


class TaskCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Prompt
    ratio: str = "16:9"
    seconds: StrictInt = Field(default=5, ge=1, le=20)
    style: str = "none"
    model: str = Field(default="gen4", max_length=64)
    motion: MotionIn = Field(default_factory=MotionIn)
    seed: Annotated[StrictInt, Field(ge=0, le=MAX_SEED)] | None = None
    image: str | None = Field(default=None, max_length=1_000_000)
    image_as_end_frame: StrictBool = False
    callback_url: str | None = Field(default=None, max_length=2048)

    @field_validator("style")
    @classmethod
    def _style(cls, value: str) -> str:
        return check_text(value, max_chars=64, allow_newlines=False)

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, value: str) -> str:
        if value not in RATIOS:
            raise ValueError("must be one of " + ", ".join(RATIOS))
        return value


def task_public(task: Task, runtime: Runtime) -> dict[str, Any]:
    """The native task shape: everything a person at a terminal wants to see."""
    spec = task.spec
    body: dict[str, Any] = {
        "id": task.id,
        "status": task.status.value,
        "progress": 1.0 if task.status is TaskStatus.SUCCEEDED else round(task.progress, 4),
        "percent": task.percent,
        "action": task.action.value,
        "dialect": task.dialect.value,
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
        "video_url": None,
        "poster_url": None,
    }
    if task.outputs is not None:
        body["video_url"] = runtime.links.url(task.outputs.video_key)
        body["poster_url"] = runtime.links.url(task.outputs.poster_key)
    return body


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["reelgate tasks"], route_class=StrictJsonRoute)

    @router.post("/tasks", summary="Create a task with every engine option", **native_docs.CREATE)
    def create(
        body: TaskCreate,
        request: Request,
        principal: CurrentPrincipal,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response:
        runtime.service.check_model(body.model)
        if body.callback_url is not None:
            policy_check(runtime.policy.check_callback_url, body.callback_url)
        image = None
        if body.image is not None:
            policy_check(runtime.policy.check_image_url, body.image)
            image = ImageInput(body.image, "last" if body.image_as_end_frame else "first")
        width, height = frame_size(body.ratio)
        spec = GenerationSpec(
            prompt=body.prompt,
            model=body.model,
            width=width,
            height=height,
            seconds=body.seconds,
            seed=body.seed if body.seed is not None else random_seed(),
            style=body.style,
            motion=MotionVector(**body.motion.model_dump()),
            image=image,
        )
        task = runtime.service.create(
            principal,
            idempotency=idempotency(idempotency_key, request.url.path, body),
            dialect=Dialect.NATIVE,
            action=Action.IMAGE_TO_VIDEO if image else Action.TEXT_TO_VIDEO,
            spec=spec,
            callback_url=body.callback_url,
            runway_version=DEFAULT_RUNWAY_VERSION,
        )
        return json_response(task_public(task, runtime))

    @router.get("/tasks", summary="The caller's tasks, newest first", **native_docs.LIST)
    def list_tasks(
        principal: CurrentPrincipal,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        after: str | None = None,
    ) -> Response:
        tasks = runtime.service.list(
            principal.owner_id, after=after, limit=limit, newest_first=True
        )
        return json_response({"data": [task_public(t, runtime) for t in tasks]})

    @router.get("/tasks/{task_id}", summary="One task", **native_docs.SHOW)
    def show(task_id: str, principal: CurrentPrincipal) -> Response:
        return json_response(task_public(runtime.service.get(principal.owner_id, task_id), runtime))

    return router
