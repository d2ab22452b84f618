"""Runway's official API (CONTRACT.md section 2), for the `runwayml` SDK pointed at reelgate.

    POST   /v1/text_to_video    create a text-to-video task    -> {"id", "estimatedCost"}
    POST   /v1/image_to_video   create an image-to-video task  -> {"id", "estimatedCost"}
    GET    /v1/tasks/{id}       any of the caller's tasks, whichever dialect created it
    DELETE /v1/tasks/{id}       cancel it while it waits or runs; delete it once finished -> 204

The same routes are mounted under `/runwayml/v1` (CometAPI's path for this format). Decisions:

* `X-Runway-Version` is required on every route here: checked right after the key and before the
  body (400 when absent or unknown), and echoed on every success.
* Unknown body fields are ignored. The SDK's typed parameters cover options reelgate does not
  implement (`contentModeration`, `outputFormat`, `audio`, `negativePrompt`, ...) and it passes
  `extra_body` through, so a client written against Runway must not fail on them. The fields we
  do read are strict: `duration: "5"` is a 400, not 5.
* `promptImage` carries one image, `first` or `last` (one is all a task's spec holds); without
  `promptText` the scene is described by `NEUTRAL_PROMPT`; `duration` there defaults to 10 s, as
  Runway's image-to-video does.
* Beyond CONTRACT.md's members, the create answer and a waiting or running task carry
  `estimatedCost`, a finished task `cost`, each `{"credits": 0}`: the SDK 5.x response types
  require them (its strict validation fails without), and a self-hosted render costs nothing.
* A SUCCEEDED task whose files the retention sweep deleted keeps its status with `output: []`.
* Errors: HTTP status plus `{"error": "<message> (request id: …)"}`; a 400 about one field names
  it in the message and adds `issues: [{"path": [...], "message"}]`, as Runway's validation does.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    WithJsonSchema,
    field_validator,
)
from starlette.responses import Response

from reelgate.api import runway_docs
from reelgate.api.auth import CurrentPrincipal
from reelgate.api.cometapi import (
    RUNWAY_STATUS,
    RunwayVersionHeader,
    Seed,
    iso,
    random_seed,
    runway_version,
)
from reelgate.api.errors import DEFAULT_STATUS, first_validation_error, json_response
from reelgate.api.idempotency import IdempotencyKeyHeader, idempotency
from reelgate.api.jsonbody import StrictJsonRoute
from reelgate.api.text import Prompt
from reelgate.core.sizes import RUNWAY_RATIOS, frame_size
from reelgate.core.tasks import Action, Dialect, GenerationSpec, ImageInput, Task, TaskStatus
from reelgate.errors import ApiError, ErrorKind
from reelgate.outbound import UrlRefused
from reelgate.runtime import Runtime

# Paths whose errors this dialect renders (`/v1/videos` belongs to the OpenAI dialect).
PREFIXES = ("/v1/text_to_video", "/v1/image_to_video", "/v1/tasks", "/runwayml/")
MOUNTS = ("/v1", "/runwayml/v1")
NEUTRAL_PROMPT = "the scene in the reference image, gentle natural motion"
IMAGE_DEFAULT_SECONDS = 10
MAX_IMAGE_URI_CHARS = 5 * 1024 * 1024  # Runway's data URI limit; the body limit bites first
FREE = {"credits": 0}  # `cost` and `estimatedCost`: a self-hosted render charges no credits

Duration = Annotated[StrictInt, Field(ge=2, le=10, description="seconds, 2..10")]


def _ratio(value: str) -> str:
    if value not in RUNWAY_RATIOS:
        raise ValueError("must be one of " + ", ".join(RUNWAY_RATIOS))
    return value


Ratio = Annotated[
    str, AfterValidator(_ratio), Field(json_schema_extra={"enum": list(RUNWAY_RATIOS)})
]


class TextToVideoIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(max_length=64, examples=["gen4.5"])
    prompt_text: Prompt = Field(alias="promptText", description="1..1000 characters")
    ratio: Ratio
    duration: Duration
    seed: Seed | None = None


class PromptImageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    uri: str = Field(max_length=MAX_IMAGE_URI_CHARS)
    position: Literal["first", "last"]


def _image_list(value: object) -> object:
    """A bare URI string is the first frame; anything but a string or a list is refused."""
    if isinstance(value, str):
        return [{"uri": value, "position": "first"}]
    if not isinstance(value, list):
        raise ValueError("must be a URI string or a list of {uri, position}")
    return value


class ImageToVideoIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(max_length=64, examples=["gen4_turbo"])
    prompt_image: Annotated[
        list[PromptImageIn],
        BeforeValidator(_image_list),
        WithJsonSchema(runway_docs.PROMPT_IMAGE_SCHEMA),
    ] = Field(alias="promptImage")
    prompt_text: Prompt | None = Field(default=None, alias="promptText")
    ratio: Ratio
    duration: Duration = IMAGE_DEFAULT_SECONDS
    seed: Seed | None = None

    @field_validator("prompt_image")
    @classmethod
    def _one_image(cls, value: list[PromptImageIn]) -> list[PromptImageIn]:
        if len(value) != 1:
            raise ValueError(f"must hold exactly one image, first or last (got {len(value)})")
        return value


class RunwayRenderer:
    """HTTP status plus `{"error": "<message> (request id: …)"}` (CONTRACT.md 2.3)."""

    # Runway answers an unknown task with 404, as the default table does.
    _STATUS: ClassVar[dict[ErrorKind, int]] = DEFAULT_STATUS

    def render(self, err: ApiError, rid: str) -> Response:
        status = self._STATUS[err.kind]
        body: dict[str, Any] = {"error": f"{err.message} (request id: {rid})"}
        if status == 400 and err.param is not None:
            reason = err.message.removeprefix(f"{err.param}: ")
            body["issues"] = [{"path": issue_path(err.param), "message": reason}]
        headers = {"Retry-After": str(err.retry_after_seconds)} if err.retry_after_seconds else None
        return json_response(body, status, headers)

    def from_validation(self, request: Request, exc: RequestValidationError) -> ApiError:
        return first_validation_error(exc)


def issue_path(param: str) -> list[str | int]:
    """`promptImage.0.position` -> `["promptImage", 0, "position"]`."""
    return [int(part) if part.isdigit() else part for part in param.split(".")]


def _required_version(x_runway_version: RunwayVersionHeader = None) -> str:
    return runway_version(x_runway_version, required=True)


# A dependency, so it is checked after the key and before the body is validated.
RequiredVersion = Annotated[str, Depends(_required_version)]


def task_object(task: Task, runtime: Runtime) -> dict[str, Any]:
    """The task in Runway's shape: members by status (CONTRACT.md 2.3)."""
    status = RUNWAY_STATUS[task.status]
    if task.status is TaskStatus.QUEUED and runtime.service.throttled(task):
        status = "THROTTLED"
    body: dict[str, Any] = {"id": task.id, "status": status, "createdAt": iso(task.created_at)}
    if task.status is TaskStatus.RUNNING:
        body["progress"] = round(task.progress, 4)
    elif task.status is TaskStatus.SUCCEEDED:
        outputs = task.outputs
        body["output"] = [] if outputs is None else [runtime.links.url(outputs.video_key)]
    elif task.status is TaskStatus.FAILED:
        body["failure"] = task.failure or "failed"
        body["failureCode"] = task.failure_code or "INTERNAL"
    cost_key = "cost" if task.status.terminal else "estimatedCost"
    body[cost_key] = FREE
    return body


def _image(runtime: Runtime, images: list[PromptImageIn]) -> ImageInput:
    [image] = images
    try:
        runtime.policy.check_image_url(image.uri)
    except UrlRefused as refused:
        param = "promptImage.0.uri"
        raise ApiError(ErrorKind.URL_NOT_ALLOWED, f"{param}: {refused}", param=param) from None
    return ImageInput(url=image.uri, position=image.position)


def build_router(runtime: Runtime, prefix: str) -> APIRouter:
    """The routes under `prefix` (one of `MOUNTS`); only `/v1` is in the OpenAPI document."""
    documented = prefix == "/v1"
    router = APIRouter(
        prefix=prefix,
        tags=["Runway (official format)"],
        route_class=StrictJsonRoute,
        include_in_schema=documented,
    )
    op = prefix.strip("/").replace("/", "_")

    def create(
        request: Request,
        principal: CurrentPrincipal,
        version: str,
        body: TextToVideoIn | ImageToVideoIn,
        idempotency_key: str | None,
    ) -> Response:
        runtime.service.check_model(body.model)
        image = _image(runtime, body.prompt_image) if isinstance(body, ImageToVideoIn) else None
        width, height = frame_size(body.ratio)
        spec = GenerationSpec(
            prompt=body.prompt_text or NEUTRAL_PROMPT,
            model=body.model,
            width=width,
            height=height,
            seconds=body.duration,
            seed=body.seed if body.seed is not None else random_seed(),
            image=image,
        )
        task = runtime.service.create(
            principal,
            idempotency=idempotency(idempotency_key, request.url.path, body),
            dialect=Dialect.RUNWAY,
            action=Action.IMAGE_TO_VIDEO if image else Action.TEXT_TO_VIDEO,
            spec=spec,
            callback_url=None,
            runway_version=version,
        )
        created = {"id": task.id, "estimatedCost": FREE}
        return json_response(created, headers={"X-Runway-Version": version})

    @router.post(
        "/text_to_video",
        operation_id=f"{op}_text_to_video",
        summary="Create a text-to-video task",
        responses=runway_docs.create_responses(op),
    )
    def text_to_video(
        request: Request,
        principal: CurrentPrincipal,
        version: RequiredVersion,
        body: TextToVideoIn,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response:
        """Queue a task and answer at once with its id; poll it with `GET /v1/tasks/{id}`."""
        return create(request, principal, version, body, idempotency_key)

    @router.post(
        "/image_to_video",
        operation_id=f"{op}_image_to_video",
        summary="Create an image-to-video task",
        responses=runway_docs.create_responses(op),
    )
    def image_to_video(
        request: Request,
        principal: CurrentPrincipal,
        version: RequiredVersion,
        body: ImageToVideoIn,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response:
        """Queue a task whose first (or last) frame is `promptImage`; answer with its id."""
        return create(request, principal, version, body, idempotency_key)

    @router.get(
        "/tasks/{task_id}",
        operation_id=f"{op}_get_task",
        summary="Read a task",
        responses=runway_docs.TASK_RESPONSES,
    )
    def get_task(task_id: str, principal: CurrentPrincipal, version: RequiredVersion) -> Response:
        """The task as it stands, created through any dialect; output links are fresh."""
        task = runtime.service.get(principal.owner_id, task_id)
        return json_response(task_object(task, runtime), headers={"X-Runway-Version": version})

    @router.delete(
        "/tasks/{task_id}",
        operation_id=f"{op}_delete_task",
        summary="Cancel or delete a task",
        status_code=204,
        responses=runway_docs.DELETE_RESPONSES,
    )
    def delete_task(
        task_id: str, principal: CurrentPrincipal, version: RequiredVersion
    ) -> Response:
        """Cancel a waiting or running task (it reads CANCELLED once its engine stops); delete a
        finished one with its files, after which its id is unknown."""
        runtime.service.delete(principal.owner_id, task_id)
        return Response(status_code=204, headers={"X-Runway-Version": version})

    return router
