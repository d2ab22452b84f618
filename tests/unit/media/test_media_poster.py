"""Poster stills are real JPEGs of the frame's size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reelgate.media import jpeg_bytes


def _frame(width: int, height: int) -> np.ndarray:
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]  # red grows rightwards
    frame[height // 2 :, :, 2] = 200  # blue bottom half
    return frame


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (720, 1280), (1584, 672)])
def test_poster_decodes_as_a_jpeg_of_the_frame(width: int, height: int) -> None:
    data = jpeg_bytes(_frame(width, height))
    assert data[:3] == b"\xff\xd8\xff"
    assert data[-2:] == b"\xff\xd9"
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert bgr is not None
    decoded = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    assert decoded.shape == (height, width, 3)
    assert np.abs(decoded.astype(np.int16) - _frame(width, height)).mean() < 3  # RGB, not BGR


def test_lower_quality_means_fewer_bytes() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (360, 640, 3), dtype=np.uint8)
    frame = np.asarray(cv2.GaussianBlur(noise, (0, 0), 1.5), np.uint8)
    assert len(jpeg_bytes(frame, quality=40)) < len(jpeg_bytes(frame, quality=95))


@pytest.mark.parametrize(
    ("frame", "quality"),
    [
        (np.zeros((10, 10), np.uint8), 90),
        (np.zeros((10, 10, 3), np.float32), 90),
        (np.zeros((10, 10, 3), np.uint8), 0),
    ],
)
def test_bad_input_is_refused(frame: np.ndarray, quality: int) -> None:
    with pytest.raises(ValueError, match=r"expected|quality"):
        jpeg_bytes(frame, quality)
