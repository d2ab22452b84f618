"""Poster stills: one frame as a JPEG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from reelgate.media.probe import decode_frames


def jpeg_bytes(frame: npt.NDArray[np.uint8], quality: int = 90) -> bytes:
    """Encode a `(height, width, 3)` uint8 RGB frame as a baseline JPEG."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 frame, got {frame.shape} {frame.dtype}")
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 1..100, got {quality}")
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def poster_from_video(path: str | Path, frames: int) -> bytes:
    """The JPEG poster of a video someone else encoded: its middle frame, as ours are."""
    middle = max(0, frames // 2)
    last = None
    for index, frame in enumerate(decode_frames(path)):
        last = frame
        if index >= middle:
            break
    if last is None:
        raise ValueError(f"{path} holds no frame to make a poster from")
    return jpeg_bytes(last)
