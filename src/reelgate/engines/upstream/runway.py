"""Runway's official API through the official `runwayml` SDK (its async client).

    create   POST /v1/text_to_video, or /v1/image_to_video with `promptImage` first or last
    status   GET /v1/tasks/{id}    PENDING, THROTTLED, RUNNING (+progress), SUCCEEDED (+output),
                                   FAILED (+failure, failureCode), CANCELLED
    cancel   DELETE /v1/tasks/{id}
    check    GET /v1/tasks/<an id that does not exist>: 404 proves the key, 401 refutes it

The SDK sends its own `X-Runway-Version`; its retries are off (the engine decides); the create
carries `Idempotency-Key: <our task id>` so an upstream that honours it (reelgate does) maps a
repeated create to the same job.
"""

from __future__ import annotations

import uuid
from typing import Any

import runwayml

from reelgate.engines.upstream.protocol import (
    JobRequest,
    JobState,
    JobStatus,
    pool_limits,
    sdk_errors,
)
from reelgate.errors import UpstreamError

_STATES = {
    "PENDING": JobState.QUEUED,
    "THROTTLED": JobState.THROTTLED,
    "RUNNING": JobState.RUNNING,
    "SUCCEEDED": JobState.SUCCEEDED,
    "FAILED": JobState.FAILED,
    "CANCELLED": JobState.CANCELLED,
}


class RunwayClient:
    def __init__(self, api_key: str, timeout_seconds: float, keepalive: int) -> None:
        self._api_key = api_key
        self._timeout = timeout_seconds
        self._keepalive = keepalive
        self._clients: dict[tuple[str, bool], runwayml.AsyncRunwayML] = {}

    def _client(self, endpoint: str, *, fresh: bool = False) -> runwayml.AsyncRunwayML:
        """The SDK client for `endpoint`; `fresh`: one that opens a connection per call."""
        client = self._clients.get((endpoint, fresh))
        if client is None:
            limits = pool_limits(0 if fresh else self._keepalive)
            client = self._clients[endpoint, fresh] = runwayml.AsyncRunwayML(
                api_key=self._api_key or "none",
                base_url=endpoint,
                max_retries=0,
                timeout=self._timeout,
                http_client=runwayml.DefaultAsyncHttpxClient(limits=limits),
            )
        return client

    async def submit(self, endpoint: str, request: JobRequest) -> str:
        client = self._client(endpoint, fresh=True)
        common: dict[str, Any] = {
            "model": request.model,
            "ratio": f"{request.width}:{request.height}",
            "duration": request.seconds,
            "seed": request.seed,
            "extra_headers": {"Idempotency-Key": request.idempotency_key},
        }
        if request.extra:
            common["extra_body"] = dict(request.extra)
        uri = request.image_uri()
        position = request.image.position if request.image is not None else "first"
        async with sdk_errors("create", runwayml):
            if uri is None:
                created = await client.text_to_video.create(prompt_text=request.prompt, **common)
            else:
                created = await client.image_to_video.create(
                    prompt_image=[{"uri": uri, "position": position}],
                    prompt_text=request.prompt,
                    **common,
                )
        return str(created.id)

    async def status(self, endpoint: str, job_id: str) -> JobStatus:
        async with sdk_errors("status", runwayml):
            task = await self._client(endpoint).tasks.retrieve(job_id)
        data = task.model_dump()
        state = _STATES.get(str(data.get("status")))
        if state is None:
            raise UpstreamError(f"status: unknown task status {data.get('status')!r}")
        outputs = data.get("output") or []
        return JobStatus(
            state=state,
            progress=_fraction(data.get("progress")),
            output_url=str(outputs[0]) if outputs else None,
            failure=data.get("failure"),
            failure_code=data.get("failureCode") or data.get("failure_code"),
        )

    async def cancel(self, endpoint: str, job_id: str) -> None:
        async with sdk_errors("cancel", runwayml):
            await self._client(endpoint).tasks.delete(job_id)

    def content_url(self, endpoint: str, job_id: str, status: JobStatus) -> str:
        if status.output_url is None:
            raise UpstreamError("the upstream reports success but gives no output link")
        return status.output_url

    async def check(self, endpoint: str) -> None:
        try:
            async with sdk_errors("check", runwayml):
                await self._client(endpoint).tasks.retrieve(str(uuid.uuid4()))
        except UpstreamError as exc:
            if exc.status == 404:
                return
            raise

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()


def _fraction(value: object) -> float | None:
    if isinstance(value, int | float):
        return min(1.0, max(0.0, float(value)))
    return None
