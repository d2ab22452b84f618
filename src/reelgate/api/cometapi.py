"""CometAPI's Runway wrapper, reverse format (CONTRACT.md section 1): the seed's routes.

    POST /runway/pro/generate   create a text- or image-to-video task
    POST /runway/feed           poll it

Unknown fields are ignored, as the wrapper does. Errors are `{"code", "message", "data": null}`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
)
from starlette.responses import Response

from reelgate.api import cometapi_docs
from reelgate.api.auth import CurrentPrincipal
from reelgate.api.errors import first_validation_error, json_response
from reelgate.api.idempotency import IdempotencyKeyHeader, idempotency
from reelgate.api.jsonbody import StrictJsonRoute
from reelgate.api.middleware.request_id import request_started
from reelgate.api.text import Prompt, check_text
from reelgate.core.sizes import COMETAPI_RATIOS, frame_size
from reelgate.core.tasks import (
    Action,
    Dialect,
    GenerationSpec,
    ImageInput,
    MotionVector,
    Task,
    TaskStatus,
)
from reelgate.errors import ApiError, ErrorKind
from reelgate.outbound import UrlRefused
from reelgate.runtime import Runtime
from reelgate.settings import DEFAULT_RUNWAY_VERSION, SUPPORTED_RUNWAY_VERSIONS

PREFIX = "/runway/"
MAX_SEED = 4_294_967_295

Speed = Annotated[StrictFloat, Field(ge=-10, le=10, allow_inf_nan=False)]
Seed = Annotated[StrictInt, Field(ge=0, le=MAX_SEED)]


class MotionVectorIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    x: Speed = 0
    y: Speed = 0
    z: Speed = 0
    r: Speed = 0
    bg_x_pan: Speed = 0
    bg_y_pan: Speed = 0


class OptionsIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    seconds: StrictInt = Field(
        description="clip length: 5 or 10 seconds", json_schema_extra={"enum": [5, 10]}
    )
    motion_vector: MotionVectorIn = Field(
        description="camera speeds in [-10, 10]; a missing component is 0"
    )
    image_as_end_frame: StrictBool = Field(
        False, description="use `image` as the last frame instead of the first"
    )
    seed: Seed | None = Field(None, description="overrides the top-level `seed`")

    @field_validator("seconds")
    @classmethod
    def _seconds(cls, value: int) -> int:
        if value not in (5, 10):
            raise ValueError("must be 5 or 10")
        return value


class GenerateIn(BaseModel):
    """The seed's request body."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "example": {
                "callback_url": "https://example.com/hooks/reelgate",
                "ratio": "16:9",
                "prompt": "a cat",
                "style": "cinematic",
                "model": "gen4",
                "options": {
                    "seconds": 10,
                    "motion_vector": {
                        "x": 0,
                        "y": 0.4,
                        "z": 0,
                        "r": -6,
                        "bg_x_pan": 0,
                        "bg_y_pan": 0,
                    },
                },
            }
        },
    )
    callback_url: str = Field(
        max_length=2048,
        description="absolute http(s) URL that receives the finished task (CONTRACT.md 5)",
    )
    prompt: Prompt = Field(
        description="1..1000 characters after trimming; no control or bidirectional characters "
        "except newline and tab",
        json_schema_extra={"minLength": 1, "maxLength": 1000},
    )
    ratio: str = Field(json_schema_extra={"enum": list(COMETAPI_RATIOS)})
    style: str = Field(
        description="a style preset or free text (at most 64 characters, one line)",
        json_schema_extra={"maxLength": 64},
    )
    model: str = Field(max_length=64, description="a model the server knows, e.g. gen4")
    options: OptionsIn
    image: str | None = Field(
        default=None,
        max_length=22_400_000,
        description="https URL or data:image/...;base64, URI: image-to-video",
    )
    seed: Seed | None = Field(None, description="absent: a random seed, kept on the task")

    @field_validator("style")
    @classmethod
    def _style(cls, value: str) -> str:
        if not value.strip():
            return "none"
        return check_text(value, max_chars=64, allow_newlines=False)

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, value: str) -> str:
        if value not in COMETAPI_RATIOS:
            raise ValueError("must be one of " + ", ".join(COMETAPI_RATIOS))
        return value


class FeedIn(BaseModel):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"example": {"task_id": cometapi_docs.TASK_ID}}
    )
    task_id: str = Field(max_length=64, description="the id /runway/pro/generate returned")


class CometApiRenderer:
    """HTTP status plus `{"code", "message", "data": null}` (CONTRACT.md 1.1)."""

    _CODES: ClassVar[dict[ErrorKind, tuple[int, str]]] = {
        ErrorKind.INVALID_REQUEST: (400, "invalid_request"),
        ErrorKind.UNSUPPORTED_VERSION: (400, "invalid_request"),
        ErrorKind.CALLBACK_URL_EMPTY: (400, "callback_url_empty"),
        ErrorKind.MODEL_NOT_SUPPORTED: (400, "model_not_supported"),
        ErrorKind.URL_NOT_ALLOWED: (400, "url_not_allowed"),
        ErrorKind.TASK_NOT_FOUND: (400, "task_not_exist"),
        ErrorKind.INVALID_TOKEN: (401, "invalid_token"),
        ErrorKind.LINK_INVALID: (403, "forbidden"),
        ErrorKind.NOT_FOUND: (404, "not_found"),
        ErrorKind.METHOD_NOT_ALLOWED: (405, "method_not_allowed"),
        ErrorKind.IDEMPOTENCY_IN_FLIGHT: (409, "idempotency_key_in_use"),
        ErrorKind.IDEMPOTENCY_MISMATCH: (422, "idempotency_key_reused"),
        ErrorKind.REQUEST_TOO_LARGE: (413, "request_too_large"),
        ErrorKind.RATE_LIMITED: (429, "rate_limited"),
        ErrorKind.INTERNAL: (500, "internal_error"),
    }

    def render(self, err: ApiError, rid: str) -> Response:
        status, code = self._CODES[err.kind]
        headers = {"Retry-After": str(err.retry_after_seconds)} if err.retry_after_seconds else None
        body = {"code": code, "message": f"{err.message} (request id: {rid})", "data": None}
        return json_response(body, status, headers)

    def from_validation(self, request: Request, exc: RequestValidationError) -> ApiError:
        if request.url.path.endswith("/generate") and _callback_missing(exc.body):
            return ApiError(
                ErrorKind.CALLBACK_URL_EMPTY, "callback_url is required", param="callback_url"
            )
        return first_validation_error(exc)


def _callback_missing(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    value = body.get("callback_url")
    return value is None or (isinstance(value, str) and not value.strip())


def runway_version(value: str | None, *, required: bool) -> str:
    """The `X-Runway-Version` in force for this request (CONTRACT.md 0)."""
    if value is None:
        if required:
            raise ApiError(
                ErrorKind.UNSUPPORTED_VERSION,
                "the X-Runway-Version header is required; supported: "
                + ", ".join(SUPPORTED_RUNWAY_VERSIONS),
                param="X-Runway-Version",
            )
        return DEFAULT_RUNWAY_VERSION
    if value not in SUPPORTED_RUNWAY_VERSIONS:
        raise ApiError(
            ErrorKind.UNSUPPORTED_VERSION,
            f"X-Runway-Version {value!r} is not supported; supported: "
            + ", ".join(SUPPORTED_RUNWAY_VERSIONS),
            param="X-Runway-Version",
        )
    return value


RunwayVersionHeader = Annotated[
    str | None,
    Header(
        alias="X-Runway-Version",
        description="API version; absent means " + DEFAULT_RUNWAY_VERSION,
        json_schema_extra={"enum": list(SUPPORTED_RUNWAY_VERSIONS)},
    ),
]


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_WRAPPER_STATUS = {
    TaskStatus.QUEUED: "QUEUED",
    TaskStatus.RUNNING: "IN_PROGRESS",
    TaskStatus.SUCCEEDED: "SUCCESS",
    TaskStatus.FAILED: "FAILURE",
    TaskStatus.CANCELLED: "FAILURE",
}
RUNWAY_STATUS = {
    TaskStatus.QUEUED: "PENDING",
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.SUCCEEDED: "SUCCEEDED",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.CANCELLED: "CANCELLED",
}


def task_dto(task: Task, runtime: Runtime) -> dict[str, Any]:
    """The feed's `data` object, also the webhook body (CONTRACT.md 1.2, 1.3)."""
    inner: dict[str, Any] = {
        "id": task.id,
        "status": RUNWAY_STATUS[task.status],
        "createdAt": iso(task.created_at),
    }
    result_url = ""
    fail_reason = ""
    if task.status is TaskStatus.RUNNING:
        inner["progress"] = round(task.progress, 4)
    elif task.status is TaskStatus.SUCCEEDED and task.outputs is not None:
        result_url = runtime.links.url(task.outputs.video_key)
        inner["output"] = [result_url]
        inner["video_url"] = result_url
        inner["poster"] = runtime.links.url(task.outputs.poster_key)
    elif task.status is TaskStatus.FAILED:
        inner["failure"] = task.failure or "failed"
        inner["failureCode"] = task.failure_code or "INTERNAL"
        fail_reason = inner["failure"]
    elif task.status is TaskStatus.CANCELLED:
        fail_reason = "cancelled"
    dto: dict[str, Any] = {
        "task_id": task.id,
        "action": task.action.value,
        "status": _WRAPPER_STATUS[task.status],
        "fail_reason": fail_reason,
        "submit_time": int(task.created_at),
        "start_time": int(task.started_at or 0),
        "finish_time": int(task.finished_at or 0),
        "progress": f"{task.percent}%",
        "result_url": result_url,
        "data": inner,
    }
    if task.outputs_expired:
        dto["output_expired"] = True
    return dto


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(
        prefix="/runway", tags=["CometAPI (reverse format)"], route_class=StrictJsonRoute
    )

    @router.post(
        "/pro/generate",
        operation_id="cometapi_generate",
        summary="Create a text- or image-to-video task",
        response_description="The task is queued",
        responses=cometapi_docs.GENERATE_RESPONSES,
    )
    def generate(
        body: GenerateIn,
        request: Request,
        principal: CurrentPrincipal,
        x_runway_version: RunwayVersionHeader = None,
        idempotency_key: IdempotencyKeyHeader = None,
    ) -> Response:
        """Queue a task and answer at once with its id; with `image` it is image-to-video.

        The result is posted to `callback_url` when the task finishes and is always readable
        with `/runway/feed`. Repeat a request with the same `Idempotency-Key` to retry it safely.
        """
        version = runway_version(x_runway_version, required=False)
        if not body.callback_url.strip():
            raise ApiError(ErrorKind.CALLBACK_URL_EMPTY, "callback_url is required")
        runtime.service.check_model(body.model)
        policy_check(runtime.policy.check_callback_url, body.callback_url)
        image = None
        if body.image is not None:
            policy_check(runtime.policy.check_image_url, body.image)
            position = "last" if body.options.image_as_end_frame else "first"
            image = ImageInput(url=body.image, position=position)
        width, height = frame_size(body.ratio)
        seed = body.options.seed if body.options.seed is not None else body.seed
        spec = GenerationSpec(
            prompt=body.prompt,
            model=body.model,
            width=width,
            height=height,
            seconds=body.options.seconds,
            seed=seed if seed is not None else random_seed(),
            style=body.style,
            motion=MotionVector(**body.options.motion_vector.model_dump()),
            image=image,
        )
        task = runtime.service.create(
            principal,
            idempotency=idempotency(idempotency_key, request.url.path, body),
            dialect=Dialect.COMETAPI,
            action=Action.IMAGE_TO_VIDEO if image else Action.TEXT_TO_VIDEO,
            spec=spec,
            callback_url=body.callback_url.strip(),
            runway_version=version,
        )
        elapsed = time.perf_counter() - request_started(request.scope)
        created = {"code": 200, "msg": "成功", "data": {"task_id": task.id}}
        created["exec_time"] = round(elapsed, 4)
        return json_response(created, headers={"X-Runway-Version": version})

    @router.post(
        "/feed",
        operation_id="cometapi_feed",
        summary="Poll a task",
        responses=cometapi_docs.FEED_RESPONSES,
    )
    async def feed(
        body: FeedIn, principal: CurrentPrincipal, x_runway_version: RunwayVersionHeader = None
    ) -> Response:
        """The task's status, progress and, once it succeeded, fresh signed output links.

        An unknown id and another key's task both answer `task_not_exist`.
        """
        version = runway_version(x_runway_version, required=False)
        if runtime.store.inline_reads:  # one indexed read: cheaper than a thread hop
            task = runtime.service.get(principal.owner_id, body.task_id)
        else:
            task = await run_in_threadpool(runtime.service.get, principal.owner_id, body.task_id)
        return json_response(
            {"code": "success", "message": "", "data": task_dto(task, runtime)},
            headers={"X-Runway-Version": version},
        )

    return router


def policy_check(check: Callable[[str], object], url: str) -> None:
    """Run an outbound-policy check, turning a refusal into `url_not_allowed`."""
    try:
        check(url)
    except UrlRefused as refused:
        raise ApiError(ErrorKind.URL_NOT_ALLOWED, str(refused)) from None


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)
