"""Owner-scoped operations outside the dialects: the caller's own key, cancel, the webhook
delivery log, redelivery.

    GET  /admin/me
    POST /admin/tasks/{id}/cancel
    GET  /admin/tasks/{id}/deliveries
    POST /admin/tasks/{id}/deliveries/{event_id}/redeliver

A caller only ever sees their own tasks; another key's task is 404, like an unknown one.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from reelgate.api import openapi
from reelgate.api.auth import CurrentPrincipal
from reelgate.api.deps import TasksDep
from reelgate.api.wire import json_response
from reelgate.service import Delivery


class MeOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="CurrentKey")
    owner_id: str = Field(
        description="who owns the tasks this key makes: a stored key's id, or `env_…` for a key "
        "from the environment"
    )
    admin: bool = Field(description="whether the key may call the operator's routes")
    max_active_tasks: int = Field(description="queued + running tasks the key may hold")
    rate_per_minute: float = Field(description="requests a minute the key may make")


class CancelOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="CancelledTask")
    id: str
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    cancel_requested: bool = Field(description="a running task stops between frames")


class AttemptOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="DeliveryAttempt")
    attempt: int
    started_at: float = Field(description="unix seconds")
    status_code: int | None = Field(description="the receiver's HTTP status; null: no answer")
    latency_ms: float
    error: str | None


class EventOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="WebhookEvent")
    id: str = Field(description="the `webhook-id` header, stable across retries")
    event_type: str
    url: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: float | None = Field(description="unix seconds; null when not scheduled")
    created_at: float
    log: list[AttemptOut]


class DeliveriesOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="DeliveryLog")
    task_id: str
    events: list[EventOut]


class RedeliverOut(BaseModel):
    model_config = ConfigDict(extra="forbid", title="Redelivery")
    id: str
    state: Literal["pending"]


_TASK = "3d957031-9a2a-45e2-9dc7-bc8513059c50"
_ERRORS = openapi.default_errors(401, 404, 413, 429, 500)


router = APIRouter(prefix="/admin", tags=["admin"])


@router.get(
    "/me",
    operation_id="admin_me",
    summary="The key making the request: its owner id, admin or not, its limits",
    responses={
        200: openapi.ok(
            MeOut,
            "The calling key",
            example={
                "owner_id": "key_3f1c9a7be2d04c55",
                "admin": False,
                "max_active_tasks": 100,
                "rate_per_minute": 600.0,
            },
        ),
        **openapi.default_errors(401, 413, 429, 500),
    },
)
def me(principal: CurrentPrincipal) -> Response:
    return json_response(
        {
            "owner_id": principal.owner_id,
            "admin": principal.admin,
            "max_active_tasks": principal.max_active_tasks,
            "rate_per_minute": principal.rate_per_minute,
        }
    )


@router.post(
    "/tasks/{task_id}/cancel",
    operation_id="admin_cancel_task",
    summary="Cancel a queued or running task",
    responses={
        200: openapi.ok(
            CancelOut,
            "The task after the request; a finished task is returned unchanged",
            example={"id": _TASK, "status": "cancelled", "cancel_requested": True},
        ),
        **_ERRORS,
    },
)
def cancel(task_id: str, principal: CurrentPrincipal, tasks: TasksDep) -> Response:
    task = tasks.cancel(principal.owner_id, task_id)
    return json_response(
        {"id": task.id, "status": task.status.value, "cancel_requested": task.cancel_requested}
    )


@router.get(
    "/tasks/{task_id}/deliveries",
    operation_id="admin_list_deliveries",
    summary="The task's webhook delivery log",
    responses={
        200: {
            **openapi.ok(DeliveriesOut, "Every webhook event of the task, with each attempt"),
            "links": {
                "RedeliverFirstEvent": {
                    "operationId": "admin_redeliver",
                    "parameters": {
                        "task_id": "$response.body#/task_id",
                        "event_id": "$response.body#/events/0/id",
                    },
                }
            },
        },
        **_ERRORS,
    },
)
def deliveries(task_id: str, principal: CurrentPrincipal, tasks: TasksDep) -> Response:
    events = [_event(d) for d in tasks.deliveries(principal.owner_id, task_id)]
    return json_response({"task_id": task_id, "events": events})


@router.post(
    "/tasks/{task_id}/deliveries/{event_id}/redeliver",
    operation_id="admin_redeliver",
    summary="Send a webhook event again now",
    status_code=202,
    responses={
        202: openapi.ok(
            RedeliverOut,
            "The event is due now; attempt numbers carry on",
            example={"id": "evt_…", "state": "pending"},
        ),
        **_ERRORS,
    },
)
def redeliver(
    task_id: str, event_id: str, principal: CurrentPrincipal, tasks: TasksDep
) -> Response:
    tasks.redeliver(principal.owner_id, task_id, event_id)
    return json_response({"id": event_id, "state": "pending"}, 202)


def _event(delivery: Delivery) -> dict[str, Any]:
    event = delivery.event
    return {
        "id": event.id,
        "event_type": event.event_type,
        "url": event.url,
        "state": event.state.value,
        "attempts": event.attempts,
        "next_attempt_at": event.next_attempt_at,
        "created_at": event.created_at,
        "log": [
            {
                "attempt": a.attempt,
                "started_at": a.started_at,
                "status_code": a.status_code,
                "latency_ms": round(a.latency_ms, 2),
                "error": a.error,
            }
            for a in delivery.attempts
        ],
    }
