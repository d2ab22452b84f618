"""The seam between workers and engines.

An engine yields exactly `spec.frames` RGB frames of `spec.height x spec.width` (uint8, shape
`(height, width, 3)`), in order. It may call `ctx.report(fraction)` as it goes (a diffusion model
reports per denoising step); the worker also reports once per frame it receives. For
image-to-video, `ctx.reference` holds the decoded input image and where it goes. `ctx.report`
raises `TaskInterrupted` when the task was cancelled or the worker lost its lease, which unwinds
the engine between two steps: engines must not swallow it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from reelgate.core.tasks import GenerationSpec

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
