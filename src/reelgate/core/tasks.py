"""Tasks and what they ask an engine to make."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

FPS = 24  # every output is retimed to 24 frames per second (CONTRACT.md 4.1)
MAX_SEED = 4_294_967_295  # seeds are 0..2**32-1 in every dialect


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class Action(StrEnum):
    TEXT_TO_VIDEO = "TEXT_TO_VIDEO"
    IMAGE_TO_VIDEO = "IMAGE_TO_VIDEO"


class FailureCode(StrEnum):
    INTERNAL = "INTERNAL"
    ASSET_INVALID = "ASSET.INVALID"
    INPUT_INVALID = "INPUT.INVALID"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class MotionVector:
    """Camera speeds in [-10, 10] (CONTRACT.md 4.2); 0 is still."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    r: float = 0.0
    bg_x_pan: float = 0.0
    bg_y_pan: float = 0.0

    @property
    def still(self) -> bool:
        return not any(dataclasses.astuple(self))


@dataclass(frozen=True, slots=True)
class ImageInput:
    """A reference image: `position` is `first` or `last` frame of the clip. `url` is an https
    URL, a `data:image/…` URI or `blob:<key>` for a file uploaded with the request
    (blobs.keys spells that layout)."""

    url: str
    position: str = "first"


@dataclass(frozen=True, slots=True)
class GenerationSpec:
    """Everything an engine needs to make one clip, in the contract's units."""

    prompt: str
    model: str
    width: int
    height: int
    seconds: int
    seed: int
    style: str = "none"
    motion: MotionVector = field(default_factory=MotionVector)
    image: ImageInput | None = None
    fps: int = FPS

    @property
    def frames(self) -> int:
        return self.seconds * self.fps

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GenerationSpec:
        values = dict(data)
        values["motion"] = MotionVector(**values.get("motion") or {})
        image = values.get("image")
        values["image"] = ImageInput(**image) if image else None
        return cls(**values)


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a finished clip really is, as probed from the file that was published."""

    width: int
    height: int
    fps: float
    frames: int
    duration_seconds: float
    size_bytes: int

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MediaInfo:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Outputs:
    """Blob keys of a finished task's files, and what the clip is when it was probed."""

    video_key: str
    poster_key: str
    media: MediaInfo | None = None


# The upstream job states after which the upstream no longer runs the job (the engine's
# JobState values): the job succeeded, failed, or was cancelled (by the upstream or by us).
UPSTREAM_CANCELLED = "CANCELLED"
UPSTREAM_ENDED = frozenset({"SUCCEEDED", "FAILED", UPSTREAM_CANCELLED})


@dataclass(frozen=True, slots=True)
class UpstreamRef:
    """Where a task was submitted when another service renders it: recorded before anything
    else happens, so a replacement worker resumes that job instead of submitting again.

    `state` is the job's last known state. A task that ends while its job may still run
    upstream (cancelled or failed while no worker held it) keeps a live state until a worker
    has cancelled the job there and recorded `CANCELLED`."""

    endpoint: str  # the base URL that accepted the job
    job_id: str  # the upstream's own id for it
    state: str = "submitted"  # the upstream's last status (e.g. THROTTLED while it waits there)

    @property
    def live(self) -> bool:
        """Whether the upstream may still be running (or holding) the job."""
        return self.state not in UPSTREAM_ENDED

    def ended(self, state: str) -> UpstreamRef:
        """This job with `state` (one of UPSTREAM_ENDED) recorded."""
        if state not in UPSTREAM_ENDED:
            raise ValueError(f"not an ended upstream state: {state!r}")
        return dataclasses.replace(self, state=state)

    def to_json(self) -> dict[str, str]:
        return {"endpoint": self.endpoint, "job_id": self.job_id, "state": self.state}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UpstreamRef:
        return cls(
            endpoint=str(data["endpoint"]),
            job_id=str(data["job_id"]),
            state=str(data.get("state", "submitted")),
        )


@dataclass(frozen=True, slots=True)
class Task:
    """A task as the service sees it. Lease internals never leave the store.

    `dialect` names the API the task was created through (`cometapi`, `runway`, `openai`,
    `native`); `api_version` is the `X-Runway-Version` in force when it was created. Core gives
    neither a meaning: they are recorded for the owner to read back.
    """

    id: str
    owner_id: str
    dialect: str
    action: Action
    status: TaskStatus
    spec: GenerationSpec
    progress: float
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempt: int
    callback_url: str | None
    api_version: str
    failure: str | None = None
    failure_code: str | None = None
    outputs: Outputs | None = None
    cancel_requested: bool = False
    outputs_expired: bool = False  # the retention period passed and the files were deleted
    remixed_from: str | None = None
    # The id of the request that created it (X-Request-Id), so one search finds its whole life.
    request_id: str | None = None
    # W3C trace context of the create, so the worker's spans join the trace that made the task.
    trace_context: dict[str, str] | None = None
    # Seconds spent per stage by the attempt that finished it (`queue_wait`, `engine`,
    # `encode`, `upload`, `load` when the engine was loaded for it; `cold` is 1.0 then).
    timings: dict[str, float] | None = None
    upstream: UpstreamRef | None = None

    @property
    def percent(self) -> int:
        """Integer percent, 0..100; 100 only once the task has succeeded."""
        if self.status is TaskStatus.SUCCEEDED:
            return 100
        return min(99, int(self.progress * 100))


@dataclass(frozen=True, slots=True)
class NewTask:
    """What the service asks the store to insert."""

    id: str
    owner_id: str
    dialect: str
    action: Action
    spec: GenerationSpec
    callback_url: str | None
    api_version: str
    created_at: float
    remixed_from: str | None = None
    request_id: str | None = None
    trace_context: dict[str, str] | None = None
