"""CometAPI's Runway wrapper, the seed's own routes, over plain HTTP (there is no SDK for it).

    create   POST /runway/pro/generate   the seed's body: prompt, ratio ("16:9"…), style,
                                         model, options.seconds and motion_vector, image, seed,
                                         plus the entry's `extra` fields as given
    status   POST /runway/feed {"task_id"}   QUEUED, IN_PROGRESS ("40%"), SUCCESS (result_url),
                                         FAILURE (fail_reason, data.failureCode)
    cancel   DELETE /runwayml/v1/tasks/{id}   (CometAPI's mount of Runway's format)
    check    POST /runway/feed with an id that does not exist: `task_not_exist` proves the key

The wrapper requires a `callback_url`; reelgate polls instead and sends
`https://reelgate.invalid/callback`, a name that can never resolve (RFC 2606), so the upstream's
delivery fails at once and harms no one.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from reelgate.core.tasks import MotionVector
from reelgate.engines.upstream.protocol import (
    JobRequest,
    JobState,
    JobStatus,
    pool_limits,
    status_error,
    transport_error,
)
from reelgate.engines.upstream.translate import nearest_cometapi_ratio
from reelgate.errors import UpstreamError

CALLBACK_SINK = "https://reelgate.invalid/callback"
RUNWAY_VERSION = "2024-11-06"
_STATES = {
    "QUEUED": JobState.QUEUED,
    "NOT_START": JobState.QUEUED,
    "SUBMITTED": JobState.QUEUED,
    "IN_PROGRESS": JobState.RUNNING,
    "SUCCESS": JobState.SUCCEEDED,
    "FAILURE": JobState.FAILED,
}


class CometApiClient:
    def __init__(self, api_key: str, timeout_seconds: float, keepalive: int) -> None:
        headers = {"X-Runway-Version": RUNWAY_VERSION}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http, self._fresh = (
            httpx.AsyncClient(
                timeout=timeout_seconds,
                headers=headers,
                follow_redirects=False,
                limits=pool_limits(connections),
            )
            for connections in (keepalive, 0)  # polls reuse connections; creates never do
        )

    async def submit(self, endpoint: str, request: JobRequest) -> str:
        body: dict[str, Any] = {
            "callback_url": CALLBACK_SINK,
            "prompt": request.prompt,
            "ratio": nearest_cometapi_ratio(request.width, request.height),
            "style": request.style,
            "model": request.model,
            "seed": request.seed,
            "options": {
                "seconds": request.seconds,
                "motion_vector": motion_fields(request.motion),
            },
        }
        body.update(request.extra)
        uri = request.image_uri()
        if uri is not None:
            body["image"] = uri
            if request.image is not None and request.image.position == "last":
                body["options"]["image_as_end_frame"] = True
        answer = await self._post(
            f"{endpoint}/runway/pro/generate",
            body,
            "create",
            {"Idempotency-Key": request.idempotency_key},
            fresh=True,
        )
        task_id = (answer.get("data") or {}).get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise UpstreamError("create: the answer holds no data.task_id")
        return task_id

    async def status(self, endpoint: str, job_id: str) -> JobStatus:
        answer = await self._post(f"{endpoint}/runway/feed", {"task_id": job_id}, "status")
        data = answer.get("data")
        if not isinstance(data, dict):
            raise UpstreamError("status: the answer holds no data object")
        state = _STATES.get(str(data.get("status")))
        if state is None:
            raise UpstreamError(f"status: unknown task status {data.get('status')!r}")
        inner = data.get("data")
        if not isinstance(inner, dict):
            inner = {}
        failure = data.get("fail_reason") or None
        if state is JobState.FAILED and failure == "cancelled":
            state = JobState.CANCELLED
        return JobStatus(
            state=state,
            progress=_percent(data.get("progress")),
            output_url=data.get("result_url") or inner.get("video_url") or None,
            failure=failure,
            failure_code=inner.get("failureCode") if state is JobState.FAILED else None,
        )

    async def cancel(self, endpoint: str, job_id: str) -> None:
        try:
            response = await self._http.delete(f"{endpoint}/runwayml/v1/tasks/{job_id}")
        except httpx.TransportError as exc:
            raise transport_error("cancel", exc) from None
        if response.status_code not in (200, 204, 404):
            raise status_error("cancel", response.status_code, response.text, response.headers)

    def content_url(self, endpoint: str, job_id: str, status: JobStatus) -> str:
        if status.output_url is None:
            raise UpstreamError("the upstream reports success but gives no result_url")
        return status.output_url

    async def check(self, endpoint: str) -> None:
        try:
            await self._post(f"{endpoint}/runway/feed", {"task_id": str(uuid.uuid4())}, "check")
        except UpstreamError as exc:
            if exc.status == 400:  # task_not_exist: the key was accepted
                return
            raise

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._fresh.aclose()

    async def _post(
        self,
        url: str,
        body: dict[str, Any],
        what: str,
        headers: dict[str, str] | None = None,
        *,
        fresh: bool = False,
    ) -> dict[str, Any]:
        http = self._fresh if fresh else self._http
        try:
            response = await http.post(url, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise transport_error(what, exc) from None
        if response.status_code != 200:
            raise status_error(what, response.status_code, response.text, response.headers)
        try:
            answer = response.json()
        except ValueError:
            raise UpstreamError(f"{what}: the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise UpstreamError(f"{what}: the answer is not a JSON object")
        return answer


def motion_fields(motion: MotionVector) -> dict[str, float]:
    """The seed's `motion_vector` object for a motion vector."""
    return {
        "x": motion.x,
        "y": motion.y,
        "z": motion.z,
        "r": motion.r,
        "bg_x_pan": motion.bg_x_pan,
        "bg_y_pan": motion.bg_y_pan,
    }


def _percent(value: object) -> float | None:
    if isinstance(value, str) and value.endswith("%"):
        try:
            return min(1.0, max(0.0, float(value[:-1]) / 100))
        except ValueError:
            return None
    return None
