"""The seams between workers and engines. Two kinds of engine stand behind one registry:

* A frame engine (`Engine`: synthetic, diffusers) renders here. It yields exactly `spec.frames`
  RGB frames of `spec.height x spec.width` (uint8, shape `(height, width, 3)`), in order. It may
  call `ctx.report(fraction)` as it goes (a diffusion model reports per denoising step); the
  worker also reports once per frame it receives. For image-to-video, `ctx.reference` holds the
  decoded input image and where it goes. `ctx.report` raises `TaskInterrupted` when the task was
  cancelled or the worker lost its lease, which unwinds the engine between two steps: engines
  must not swallow it. The worker encodes the frames; one task per worker thread.
* A job engine (`JobEngine`: upstream) has another service render and hands back a finished
  file after a long wait. It is a coroutine, so one worker process holds hundreds of waits on one
  event loop; through its `JobContext` it records where it submitted the task before anything
  else, reports progress, and learns of a cancel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import numpy as np
import numpy.typing as npt

from reelgate.core.tasks import GenerationSpec, UpstreamRef

Frame = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Reference:
    """An input image for image-to-video: the clip's first (or, `position="last"`, last) frame."""

    frame: Frame  # RGB uint8, any size: the engine fits it to the clip
    position: str = "first"


class EngineContext(Protocol):
    @property
    def reference(self) -> Reference | None:
        """The decoded input image of an image-to-video task, else None."""

    def report(self, fraction: float) -> None:
        """Record progress in [0, 1] of the engine's own work; raise TaskInterrupted to stop."""


class Engine(Protocol):
    name: str

    def generate(self, spec: GenerationSpec, ctx: EngineContext) -> Iterator[Frame]:
        """Yield the clip's frames; see the module docstring for the rules."""


@dataclass(frozen=True, slots=True)
class ImageBytes:
    """A task's input image, fetched and checked by the worker, for engines that send it on."""

    data: bytes
    content_type: str
    position: str = "first"


class JobContext(Protocol):
    """What a job engine may ask of the worker for one claimed task."""

    @property
    def task_id(self) -> str: ...

    @property
    def upstream(self) -> UpstreamRef | None:
        """Where an earlier attempt submitted this task: resume it, never submit again."""

    @property
    def image(self) -> ImageBytes | None:
        """The input image of an image-to-video task, else None."""

    @property
    def work_dir(self) -> Path:
        """A folder of this claim's own for downloads."""

    @property
    def guarded_client(self) -> httpx.AsyncClient:
        """An HTTP client held to the outbound policy, for URLs the operator did not configure."""

    async def record(self, ref: UpstreamRef) -> None:
        """Durably note where the task was submitted (or its new upstream state); raises
        TaskInterrupted when this worker no longer holds the task."""

    async def report(self, fraction: float) -> None:
        """Record progress in [0, 1]; raises TaskInterrupted when the lease is lost or the
        process is stopping."""

    def cancel_requested(self) -> bool:
        """Whether the owner asked for the task to stop (the engine cancels upstream first)."""


class JobEngine(Protocol):
    name: str

    def has_capacity(self) -> bool:
        """Whether one more job may be started now (every endpoint is at its cap otherwise)."""

    async def run(self, spec: GenerationSpec, ctx: JobContext) -> Path:
        """Submit (or resume) the task, wait for it, download the result into `ctx.work_dir`
        and return its path. UpstreamFailed when the upstream failed the task."""

    async def abandon(self, ref: UpstreamRef) -> bool:
        """Stop a job whose task ended without it (cancelled or failed while no worker held
        it); True when the upstream no longer runs it, False to try again later."""

    async def aclose(self) -> None: ...
