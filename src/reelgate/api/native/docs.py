"""What reelgate's own task routes send back, as models for the OpenAPI document.

The routes build these bodies as plain dicts (`native.task_public`); the models only describe
them, and tests/integration/api/test_schemathesis.py holds them to the real answers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reelgate.api import openapi

TASK_ID = "3d957031-9a2a-45e2-9dc7-bc8513059c50"


class MotionOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Motion")
    x: float
    y: float
    z: float
    r: float
    bg_x_pan: float
    bg_y_pan: float


class TaskPublic(BaseModel):
    """A task in reelgate's own shape, whichever dialect created it."""

    model_config = ConfigDict(extra="forbid", title="Task")
    id: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float = Field(ge=0, le=1)
    percent: int = Field(ge=0, le=100)
    action: Literal["TEXT_TO_VIDEO", "IMAGE_TO_VIDEO"]
    dialect: Literal["cometapi", "runway", "openai", "native"]
    model: str
    prompt: str
    width: int
    height: int
    seconds: int
    seed: int
    style: str
    motion: MotionOut
    created_at: float = Field(description="unix seconds")
    started_at: float | None
    finished_at: float | None
    attempt: int
    failure: str | None
    failure_code: str | None
    output_expired: bool
    video_url: str | None = Field(description="signed, expiring link once succeeded")
    poster_url: str | None


class TaskPage(BaseModel):
    model_config = ConfigDict(extra="forbid", title="TaskPage")
    data: list[TaskPublic]


_EXAMPLE = {
    "id": TASK_ID,
    "status": "queued",
    "progress": 0.0,
    "percent": 0,
    "action": "TEXT_TO_VIDEO",
    "dialect": "native",
    "model": "gen4",
    "prompt": "a cat",
    "width": 1280,
    "height": 720,
    "seconds": 5,
    "seed": 42,
    "style": "none",
    "motion": {"x": 0.0, "y": 0.0, "z": 0.0, "r": 0.0, "bg_x_pan": 0.0, "bg_y_pan": 0.0},
    "created_at": 1773366766.0,
    "started_at": None,
    "finished_at": None,
    "attempt": 0,
    "failure": None,
    "failure_code": None,
    "output_expired": False,
    "video_url": None,
    "poster_url": None,
}

CREATE: dict[str, Any] = {
    "operation_id": "native_create_task",
    "responses": {
        200: openapi.ok(TaskPublic, "The task is queued", example=_EXAMPLE),
        **openapi.default_errors(400, 401, 409, 413, 422, 429, 500),
    },
}
LIST: dict[str, Any] = {
    "operation_id": "native_list_tasks",
    "responses": {
        200: openapi.ok(TaskPage, "A page of tasks, newest first", example={"data": [_EXAMPLE]}),
        **openapi.default_errors(400, 401, 413, 429, 500),
    },
}
SHOW: dict[str, Any] = {
    "operation_id": "native_get_task",
    "responses": {
        200: openapi.ok(TaskPublic, "The task", example=_EXAMPLE),
        **openapi.default_errors(401, 404, 413, 429, 500),
    },
}
DELETE: dict[str, Any] = {
    "operation_id": "native_delete_task",
    "status_code": 204,
    "responses": {
        204: {
            "description": "A finished task is deleted with its files (its id is then unknown); "
            "a queued or running one is cancelled instead",
            "headers": openapi.REQUEST_ID_HEADER,
        },
        **openapi.default_errors(401, 404, 413, 429, 500),
    },
}
