"""Owner-scoped operations outside the dialects: cancel, the webhook delivery log, redelivery.

    POST /admin/tasks/{id}/cancel
    GET  /admin/tasks/{id}/deliveries
    POST /admin/tasks/{id}/deliveries/{event_id}/redeliver

A caller only ever sees their own tasks; another key's task is 404, like an unknown one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from reelgate.api.auth import CurrentPrincipal
from reelgate.api.errors import json_response
from reelgate.errors import ApiError, ErrorKind
from reelgate.runtime import Runtime
from reelgate.store.outbox import OutboxEvent


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["admin"])
    outbox = runtime.store.outbox

    @router.post("/tasks/{task_id}/cancel", summary="Cancel a queued or running task")
    def cancel(task_id: str, principal: CurrentPrincipal) -> Response:
        task = runtime.service.cancel(principal.owner_id, task_id)
        return json_response(
            {"id": task.id, "status": task.status.value, "cancel_requested": task.cancel_requested}
        )

    @router.get("/tasks/{task_id}/deliveries", summary="The task's webhook delivery log")
    def deliveries(task_id: str, principal: CurrentPrincipal) -> Response:
        task = runtime.service.get(principal.owner_id, task_id)
        events = [_event(e, runtime) for e in outbox.events_for_task(task.id)]
        return json_response({"task_id": task.id, "events": events})

    @router.post(
        "/tasks/{task_id}/deliveries/{event_id}/redeliver",
        summary="Send a webhook event again now",
    )
    def redeliver(task_id: str, event_id: str, principal: CurrentPrincipal) -> Response:
        task = runtime.service.get(principal.owner_id, task_id)
        if not outbox.redeliver(event_id, task.id):
            raise ApiError(ErrorKind.NOT_FOUND, f"task {task.id} has no webhook event {event_id}")
        return json_response({"id": event_id, "state": "pending"}, 202)

    return router


def _event(event: OutboxEvent, runtime: Runtime) -> dict[str, Any]:
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
            for a in runtime.store.outbox.attempts(event.id)
        ],
    }
