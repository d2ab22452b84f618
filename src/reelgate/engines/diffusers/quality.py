"""How far a clip strays from a reference clip: PSNR and the largest pixel difference.

A speed setting that skips or approximates work (a step cache, another attention kernel, a
compiled graph) changes the frames a seed gives. The speed benchmark renders each setting with
the plain pipeline's seed and puts these two figures beside its speed-up, so a faster setting
is never a silent loss of quality (issue 14: the best combination must keep PSNR >= 30 dB).

Clips are uint8 RGB frames, `(frames, height, width, 3)` or a sequence of `(height, width, 3)`
frames; the figures cover every pixel of every frame. Needs numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Clip = npt.NDArray[np.uint8] | Sequence[npt.NDArray[np.uint8]]

PEAK = 255.0  # the largest uint8 value


@dataclass(frozen=True, slots=True)
class Fidelity:
    """A clip against its reference: `psnr_db` is infinite for identical clips."""

    psnr_db: float
    max_abs_diff: int  # 0..255

    def to_json(self) -> dict[str, float | int | None]:
        """JSON has no infinity: identical clips give `psnr_db: null`."""
        psnr = None if math.isinf(self.psnr_db) else round(self.psnr_db, 3)
        return {"psnr_db": psnr, "max_abs_diff": self.max_abs_diff}


def compare(reference: Clip, candidate: Clip) -> Fidelity:
    """PSNR (dB, against a peak of 255) and the largest absolute difference of two clips of the
    same shape; ValueError for clips of different shapes, empty clips or non-uint8 pixels."""
    ref, cand = _pixels(reference, "reference"), _pixels(candidate, "candidate")
    if ref.shape != cand.shape:
        raise ValueError(f"clips differ in shape: {ref.shape} against {cand.shape}")
    diff = ref.astype(np.int16) - cand.astype(np.int16)
    mse = float(np.mean(np.square(diff, dtype=np.float64)))
    psnr = math.inf if mse == 0 else 10.0 * math.log10(PEAK * PEAK / mse)
    return Fidelity(psnr_db=psnr, max_abs_diff=int(np.max(np.abs(diff))))


def _pixels(clip: Clip, name: str) -> npt.NDArray[np.uint8]:
    array = np.asarray(clip) if isinstance(clip, np.ndarray) else _stack(clip, name)
    if array.dtype != np.uint8:
        raise ValueError(f"{name}: pixels must be uint8, not {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{name}: the clip is empty")
    return array


def _stack(frames: Sequence[npt.NDArray[np.uint8]], name: str) -> npt.NDArray[np.uint8]:
    if not frames:
        raise ValueError(f"{name}: the clip is empty")
    shapes = {frame.shape for frame in frames}
    if len(shapes) > 1:
        raise ValueError(f"{name}: its frames differ in shape: {sorted(shapes)}")
    return np.stack(frames)
