"""OpenAI's video API (CONTRACT.md 3), for the `openai` SDK's `client.videos` with `base_url`
pointed at reelgate.

    POST   /v1/videos                create: JSON, or multipart with an `input_reference` image
    GET    /v1/videos                the caller's videos, a page at a time (`after`, `limit`)
    GET    /v1/videos/{id}           one video
    DELETE /v1/videos/{id}           delete it (a queued or running video is cancelled first)
    GET    /v1/videos/{id}/content   the MP4 (`variant=video`) or the JPEG poster (`thumbnail`)
    POST   /v1/videos/{id}/remix     a new video with the same settings and a new prompt

Every task is a video here, whichever dialect created it: the id is the same UUID. Decisions
where OpenAI's documentation is silent:

* A cancelled task is `failed` with error code `cancelled`; other failures carry the task's
  failure code in lower case (`internal`, `asset.invalid` -> `asset_invalid`).
* `expires_at` is when a completed video's files are deleted (finish + retention); null before
  completion and for failed videos, which have no files.
* DELETE is permanent, as OpenAI documents it. A queued video is cancelled and deleted at once; a
  running one is cancelled, and deleted as soon as its worker stops (within about a second).
  If the worker has not stopped after `DELETE_WAIT_SECONDS`, the answer is `deleted: false`: the
  cancel stands, the video ends as `failed`/`cancelled`, and a second DELETE removes it.
* `/content` of a video that is not completed is 400 `video_not_completed` (the request is
  early, the video exists); a completed video whose files have expired is 404.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr
from starlette.responses import FileResponse, RedirectResponse, Response

from reelgate.api import openai_docs as docs
from reelgate.api.auth import CurrentPrincipal, Principal
from reelgate.api.errors import json_response
from reelgate.api.idempotency import IdempotencyKeyHeader, idempotency
from reelgate.api.openai_errors import PREFIX, OpenAIError
from reelgate.api.openai_requests import CreateRequest, CreateVideoIn, read_create
from reelgate.api.text import check_prompt
from reelgate.core.sizes import frame_size
from reelgate.core.tasks import BLOB_SCHEME, Action, Dialect, GenerationSpec, ImageInput, Task
from reelgate.core.tasks import TaskStatus as S
from reelgate.errors import ErrorKind
from reelgate.outbound import UrlRefused
from reelgate.runtime import Runtime
from reelgate.settings import DEFAULT_RUNWAY_VERSION

DELETE_WAIT_SECONDS = 5.0  # a cancelled render stops at its next progress write (~0.5 s)
DELETE_POLL_SECONDS = 0.1
SECONDS_PER_DAY = 86_400

_STATUS = {
    S.QUEUED: "queued",
    S.RUNNING: "in_progress",
    S.SUCCEEDED: "completed",
    S.FAILED: "failed",
    S.CANCELLED: "failed",
}


class RemixIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Annotated[StrictStr, AfterValidator(check_prompt)]


class _Fingerprint(BaseModel):
    """What an Idempotency-Key is bound to: the fields and the uploaded file's digest."""

    fields: CreateVideoIn
    upload_sha256: str | None


def video_object(task: Task, runtime: Runtime) -> dict[str, Any]:
    """A task as OpenAI's video object."""
    spec = task.spec
    completed = task.status is S.SUCCEEDED
    error = None
    if task.status is S.CANCELLED:
        error = {"code": "cancelled", "message": "the video was cancelled"}
    elif task.status is S.FAILED:
        code = (task.failure_code or "internal").lower().replace(".", "_")
        error = {"code": code, "message": task.failure or "the video failed"}
    finished = int(task.finished_at) if task.finished_at and task.status.terminal else None
    expires_at = None
    if completed and task.finished_at is not None:
        retention = runtime.settings.retention_days * SECONDS_PER_DAY
        expires_at = int(task.finished_at + retention)
    return {
        "id": task.id,
        "object": "video",
        "model": spec.model,
        "status": _STATUS[task.status],
        "progress": task.percent,
        "created_at": int(task.created_at),
        "completed_at": finished,
        "expires_at": expires_at,
        "prompt": spec.prompt,
        "seconds": str(spec.seconds),
        "size": f"{spec.width}x{spec.height}",
        "remixed_from_video_id": task.remixed_from,
        "error": error,
    }


def build_router(runtime: Runtime) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["OpenAI videos"])
    service = runtime.service

    def create_task(principal: Principal, request: CreateRequest, key: str | None) -> Task:
        fields = request.fields
        service.check_model(fields.model)
        image, stored = _image_input(request, runtime)
        width, height = frame_size(fields.size)
        spec = GenerationSpec(
            prompt=fields.prompt,
            model=fields.model,
            width=width,
            height=height,
            seconds=int(fields.seconds),
            seed=secrets.randbits(32),
            image=image,
        )
        fingerprint = _Fingerprint(
            fields=fields, upload_sha256=request.upload.sha256 if request.upload else None
        )
        try:
            task = service.create(
                principal,
                idempotency=idempotency(key, PREFIX, fingerprint),
                dialect=Dialect.OPENAI,
                action=Action.IMAGE_TO_VIDEO if image else Action.TEXT_TO_VIDEO,
                spec=spec,
                callback_url=None,
                runway_version=DEFAULT_RUNWAY_VERSION,
            )
        except BaseException:
            if stored is not None:
                runtime.blobs.delete_prefix(stored)
            raise
        if stored is not None and task.spec.image != image:  # an idempotent replay
            runtime.blobs.delete_prefix(stored)
        return task

    @router.post("", summary="Create a video", **docs.CREATE)
    async def create(
        request: Request, principal: CurrentPrincipal, idempotency_key: IdempotencyKeyHeader = None
    ) -> Response:
        parsed = await read_create(request)
        task = await run_in_threadpool(create_task, principal, parsed, idempotency_key)
        return json_response(video_object(task, runtime))

    @router.get("", summary="List videos", **docs.LIST)
    def list_videos(
        principal: CurrentPrincipal,
        after: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        order: Literal["asc", "desc"] = "desc",
    ) -> Response:
        tasks = service.list(
            principal.owner_id, after=after, limit=limit + 1, newest_first=order == "desc"
        )
        page = [video_object(t, runtime) for t in tasks[:limit]]
        return json_response(
            {
                "object": "list",
                "data": page,
                "first_id": page[0]["id"] if page else None,
                "last_id": page[-1]["id"] if page else None,
                "has_more": len(tasks) > limit,
            }
        )

    @router.get("/{video_id}", summary="Retrieve a video", **docs.RETRIEVE)
    def retrieve(video_id: str, principal: CurrentPrincipal) -> Response:
        return json_response(video_object(service.get(principal.owner_id, video_id), runtime))

    @router.delete("/{video_id}", summary="Delete a video", **docs.DELETE)
    def delete(video_id: str, principal: CurrentPrincipal) -> Response:
        owner = principal.owner_id
        task = service.get(owner, video_id)
        if not task.status.terminal:
            task = service.cancel(owner, video_id)  # a queued task is cancelled at once
            deadline = time.monotonic() + DELETE_WAIT_SECONDS
            while not task.status.terminal and time.monotonic() < deadline:
                time.sleep(DELETE_POLL_SECONDS)
                task = service.get(owner, video_id)
        deleted = task.status.terminal
        if deleted:
            service.delete(owner, video_id)
        return json_response({"id": task.id, "object": "video.deleted", "deleted": deleted})

    @router.get("/{video_id}/content", summary="Download a video's content", **docs.CONTENT)
    def content(
        video_id: str,
        principal: CurrentPrincipal,
        variant: Literal["video", "thumbnail"] = "video",
    ) -> Response:
        task = service.get(principal.owner_id, video_id)
        if task.status is not S.SUCCEEDED:
            raise OpenAIError(
                ErrorKind.INVALID_REQUEST,
                f"video {task.id} is {_STATUS[task.status]}; content is available once it is "
                "completed",
                code="video_not_completed",
            )
        if task.outputs is None or task.outputs_expired:
            raise OpenAIError(
                ErrorKind.NOT_FOUND,
                f"the files of video {task.id} have expired",
                code="content_expired",
            )
        if variant == "video":
            key, media_type, name = task.outputs.video_key, "video/mp4", f"{task.id}.mp4"
        else:
            key, media_type, name = task.outputs.poster_key, "image/jpeg", f"{task.id}.jpg"
        path = runtime.blobs.local_path(key)
        if path is None:  # a remote store: send the client to a signed, expiring link
            return RedirectResponse(runtime.links.url(key), 302)
        return FileResponse(path, media_type=media_type, filename=name)

    @router.post("/{video_id}/remix", summary="Remix a video", **docs.REMIX)
    def remix(video_id: str, body: RemixIn, principal: CurrentPrincipal) -> Response:
        task = service.remix(principal, video_id, body.prompt, Dialect.OPENAI)
        return json_response(video_object(task, runtime))

    return router


def _image_input(request: CreateRequest, runtime: Runtime) -> tuple[ImageInput | None, str | None]:
    """The first-frame image, and the blob prefix it was stored under if it was uploaded."""
    if request.upload is not None:
        upload = request.upload
        prefix = f"inputs/{uuid.uuid4()}/"
        key = f"{prefix}reference.{upload.extension}"
        runtime.blobs.put_bytes(key, upload.data, upload.content_type)
        return ImageInput(url=BLOB_SCHEME + key, position="first"), prefix
    reference = request.fields.input_reference
    if reference is None:
        return None, None
    if reference.file_id is not None:
        raise OpenAIError(
            ErrorKind.INVALID_REQUEST,
            "Invalid value for 'input_reference.file_id': file ids are not supported here; "
            "upload the image as multipart 'input_reference' or give 'image_url'.",
            code="unsupported_value",
            param="input_reference.file_id",
        )
    if reference.image_url is None:
        raise OpenAIError(
            ErrorKind.INVALID_REQUEST,
            "Missing required parameter: 'input_reference.image_url'.",
            code="missing_required_parameter",
            param="input_reference.image_url",
        )
    try:
        runtime.policy.check_image_url(reference.image_url)
    except UrlRefused as refused:
        raise OpenAIError(
            ErrorKind.URL_NOT_ALLOWED,
            str(refused),
            code="url_not_allowed",
            param="input_reference.image_url",
        ) from None
    return ImageInput(url=reference.image_url, position="first"), None
