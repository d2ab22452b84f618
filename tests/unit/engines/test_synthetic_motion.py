"""The synthetic engine's camera, measured the way a viewer sees it: on the decoded MP4.

Each clip is rendered, encoded to H.264, decoded again, and its motion measured with phase
correlation for slides, and for zoom and roll with a similarity fitted to tracked corners (a
log-polar phase correlation proved too noisy on water).
The rates must match CONTRACT.md 4.2 within 20 %.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from reelgate.core.tasks import GenerationSpec, MotionVector
from reelgate.engines.base import Reference
from reelgate.engines.synthetic import Renderer, SyntheticEngine
from reelgate.media import Mp4Writer, decode_frames

W, H, SECONDS = 640, 360, 2
PROMPT = "a person standing in a meadow in front of the mountains"
Gray = npt.NDArray[np.float32]


class _Ctx:
    reference: Reference | None = None

    def report(self, fraction: float) -> None:
        del fraction


def _spec(motion: MotionVector, prompt: str = PROMPT) -> GenerationSpec:
    return GenerationSpec(
        prompt=prompt, model="gen4", width=W, height=H, seconds=SECONDS, seed=11, motion=motion
    )


def _decoded(tmp_path: Path, spec: GenerationSpec) -> list[Gray]:
    path = tmp_path / "clip.mp4"
    with Mp4Writer(path, spec.width, spec.height) as writer:
        for frame in SyntheticEngine().generate(spec, _Ctx()):
            writer.write(frame)
    return [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in decode_frames(path)]


def _shift(a: Gray, b: Gray) -> tuple[float, float]:
    """How far the content of `b` sits from where it was in `a`, in pixels (x right, y down)."""
    window = cv2.createHanningWindow((a.shape[1], a.shape[0]), cv2.CV_32F)
    # Mean removed, so the window's edge does not dominate the spectrum; this also hands over
    # copies (OpenCV 5's phaseCorrelate applies the window to its inputs in place).
    (dx, dy), _ = cv2.phaseCorrelate(a - a.mean(), b - b.mean(), window)
    return dx, dy


def _scale_and_turn(a: Gray, b: Gray) -> tuple[float, float]:
    """Scale factor and counter-clockwise degrees (on screen) that take `a` to `b`.

    Corners tracked with pyramidal Lucas-Kanade, then one similarity fitted with RANSAC, so
    sparkles and the bobbing subject count as outliers.
    """
    a8, b8 = a.astype(np.uint8), b.astype(np.uint8)
    corners = cv2.goodFeaturesToTrack(a8, 500, 0.005, 6)
    tracked, found, _ = cv2.calcOpticalFlowPyrLK(
        a8, b8, corners, np.empty(0, np.float32), winSize=(21, 21), maxLevel=3
    )
    ok = found.ravel() == 1
    assert ok.sum() > 40, "too few corners to measure"
    fit, _ = cv2.estimateAffinePartial2D(
        corners[ok], tracked[ok], method=cv2.RANSAC, ransacReprojThreshold=1.0
    )
    # fit = [[s cos t, -s sin t], [s sin t, s cos t]] turns clockwise on screen for t > 0.
    return math.hypot(fit[0, 0], fit[1, 0]), -math.degrees(math.atan2(fit[1, 0], fit[0, 0]))


def _slide_per_second(frames: list[Gray], step: int = 6) -> tuple[float, float]:
    pairs = range(0, len(frames) - step, step)
    total = np.sum([_shift(frames[i], frames[i + step]) for i in pairs], axis=0)
    seconds = len(pairs) * step / 24
    return float(total[0] / seconds), float(total[1] / seconds)


def _zoom_and_roll_per_second(frames: list[Gray], step: int = 12) -> tuple[float, float]:
    pairs = range(0, len(frames) - step, step)
    measured = [_scale_and_turn(frames[i], frames[i + step]) for i in pairs]
    seconds = len(pairs) * step / 24
    log_scale = sum(math.log(s) for s, _ in measured)
    turn = sum(t for _, t in measured)
    return (math.exp(log_scale / seconds) - 1) * 100, turn / seconds


def test_measuring_tools_read_a_known_motion_right() -> None:
    rng = np.random.default_rng(3)
    noise = rng.random((H, W)).astype(np.float32) * 255
    image = np.asarray(cv2.GaussianBlur(noise, (0, 0), 3), np.float32)
    turn = cv2.getRotationMatrix2D((W / 2, H / 2), 4, 1.05)
    turned = np.asarray(
        cv2.warpAffine(image, turn, (W, H), borderMode=cv2.BORDER_REFLECT_101), np.float32
    )
    scale, degrees = _scale_and_turn(image, turned)
    assert scale == pytest.approx(1.05, abs=0.005)
    assert degrees == pytest.approx(4, abs=0.2)  # OpenCV's positive angle: counter-clockwise
    moved = np.roll(image, (3, -7), axis=(0, 1))  # 7 left, 3 down
    assert _shift(image, moved) == pytest.approx((-7, 3), abs=0.25)


def test_still_clip_holds_still(tmp_path: Path) -> None:
    frames = _decoded(tmp_path, _spec(MotionVector()))
    dx, dy = _slide_per_second(frames)
    zoom, roll = _zoom_and_roll_per_second(frames)
    assert abs(dx) < 0.5
    assert abs(dy) < 0.5
    assert abs(zoom) < 0.2
    assert abs(roll) < 0.1


@pytest.mark.parametrize("x", [5.0, -5.0])
def test_x_slides_the_picture_sideways(tmp_path: Path, x: float) -> None:
    dx, dy = _slide_per_second(_decoded(tmp_path, _spec(MotionVector(x=x))))
    expected = -x / 100 * W  # x > 0: the picture slides left
    assert dx == pytest.approx(expected, rel=0.2)
    assert abs(dy) < abs(expected) * 0.05


@pytest.mark.parametrize("y", [5.0, -5.0])
def test_y_slides_the_picture_vertically(tmp_path: Path, y: float) -> None:
    dx, dy = _slide_per_second(_decoded(tmp_path, _spec(MotionVector(y=y))))
    expected = y / 100 * H  # y > 0: the picture slides down
    assert dy == pytest.approx(expected, rel=0.2)
    assert abs(dx) < abs(expected) * 0.05


@pytest.mark.parametrize("z", [5.0, -5.0])
def test_z_zooms_by_z_percent_per_second(tmp_path: Path, z: float) -> None:
    zoom, roll = _zoom_and_roll_per_second(_decoded(tmp_path, _spec(MotionVector(z=z))))
    assert zoom == pytest.approx(z, rel=0.2)
    assert abs(roll) < 0.3


@pytest.mark.parametrize("r", [5.0, -5.0])
def test_r_turns_the_picture_counter_clockwise(tmp_path: Path, r: float) -> None:
    zoom, roll = _zoom_and_roll_per_second(_decoded(tmp_path, _spec(MotionVector(r=r))))
    assert roll == pytest.approx(r, rel=0.2)
    assert abs(zoom) < 0.3


def test_background_pan_moves_the_background_while_the_subject_holds(tmp_path: Path) -> None:
    spec = _spec(MotionVector(bg_x_pan=5))
    frames = _decoded(tmp_path, spec)
    scene = Renderer(spec).scene
    horizon = round(scene.layout.horizon)
    band = slice(horizon - H // 4, horizon - 4)  # ridges and sky above the horizon
    dx, _ = _slide_per_second([np.ascontiguousarray(f[band]) for f in frames])
    assert dx == pytest.approx(-0.05 * W, rel=0.2)

    sprite = scene.sprite
    assert sprite is not None
    ys, xs = np.nonzero(sprite.rgba[..., 3] > 128)
    left = round(sprite.world_x - sprite.anchor_x) + int(xs.min())
    top = round(sprite.world_y - sprite.anchor_y) + int(ys.min())
    template = frames[0][top : top + int(np.ptp(ys)) + 1, left : left + int(np.ptp(xs)) + 1]
    found = cv2.minMaxLoc(cv2.matchTemplate(frames[-1], template, cv2.TM_CCOEFF_NORMED))[3]
    assert abs(found[0] - left) <= 1
    assert abs(found[1] - top) <= 2
