"""The webhook body: the task as CometAPI's feed returns it (CONTRACT.md 1.2, 1.3).

The callback receives exactly the feed's `data` object, so a client parses both with one type.
It is rendered at each delivery attempt, never stored, so a late retry carries fresh links.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reelgate.blobs.base import OutputLinks
from reelgate.core.tasks import Task, TaskStatus

# The wrapper's own statuses; a cancelled task is a FAILURE whose fail_reason is `cancelled`.
WRAPPER_STATUS = {
    TaskStatus.QUEUED: "QUEUED",
    TaskStatus.RUNNING: "IN_PROGRESS",
    TaskStatus.SUCCEEDED: "SUCCESS",
    TaskStatus.FAILED: "FAILURE",
    TaskStatus.CANCELLED: "FAILURE",
}
# The inner `data` object is the task in Runway's shape (CONTRACT.md 2.3).
INNER_STATUS = {
    TaskStatus.QUEUED: "PENDING",
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.SUCCEEDED: "SUCCEEDED",
    TaskStatus.FAILED: "FAILED",
    TaskStatus.CANCELLED: "CANCELLED",
}


def iso(ts: float) -> str:
    """Unix seconds as ISO 8601 UTC, to the second."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def task_payload(task: Task, links: OutputLinks | None) -> dict[str, Any]:
    """The feed's `data` object for `task`, with `links` to its files when it has them."""
    inner: dict[str, Any] = {
        "id": task.id,
        "status": INNER_STATUS[task.status],
        "createdAt": iso(task.created_at),
    }
    result_url = ""
    fail_reason = ""
    if task.status is TaskStatus.RUNNING:
        inner["progress"] = round(task.progress, 4)
    elif task.status is TaskStatus.SUCCEEDED and links is not None:
        result_url = links.video
        inner["output"] = [result_url]
        inner["video_url"] = result_url
        inner["poster"] = links.poster
    elif task.status is TaskStatus.FAILED:
        inner["failure"] = task.failure or "failed"
        inner["failureCode"] = task.failure_code or "INTERNAL"
        fail_reason = inner["failure"]
    elif task.status is TaskStatus.CANCELLED:
        fail_reason = "cancelled"
    payload: dict[str, Any] = {
        "task_id": task.id,
        "action": task.action.value,
        "status": WRAPPER_STATUS[task.status],
        "fail_reason": fail_reason,
        "submit_time": int(task.created_at),
        "start_time": int(task.started_at or 0),
        "finish_time": int(task.finished_at or 0),
        "progress": f"{task.percent}%",
        "result_url": result_url,
        "data": inner,
    }
    if task.outputs_expired:
        payload["output_expired"] = True
    return payload
