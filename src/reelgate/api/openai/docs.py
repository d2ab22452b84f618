"""What the OpenAI video routes take and send back, for the OpenAPI document (CONTRACT.md 3).

The routes build their bodies as plain dicts; these models only describe them. `POST /v1/videos`
reads its body by hand (JSON or multipart), so its request body is documented here too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reelgate.api import openapi
from reelgate.api.openai.schemas import CreateVideoIn

VIDEO_ID = "3d957031-9a2a-45e2-9dc7-bc8513059c50"
_RID = "(request id: 5f0c9b1e2a7d4c3b8e6f1a2d)"


class VideoErrorOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="VideoError")
    code: str = Field(description="e.g. cancelled, internal, asset_invalid")
    message: str


class VideoOut(BaseModel):
    """A task as OpenAI's video object; every task is one, whichever dialect created it."""

    model_config = ConfigDict(extra="forbid", title="Video")
    id: str
    object: Literal["video"]
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int = Field(ge=0, le=100, description="integer percent")
    created_at: int = Field(description="unix seconds")
    completed_at: int | None = Field(description="unix seconds, once finished")
    expires_at: int | None = Field(description="when a completed video's files are deleted")
    prompt: str
    seconds: str = Field(examples=["4"])
    size: str = Field(examples=["720x1280"])
    remixed_from_video_id: str | None
    error: VideoErrorOut | None = Field(description="on failed: why (code cancelled if cancelled)")


class VideoListOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="VideoList")
    object: Literal["list"]
    data: list[VideoOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeletedOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="VideoDeleted")
    id: str
    object: Literal["video.deleted"]
    deleted: bool = Field(description="false only if a running render has not stopped yet")


class OpenAIErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: str = Field(description="what is wrong, ending with (request id: …)")
    type: str = Field(examples=["invalid_request_error"])
    param: str | None = Field(description="the parameter at fault, if any")
    code: str | None = Field(examples=["invalid_value"])


class OpenAIErrorOut(BaseModel):
    """`{"error": {"message", "type", "param", "code"}}`."""

    model_config = ConfigDict(extra="forbid", title="OpenAIError")
    error: OpenAIErrorDetail


def _error(status_type: str, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    detail = {"message": f"{message} {_RID}", "type": status_type, "param": param, "code": code}
    return {"error": detail}


_BAD = "invalid_request_error"
ERROR_EXAMPLES: dict[int, dict[str, Any]] = {
    400: {
        "invalid_value": _error(
            _BAD, "invalid_value", "Invalid value for 'seconds': supported values are …", "seconds"
        ),
        "missing_required_parameter": _error(
            _BAD, "missing_required_parameter", "Missing required parameter: 'prompt'.", "prompt"
        ),
        "video_not_completed": _error(_BAD, "video_not_completed", "video … is in_progress"),
    },
    401: {"invalid_api_key": _error("authentication_error", "invalid_api_key", "invalid token")},
    404: {
        "video_not_found": _error("not_found_error", "video_not_found", "task '…' does not exist")
    },
    409: {"idempotency_key_in_use": _error(_BAD, "idempotency_key_in_use", "still processing")},
    413: {"request_too_large": _error(_BAD, "request_too_large", "the body is too large")},
    422: {"idempotency_key_reused": _error(_BAD, "idempotency_key_reused", "key reused")},
    429: {"rate_limit_exceeded": _error("rate_limit_error", "rate_limit_exceeded", "slow down")},
    500: {"internal_error": _error("server_error", "internal_error", "internal error")},
}


def _errors(*statuses: int) -> openapi.Responses:
    return openapi.errors(OpenAIErrorOut, ERROR_EXAMPLES, statuses)


def _multipart_schema() -> dict[str, Any]:
    schema = CreateVideoIn.model_json_schema(ref_template="#/components/schemas/{model}")
    properties = {k: v for k, v in schema["properties"].items() if k != "input_reference"}
    properties["input_reference"] = {
        "type": "string",
        "format": "binary",
        "description": "the first frame: a PNG, JPEG, WebP or GIF image of at most 16 MiB",
    }
    return {"type": "object", "required": ["prompt"], "properties": properties}


def _json_schema() -> dict[str, Any]:
    schema = CreateVideoIn.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        # Inline the one nested model so the request body needs no component of its own.
        schema["properties"]["input_reference"] = {
            "anyOf": [definition, {"type": "null"}],
            "description": f"{name}: the first frame by URL (https or data:image/…)",
        }
    return schema


CREATE: dict[str, Any] = {
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _json_schema()},
                "multipart/form-data": {"schema": _multipart_schema()},
            },
        }
    },
    "responses": {
        200: openapi.ok(VideoOut, "The video is queued."),
        **_errors(400, 401, 409, 413, 422, 429, 500),
    },
}
LIST: dict[str, Any] = {
    "responses": {200: openapi.ok(VideoListOut, "A page of videos."), **_errors(400, 401, 429)}
}
RETRIEVE: dict[str, Any] = {
    "responses": {200: openapi.ok(VideoOut, "The video."), **_errors(401, 404, 429)}
}
DELETE: dict[str, Any] = {
    "responses": {
        200: openapi.ok(VideoDeletedOut, "Deleted (a queued or running video is cancelled first)."),
        **_errors(401, 404, 429),
    }
}
CONTENT: dict[str, Any] = {
    "responses": {
        200: {
            "description": "The MP4 (variant=video) or the JPEG poster (variant=thumbnail).",
            "content": {
                "video/mp4": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            },
            "headers": openapi.REQUEST_ID_HEADER,
        },
        302: {"description": "With a remote blob store: a signed, expiring link to the file."},
        **_errors(400, 401, 404, 429),
    },
}
REMIX: dict[str, Any] = {
    "responses": {200: openapi.ok(VideoOut, "The new video."), **_errors(400, 401, 404, 429)}
}
