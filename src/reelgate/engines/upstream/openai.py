"""OpenAI's video API, `/v1/videos`, through the official `openai` SDK (its async client): OpenAI
itself, vLLM-Omni, SGLang, NVIDIA Dynamo or another reelgate. An endpoint is the server's base
URL without `/v1`.

    create   POST /v1/videos: JSON, or multipart with `input_reference` when there is an image;
             `prompt`, `model`, `seconds`, `size` and the entry's `extra` fields as given
    status   GET /v1/videos/{id}    queued, in_progress (+progress), completed, failed (+error)
    content  GET /v1/videos/{id}/content?variant=video   (fetched by the engine itself, so a
             redirect to another host goes through the outbound guard)
    cancel   DELETE /v1/videos/{id}
    check    GET /v1/videos?limit=1
"""

from __future__ import annotations

import io
from typing import Any

import httpx2
import openai

from reelgate.engines.upstream.protocol import (
    JobRequest,
    JobState,
    JobStatus,
    sdk_errors,
)
from reelgate.errors import UpstreamError

_STATES = {
    "queued": JobState.QUEUED,
    "in_progress": JobState.RUNNING,
    "completed": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
}


class OpenAIClient:
    def __init__(self, api_key: str, timeout_seconds: float, keepalive: int) -> None:
        self._api_key = api_key
        self._timeout = timeout_seconds
        self._keepalive = keepalive
        self._clients: dict[tuple[str, bool], openai.AsyncOpenAI] = {}

    def _client(self, endpoint: str, *, fresh: bool = False) -> openai.AsyncOpenAI:
        """The SDK client for `endpoint`; `fresh`: one that opens a connection per call. (The
        SDK brings its own HTTP library, httpx2, whose limits read like httpx's.)"""
        client = self._clients.get((endpoint, fresh))
        if client is None:
            limits = httpx2.Limits(
                max_connections=None, max_keepalive_connections=0 if fresh else self._keepalive
            )
            client = self._clients[endpoint, fresh] = openai.AsyncOpenAI(
                api_key=self._api_key or "none",
                base_url=f"{endpoint}/v1",
                max_retries=0,
                timeout=self._timeout,
                http_client=openai.DefaultAsyncHttpxClient(limits=limits),
            )
        return client

    async def submit(self, endpoint: str, request: JobRequest) -> str:
        arguments: dict[str, Any] = {
            "prompt": request.prompt,
            "model": request.model,
            "seconds": str(request.seconds),
            "size": f"{request.width}x{request.height}",
            "extra_headers": {"Idempotency-Key": request.idempotency_key},
        }
        if request.extra:
            arguments["extra_body"] = dict(request.extra)
        if request.image is not None:
            extension = request.image.content_type.rsplit("/", 1)[-1]
            upload = (f"reference.{extension}", io.BytesIO(request.image.data))
            arguments["input_reference"] = (*upload, request.image.content_type)
        elif request.image_url is not None:
            arguments["input_reference"] = {"image_url": request.image_url}
        async with sdk_errors("create", openai):
            video = await self._client(endpoint, fresh=True).videos.create(**arguments)
        return str(video.id)

    async def status(self, endpoint: str, job_id: str) -> JobStatus:
        async with sdk_errors("status", openai):
            video = await self._client(endpoint).videos.retrieve(job_id)
        state = _STATES.get(str(video.status))
        if state is None:
            raise UpstreamError(f"status: unknown video status {video.status!r}")
        failure = failure_code = None
        if state is JobState.FAILED:
            error = video.error
            failure = getattr(error, "message", None) or "the upstream failed the video"
            failure_code = getattr(error, "code", None) or "upstream_failed"
            if failure_code == "cancelled":
                state = JobState.CANCELLED
        progress = video.progress
        return JobStatus(
            state=state,
            progress=None if progress is None else min(1.0, max(0.0, progress / 100)),
            failure=failure,
            failure_code=failure_code,
        )

    async def cancel(self, endpoint: str, job_id: str) -> None:
        async with sdk_errors("cancel", openai):
            await self._client(endpoint).videos.delete(job_id)

    def content_url(self, endpoint: str, job_id: str, status: JobStatus) -> str:
        return f"{endpoint}/v1/videos/{job_id}/content?variant=video"

    async def check(self, endpoint: str) -> None:
        async with sdk_errors("check", openai):
            await self._client(endpoint).videos.list(limit=1)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.close()
