"""The model's frames fitted to the contract: exact size, 24 fps retiming, and the camera path
of CONTRACT.md 4.2 as a warp, measured on the pictures the way a viewer would see it."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from reelgate.core.tasks import GenerationSpec, MotionVector
from reelgate.engines.base import Frame
from reelgate.engines.diffusers.config import DiffusersConfig, Retime
from reelgate.engines.diffusers.frames import Fitter, fit_reference, sample
from reelgate.engines.diffusers.plan import Geometry, Plan, make_plan

W, H = 640, 360
WAN = Geometry(16, 4)
Gray = npt.NDArray[np.float32]


def _plan(
    motion: MotionVector, seconds: int = 2, position: str | None = None, **keys: object
) -> Plan:
    values: dict[str, object] = {"family": "wan", "path": Path("/w"), "device": "cpu"}
    values.update(keys)
    config = DiffusersConfig.model_validate(values)
    spec = GenerationSpec(
        prompt="p", model="m", width=W, height=H, seconds=seconds, seed=0, motion=motion
    )
    return make_plan(spec, config, WAN, position)


def _texture(width: int, height: int, seed: int = 0) -> Frame:
    noise = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    return np.asarray(cv2.GaussianBlur(noise, (0, 0), 1.5), np.uint8)


def _still_clip(plan: Plan) -> list[Frame]:
    """What a model would render for a static scene: the same picture in every native frame."""
    picture = _texture(plan.width, plan.height)
    return [picture] * plan.frames


def _gray(frame: Frame) -> Gray:
    return np.asarray(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), np.float32)


def _shift(a: Frame, b: Frame) -> tuple[float, float]:
    """How far `b`'s content sits from where it was in `a` (x right, y down), in pixels."""
    ga, gb = _gray(a), _gray(b)
    window = cv2.createHanningWindow((W, H), cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(ga - ga.mean(), gb - gb.mean(), window)
    return dx, dy


def _scale_and_turn(a: Frame, b: Frame) -> tuple[float, float]:
    """Scale and counter-clockwise degrees (on screen) from `a` to `b`, from tracked corners."""
    a8, b8 = _gray(a).astype(np.uint8), _gray(b).astype(np.uint8)
    corners = cv2.goodFeaturesToTrack(a8, 400, 0.01, 8)
    tracked, found, _ = cv2.calcOpticalFlowPyrLK(a8, b8, corners, np.empty(0, np.float32))
    ok = found.ravel() == 1
    fit, _ = cv2.estimateAffinePartial2D(corners[ok], tracked[ok], method=cv2.RANSAC)
    return math.hypot(fit[0, 0], fit[1, 0]), -math.degrees(math.atan2(fit[1, 0], fit[0, 0]))


def _frames(plan: Plan, native: list[Frame], mode: Retime = Retime.BLEND) -> list[Frame]:
    fitter = Fitter(plan, native, mode)
    return [fitter.frame(i) for i in range(len(fitter))]


def test_every_frame_has_the_contract_size_and_the_clip_its_duration() -> None:
    plan = _plan(MotionVector(x=3, z=-4, r=5), seconds=3)
    frames = _frames(plan, _still_clip(plan))
    assert len(frames) == 72
    assert {f.shape for f in frames} == {(H, W, 3)}
    assert {f.dtype for f in frames} == {np.dtype(np.uint8)}


def test_a_still_camera_is_a_plain_resize() -> None:
    plan = _plan(MotionVector())
    native = _still_clip(plan)
    x, y, w, h = plan.crop
    assert w > W  # the model renders more pixels than the output: an area-averaging shrink
    expected = cv2.resize(native[0][y : y + h, x : x + w], (W, H), interpolation=cv2.INTER_AREA)
    frames = _frames(plan, native)
    assert np.array_equal(frames[0], expected)
    assert np.array_equal(frames[-1], expected)


@pytest.mark.parametrize(("x", "y"), [(4.0, 0.0), (-6.0, 0.0), (0.0, 5.0), (0.0, -3.0)])
def test_x_and_y_slide_the_picture_at_their_rate(x: float, y: float) -> None:
    plan = _plan(MotionVector(x=x, y=y))
    frames = _frames(plan, _still_clip(plan))
    dx, dy = _shift(frames[0], frames[24])  # one second apart
    assert dx == pytest.approx(-x / 100 * W, abs=1.0)
    assert dy == pytest.approx(y / 100 * H, abs=1.0)


@pytest.mark.parametrize(("z", "r"), [(8.0, 0.0), (-8.0, 0.0), (0.0, 6.0), (5.0, -9.0)])
def test_z_zooms_and_r_turns_the_picture_at_their_rate(z: float, r: float) -> None:
    plan = _plan(MotionVector(z=z, r=r))
    frames = _frames(plan, _still_clip(plan))
    scale, turn = _scale_and_turn(frames[0], frames[24])
    assert scale == pytest.approx(1 + z / 100, abs=0.01)
    assert turn == pytest.approx(r, abs=0.3)


def test_retiming_cross_fades_or_repeats_the_native_frames() -> None:
    plan = _plan(MotionVector(), seconds=1)
    native = [np.full((plan.height, plan.width, 3), 10 * k, np.uint8) for k in range(plan.frames)]
    blended = _frames(plan, native)
    nearest = _frames(plan, native, Retime.NEAREST)
    for j, position in enumerate(plan.positions):
        assert int(blended[j][H // 2, W // 2, 0]) == pytest.approx(10 * position, abs=1)
        assert int(nearest[j][H // 2, W // 2, 0]) == 10 * round(position)


def test_sample_takes_a_native_frame_as_it_is_on_its_instant() -> None:
    native = [np.full((4, 4, 3), v, np.uint8) for v in (0, 100, 200)]
    assert sample(native, 1.0, Retime.BLEND) is native[1]
    assert int(sample(native, 0.5, Retime.BLEND)[0, 0, 0]) == 50
    assert sample(native, 9.0, Retime.BLEND) is native[2]


def test_too_few_native_frames_is_an_error_not_a_shorter_clip() -> None:
    plan = _plan(MotionVector())
    with pytest.raises(ValueError, match="frames"):
        Fitter(plan, _still_clip(plan)[:-1], Retime.BLEND)


@pytest.mark.parametrize(
    ("motion", "position", "shown"),
    [
        (MotionVector(), "first", 0),
        (MotionVector(x=4, r=-5), "first", 0),
        (MotionVector(x=4, z=6), "last", -1),
    ],
)
def test_the_input_image_comes_back_as_given_on_its_frame(
    motion: MotionVector, position: str, shown: int
) -> None:
    image = _texture(1920, 1080, seed=3)
    plan = _plan(motion, position=position)
    conditioning = fit_reference(image, plan)
    assert conditioning.shape == (plan.height, plan.width, 3)
    # A model that reproduces its first frame: the clip starts (or ends) on the input image.
    frames = _frames(plan, [conditioning] * plan.frames)
    expected = cv2.resize(image, (W, H), interpolation=cv2.INTER_AREA)
    error = np.abs(frames[shown].astype(np.int16) - expected.astype(np.int16)).mean()
    assert error < 6.0
