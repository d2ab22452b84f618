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

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, BaseModel, ConfigDict, StrictStr
from starlette.responses import FileResponse, RedirectResponse, Response

from reelgate.api.auth import CurrentPrincipal
from reelgate.api.deps import TasksDep
from reelgate.api.middleware.request_id import request_id
from reelgate.api.openai import docs
from reelgate.api.openai.errors import PREFIX, OpenAIError
from reelgate.api.openai.schemas import CreateRequest, CreateVideoIn, read_create
from reelgate.api.wire import (
    DEFAULT_RUNWAY_VERSION,
    IdempotencyKeyHeader,
    check_prompt,
    idempotency,
    json_response,
)
from reelgate.core.tasks import Task
from reelgate.core.tasks import TaskStatus as S
from reelgate.errors import ErrorKind
from reelgate.service import CreateTask, ImageUpload, ImageUrl, TaskService

DIALECT = "openai"
DELETE_WAIT_SECONDS = 5.0  # a cancelled render stops at its next progress write (~0.5 s)

_STATUS = {
    S.QUEUED: "queued",
    S.RUNNING: "in_progress",
    S.SUCCEEDED: "completed",
    S.FAILED: "failed",
    S.CANCELLED: "failed",
}

router = APIRouter(prefix=PREFIX, tags=["OpenAI videos"])


class RemixIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: Annotated[StrictStr, AfterValidator(check_prompt)]


class _Fingerprint(BaseModel):
    """What an Idempotency-Key is bound to: the fields and the uploaded file's digest."""

    fields: CreateVideoIn
    upload_sha256: str | None


def video_object(task: Task, tasks: TaskService) -> dict[str, Any]:
    """A task as OpenAI's video object."""
    spec = task.spec
    error = None
    if task.status is S.CANCELLED:
        error = {"code": "cancelled", "message": "the video was cancelled"}
    elif task.status is S.FAILED:
        code = (task.failure_code or "internal").lower().replace(".", "_")
        error = {"code": code, "message": task.failure or "the video failed"}
    finished = int(task.finished_at) if task.finished_at and task.status.terminal else None
    expires_at = tasks.expires_at(task)
    return {
        "id": task.id,
        "object": "video",
        "model": spec.model,
        "status": _STATUS[task.status],
        "progress": task.percent,
        "created_at": int(task.created_at),
        "completed_at": finished,
        "expires_at": None if expires_at is None else int(expires_at),
        "prompt": spec.prompt,
        "seconds": str(spec.seconds),
        "size": f"{spec.width}x{spec.height}",
        "remixed_from_video_id": task.remixed_from,
        "error": error,
    }


def _create_request(parsed: CreateRequest, key: str | None, rid: str) -> CreateTask:
    """The service's request for a parsed create (both encodings)."""
    fields = parsed.fields
    image: ImageUrl | ImageUpload | None = None
    if parsed.upload is not None:
        upload = parsed.upload
        image = ImageUpload(upload.data, upload.extension, upload.content_type)
    elif fields.input_reference is not None:
        reference = fields.input_reference
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
        image = ImageUrl(reference.image_url)
    fingerprint = _Fingerprint(
        fields=fields, upload_sha256=parsed.upload.sha256 if parsed.upload else None
    )
    return CreateTask(
        dialect=DIALECT,
        api_version=DEFAULT_RUNWAY_VERSION,
        prompt=fields.prompt,
        model=fields.model,
        ratio=fields.size,
        seconds=int(fields.seconds),
        image=image,
        idempotency=idempotency(key, PREFIX, fingerprint),
        request_id=rid,
    )


@router.post("", summary="Create a video", operation_id="create_v1_videos_post", **docs.CREATE)
async def create(
    request: Request,
    principal: CurrentPrincipal,
    tasks: TasksDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    parsed = await read_create(request)
    wanted = _create_request(parsed, idempotency_key, request_id(request.scope))
    task = await run_in_threadpool(tasks.create, principal, wanted)
    return json_response(video_object(task, tasks))


@router.get("", summary="List videos", operation_id="list_videos_v1_videos_get", **docs.LIST)
def list_videos(
    principal: CurrentPrincipal,
    tasks: TasksDep,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> Response:
    found = tasks.list_page(
        principal.owner_id, after=after, limit=limit + 1, newest_first=order == "desc"
    )
    page = [video_object(t, tasks) for t in found[:limit]]
    return json_response(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(found) > limit,
        }
    )


@router.get(
    "/{video_id}",
    summary="Retrieve a video",
    operation_id="retrieve_v1_videos__video_id__get",
    **docs.RETRIEVE,
)
def retrieve(video_id: str, principal: CurrentPrincipal, tasks: TasksDep) -> Response:
    return json_response(video_object(tasks.get(principal.owner_id, video_id), tasks))


@router.delete(
    "/{video_id}",
    summary="Delete a video",
    operation_id="delete_v1_videos__video_id__delete",
    **docs.DELETE,
)
def delete(video_id: str, principal: CurrentPrincipal, tasks: TasksDep) -> Response:
    task, deleted = tasks.delete_and_wait(principal.owner_id, video_id, DELETE_WAIT_SECONDS)
    return json_response({"id": task.id, "object": "video.deleted", "deleted": deleted})


@router.get(
    "/{video_id}/content",
    summary="Download a video's content",
    operation_id="content_v1_videos__video_id__content_get",
    **docs.CONTENT,
)
def content(
    video_id: str,
    principal: CurrentPrincipal,
    tasks: TasksDep,
    variant: Literal["video", "thumbnail"] = "video",
) -> Response:
    task = tasks.get(principal.owner_id, video_id)
    if task.status is not S.SUCCEEDED:
        raise OpenAIError(
            ErrorKind.INVALID_REQUEST,
            f"video {task.id} is {_STATUS[task.status]}; content is available once it is completed",
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
    path = tasks.local_file(key)
    if path is None:  # a remote store: send the client to a signed, expiring link
        return RedirectResponse(tasks.link(key), 302)
    return FileResponse(path, media_type=media_type, filename=name)


@router.post(
    "/{video_id}/remix",
    summary="Remix a video",
    operation_id="remix_v1_videos__video_id__remix_post",
    **docs.REMIX,
)
def remix(video_id: str, body: RemixIn, principal: CurrentPrincipal, tasks: TasksDep) -> Response:
    task = tasks.remix(principal, video_id, body.prompt, DIALECT)
    return json_response(video_object(task, tasks))
