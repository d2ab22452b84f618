"""What the CometAPI routes send back, as models for the OpenAPI document (CONTRACT.md 1).

The routes build these bodies as plain dicts and send them with orjson; the models only describe
them. tests/integration/api/test_schemathesis.py checks every answer against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reelgate.api import openapi

TASK_ID = "3d957031-9a2a-45e2-9dc7-bc8513059c50"
_RID = "(request id: 5f0c9b1e2a7d4c3b8e6f1a2d)"


class CreatedTask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task_id: str = Field(description="UUID of the new task; poll it with /runway/feed")


class GenerateOut(BaseModel):
    """The success envelope of `POST /runway/pro/generate`."""

    model_config = ConfigDict(extra="forbid", title="CometApiCreated")
    code: Literal[200]
    msg: str = Field(description='always "成功" (success)')
    data: CreatedTask
    exec_time: float = Field(ge=0, description="seconds this request took inside the server")


class RunwayTaskOut(BaseModel):
    """The task in Runway's own shape (CONTRACT.md 2.3); optional keys appear by status."""

    model_config = ConfigDict(extra="forbid", title="RunwayTask")
    id: str
    status: Literal["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
    createdAt: str = Field(json_schema_extra={"format": "date-time"})  # noqa: N815 - wire name
    progress: float = Field(0.0, ge=0, le=1, description="while RUNNING: 0..1")
    output: list[str] = Field(default_factory=list, description="on SUCCEEDED: [video_url]")
    video_url: str = Field("", description="on SUCCEEDED: signed, expiring link to the MP4")
    poster: str = Field("", description="on SUCCEEDED: signed link to a JPEG still")
    failure: str = Field("", description="on FAILED: what went wrong")
    failureCode: str = Field("", description="on FAILED, e.g. INTERNAL")  # noqa: N815


class TaskDto(BaseModel):
    """The feed's `data` object, also the webhook body (CONTRACT.md 1.2, 1.3)."""

    model_config = ConfigDict(extra="forbid", title="CometApiTask")
    task_id: str
    action: Literal["TEXT_TO_VIDEO", "IMAGE_TO_VIDEO"]
    status: Literal["QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE"]
    fail_reason: str = Field(description='"" unless FAILURE; "cancelled" for a cancelled task')
    submit_time: int = Field(ge=0, description="unix seconds")
    start_time: int = Field(ge=0, description="unix seconds; 0 until started")
    finish_time: int = Field(ge=0, description="unix seconds; 0 until finished")
    progress: str = Field(pattern=r"^(100|[1-9]?[0-9])%$", examples=["40%"])
    result_url: str = Field(description="the video URL on SUCCESS, else empty")
    output_expired: bool = Field(
        False, description="true once the retention period has deleted the outputs"
    )
    data: RunwayTaskOut


class FeedOut(BaseModel):
    """The success envelope of `POST /runway/feed`."""

    model_config = ConfigDict(extra="forbid", title="CometApiFeed")
    code: Literal["success"]
    message: Literal[""]
    data: TaskDto


class CometApiErrorOut(BaseModel):
    """HTTP status plus `{"code", "message", "data": null}` (CONTRACT.md 1.1)."""

    model_config = ConfigDict(extra="forbid", title="CometApiError")
    code: str = Field(description="the error code, e.g. invalid_request")
    message: str = Field(description="what is wrong, ending with (request id: …)")
    data: None


GENERATE_EXAMPLE = {"code": 200, "msg": "成功", "data": {"task_id": TASK_ID}, "exec_time": 0.012}
FEED_EXAMPLE = {
    "code": "success",
    "message": "",
    "data": {
        "task_id": TASK_ID,
        "action": "TEXT_TO_VIDEO",
        "status": "IN_PROGRESS",
        "fail_reason": "",
        "submit_time": 1773366766,
        "start_time": 1773366767,
        "finish_time": 0,
        "progress": "40%",
        "result_url": "",
        "data": {
            "id": TASK_ID,
            "status": "RUNNING",
            "createdAt": "2026-03-13T09:52:46Z",
            "progress": 0.4,
        },
    },
}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": f"{message} {_RID}", "data": None}


ERROR_EXAMPLES: dict[int, dict[str, Any]] = {
    400: {
        "invalid_request": _error("invalid_request", "options.seconds: must be 5 or 10"),
        "callback_url_empty": _error("callback_url_empty", "callback_url is required"),
        "model_not_supported": _error(
            "model_not_supported", "model 'gen9' is not supported; available models: gen4, …"
        ),
        "url_not_allowed": _error(
            "url_not_allowed", "the callback URL host 10.0.0.8 is a private address; …"
        ),
        "task_not_exist": _error("task_not_exist", f"task '{TASK_ID}' does not exist"),
    },
    401: {"invalid_token": _error("invalid_token", "invalid token")},
    409: {
        "idempotency_key_in_use": _error(
            "idempotency_key_in_use", "a request with this Idempotency-Key is still being processed"
        )
    },
    413: {"request_too_large": _error("request_too_large", "the body exceeds 1048576 bytes")},
    422: {
        "idempotency_key_reused": _error(
            "idempotency_key_reused",
            "this Idempotency-Key was already used with a different request body",
        )
    },
    429: {"rate_limited": _error("rate_limited", "this key is over its request rate")},
    500: {"internal_error": _error("internal_error", "internal error")},
}


def _errors(*statuses: int, bad_request: tuple[str, ...]) -> openapi.Responses:
    examples = {**ERROR_EXAMPLES, 400: {k: ERROR_EXAMPLES[400][k] for k in bad_request}}
    return openapi.errors(CometApiErrorOut, examples, statuses)


GENERATE_RESPONSES: openapi.Responses = {
    200: openapi.ok(
        GenerateOut,
        "The task is queued. Replayed unchanged for a repeated `Idempotency-Key`.",
        example=GENERATE_EXAMPLE,
        headers=openapi.RUNWAY_VERSION_HEADER,
    ),
    **_errors(
        400,
        401,
        409,
        413,
        422,
        429,
        500,
        bad_request=(
            "invalid_request",
            "callback_url_empty",
            "model_not_supported",
            "url_not_allowed",
        ),
    ),
}
# OpenAPI links: where the new task's id goes next (docs, and Schemathesis's stateful phase).
_NEW_TASK = "$response.body#/data/task_id"
GENERATE_RESPONSES[200]["links"] = {
    "PollTask": {"operationId": "cometapi_feed", "requestBody": {"task_id": _NEW_TASK}},
    "CancelTask": {"operationId": "admin_cancel_task", "parameters": {"task_id": _NEW_TASK}},
    "TaskDeliveries": {
        "operationId": "admin_list_deliveries",
        "parameters": {"task_id": _NEW_TASK},
    },
}
FEED_RESPONSES: openapi.Responses = {
    200: openapi.ok(
        FeedOut,
        "The task as it stands; output links are signed and fresh on every call.",
        example=FEED_EXAMPLE,
        headers=openapi.RUNWAY_VERSION_HEADER,
    ),
    **_errors(400, 401, 413, 429, 500, bad_request=("invalid_request", "task_not_exist")),
}
