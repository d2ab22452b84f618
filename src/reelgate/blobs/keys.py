"""Where each file lives in the blob store: the one place that spells the key layout.

    tasks/<task id>/<attempt>/video.mp4      a finished task's clip
    tasks/<task id>/<attempt>/poster.jpg     its poster
    inputs/<upload id>/reference.<ext>       an image uploaded with a create (OpenAI's
                                             `input_reference`), one folder per task

Outputs are written under the attempt that made them, so an abandoned attempt's files can be
deleted without touching the attempt that succeeded. A task that uses an uploaded image names it
as `blob:<key>` in its spec; each task owns its upload (a remix copies it), so deleting one task
never breaks another.
"""

from __future__ import annotations

import uuid

from reelgate.core.tasks import Task

BLOB_SCHEME = "blob:"
VIDEO_NAME = "video.mp4"
POSTER_NAME = "poster.jpg"


def task_prefix(task_id: str) -> str:
    """Every file of every attempt of a task."""
    return f"tasks/{task_id}/"


def attempt_prefix(task_id: str, attempt: int) -> str:
    """The files one attempt writes."""
    return f"tasks/{task_id}/{attempt}/"


def video_key(task_id: str, attempt: int) -> str:
    return attempt_prefix(task_id, attempt) + VIDEO_NAME


def poster_key(task_id: str, attempt: int) -> str:
    return attempt_prefix(task_id, attempt) + POSTER_NAME


def new_input_key(extension: str) -> str:
    """A fresh key for an uploaded reference image, in a folder of its own."""
    return f"inputs/{uuid.uuid4()}/reference.{extension}"


def input_copy_key(source_key: str) -> str:
    """A fresh key for a copy of an uploaded image (a remix owns its own copy)."""
    return f"inputs/{uuid.uuid4()}/{source_key.rsplit('/', 1)[-1]}"


def upload_url(key: str) -> str:
    """How a spec names an uploaded image: `blob:<key>`."""
    return BLOB_SCHEME + key


def uploaded_key(url: str) -> str | None:
    """The blob key behind a `blob:` image URL, or None for any other URL."""
    return url.removeprefix(BLOB_SCHEME) if url.startswith(BLOB_SCHEME) else None


def upload_folder(url: str) -> str | None:
    """The folder of an uploaded input image (to delete with its task), or None."""
    key = uploaded_key(url)
    if key is None or not key.startswith("inputs/"):
        return None
    return key.rsplit("/", 1)[0] + "/"


def task_folders(task: Task) -> list[str]:
    """Every folder that holds a file of `task`: its outputs, and its uploaded image if any."""
    folders = [task_prefix(task.id)]
    image = task.spec.image
    upload = upload_folder(image.url) if image is not None else None
    if upload is not None:
        folders.append(upload)
    return folders
