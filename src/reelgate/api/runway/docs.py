"""What the Runway routes send back, as models for the OpenAPI document (CONTRACT.md 2).

The routes build these bodies as plain dicts and send them with orjson; the models only describe
them. tests/integration/api/test_schemathesis.py checks every answer against them, and
tests/integration/api/test_runway_sdk.py checks them against the official SDK's own types.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reelgate.api import openapi

TASK_ID = "3d957031-9a2a-45e2-9dc7-bc8513059c50"
_RID = "(request id: 5f0c9b1e2a7d4c3b8e6f1a2d)"


# `promptImage` is validated as a list (a bare string becomes one item); both forms are sent.
PROMPT_IMAGE_SCHEMA: dict[str, Any] = {
    "description": "the first frame as an https URL or data:image/… URI, or a one-item list "
    "of {uri, position: first|last}",
    "anyOf": [
        {"type": "string", "examples": ["https://example.com/cat.png"]},
        {
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["uri", "position"],
                "properties": {
                    "uri": {"type": "string"},
                    "position": {"type": "string", "enum": ["first", "last"]},
                },
            },
        },
    ],
}


class CreditsOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="RunwayApiCredits")
    credits: float = Field(ge=0, description="always 0: a self-hosted render costs nothing")


class CreatedOut(BaseModel):
    """The answer to a create: the new task's id."""

    model_config = ConfigDict(extra="forbid", title="RunwayApiCreated")
    id: str = Field(description="UUID of the new task; poll it with GET /v1/tasks/{id}")
    estimatedCost: CreditsOut  # noqa: N815 - wire name


class TaskOut(BaseModel):
    """A task in Runway's shape (CONTRACT.md 2.3); the other members appear by status."""

    model_config = ConfigDict(extra="forbid", title="RunwayApiTask")
    id: str
    status: Literal["PENDING", "THROTTLED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
    createdAt: str = Field(json_schema_extra={"format": "date-time"})  # noqa: N815 - wire name
    progress: float = Field(0.0, ge=0, le=1, description="while RUNNING: 0..1")
    output: list[str] = Field(
        default_factory=list,
        description="on SUCCEEDED: [signed, expiring video URL]; [] once retention deleted it",
    )
    failure: str = Field("", description="on FAILED: what went wrong")
    failureCode: str = Field("", description="on FAILED: e.g. INTERNAL, ASSET.INVALID")  # noqa: N815
    estimatedCost: CreditsOut | None = Field(None, description="while waiting or running")  # noqa: N815
    cost: CreditsOut | None = Field(None, description="once finished")


class IssueOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="RunwayApiIssue")
    path: list[str | int] = Field(description='the field, e.g. ["promptImage", 0, "position"]')
    message: str


class RunwayErrorOut(BaseModel):
    """HTTP status plus `{"error": "<message> (request id: …)"}` (CONTRACT.md 2.3)."""

    model_config = ConfigDict(extra="forbid", title="RunwayApiError")
    error: str = Field(description="what is wrong, naming the field, ending with the request id")
    issues: list[IssueOut] = Field(
        default_factory=list, description="on a 400 about one field or header: which one"
    )


def _error(message: str, path: list[str | int] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": f"{message} {_RID}"}
    if path is not None:
        reason = message.split(": ", 1)[-1]
        body["issues"] = [{"path": path, "message": reason}]
    return body


ERROR_EXAMPLES: dict[int, dict[str, Any]] = {
    400: {
        "invalid_request": _error("ratio: must be one of 1280:720, 720:1280, …", ["ratio"]),
        "unsupported_version": _error(
            "the X-Runway-Version header is required; supported: 2024-11-06", ["X-Runway-Version"]
        ),
        "model_not_supported": _error(
            "model 'gen9' is not supported; available models: gen4, …", ["model"]
        ),
        "url_not_allowed": _error(
            "promptImage.0.uri: the image URL must start with https://, not http://",
            ["promptImage", 0, "uri"],
        ),
    },
    401: {"invalid_token": _error("invalid token")},
    404: {"task_not_found": _error(f"task '{TASK_ID}' does not exist")},
    409: {"idempotency_in_flight": _error("a request with this Idempotency-Key is still …")},
    413: {"request_too_large": _error("the body exceeds 1048576 bytes")},
    422: {"idempotency_mismatch": _error("this Idempotency-Key was already used with …")},
    429: {"rate_limited": _error("this key is over its request rate (600 per minute)")},
    500: {"internal_error": _error("internal error")},
}


def _errors(*statuses: int) -> openapi.Responses:
    return openapi.errors(RunwayErrorOut, ERROR_EXAMPLES, statuses)


def _task_links(prefix: str) -> dict[str, Any]:
    """OpenAPI links from a create to its task (docs, and Schemathesis's stateful phase)."""
    new_task = {"task_id": "$response.body#/id"}
    return {
        "GetTask": {"operationId": f"{prefix}_get_task", "parameters": new_task},
        "DeleteTask": {"operationId": f"{prefix}_delete_task", "parameters": new_task},
    }


def create_responses(prefix: str) -> openapi.Responses:
    created = openapi.ok(
        CreatedOut,
        "The task is queued. Replayed unchanged for a repeated `Idempotency-Key`.",
        example={"id": TASK_ID, "estimatedCost": {"credits": 0}},
        headers=openapi.RUNWAY_VERSION_HEADER,
    )
    created["links"] = _task_links(prefix)
    return {200: created, **_errors(400, 401, 409, 413, 422, 429, 500)}


TASK_RESPONSES: openapi.Responses = {
    200: openapi.ok(
        TaskOut,
        "The task as it stands; output links are signed and fresh on every call.",
        example={
            "id": TASK_ID,
            "status": "RUNNING",
            "createdAt": "2026-03-13T09:52:46Z",
            "progress": 0.4,
            "estimatedCost": {"credits": 0},
        },
        headers=openapi.RUNWAY_VERSION_HEADER,
    ),
    **_errors(400, 401, 404, 413, 429, 500),
}
DELETE_RESPONSES: openapi.Responses = {
    204: {
        "description": "Cancelled (it was waiting or running) or deleted (it had finished).",
        "headers": {**openapi.REQUEST_ID_HEADER, **openapi.RUNWAY_VERSION_HEADER},
    },
    **_errors(400, 401, 404, 413, 429, 500),
}
