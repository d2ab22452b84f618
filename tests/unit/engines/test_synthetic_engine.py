"""The synthetic engine keeps the Engine contract: sizes, frame counts, laziness, determinism."""

from __future__ import annotations

import hashlib
import inspect
from collections import deque
from itertools import islice, pairwise

import cv2
import numpy as np
import pytest

from reelgate.core.tasks import GenerationSpec, MotionVector
from reelgate.engines.base import Engine, Frame, Reference
from reelgate.engines.synthetic import SyntheticEngine

CONTRACT_SIZES = [
    (1280, 720),
    (720, 1280),
    (960, 960),
    (1104, 832),
    (832, 1104),
    (1584, 672),
    (1792, 1024),
    (1024, 1792),
]


class _Ctx:
    def __init__(self, reference: Reference | None = None) -> None:
        self.reports: list[float] = []
        self.reference = reference

    def report(self, fraction: float) -> None:
        self.reports.append(fraction)


def _spec(**changes: object) -> GenerationSpec:
    values: dict[str, object] = {
        "prompt": "a dog on a beach at sunset",
        "model": "gen4",
        "width": 640,
        "height": 360,
        "seconds": 1,
        "seed": 42,
        "motion": MotionVector(x=2, z=3, r=-4),
    }
    values.update(changes)
    return GenerationSpec(**values)  # type: ignore[arg-type]


def _frames(spec: GenerationSpec) -> list[Frame]:
    return list(SyntheticEngine().generate(spec, _Ctx()))


def _digest(frames: list[Frame]) -> str:
    return hashlib.sha256(b"".join(f.tobytes() for f in frames)).hexdigest()


def test_is_an_engine_named_synthetic() -> None:
    engine: Engine = SyntheticEngine()
    assert engine.name == "synthetic"


@pytest.mark.parametrize(("width", "height"), CONTRACT_SIZES)
def test_every_contract_size_gets_exactly_its_frames(width: int, height: int) -> None:
    spec = _spec(width=width, height=height, style="cinematic")
    count = 0
    for frame in SyntheticEngine().generate(spec, _Ctx()):
        assert frame.shape == (height, width, 3)
        assert frame.dtype == np.uint8
        assert frame.flags.c_contiguous
        count += 1
    assert count == spec.frames == 24


def test_frames_come_lazily_so_a_cancel_stops_between_frames() -> None:
    frames = SyntheticEngine().generate(_spec(seconds=10), _Ctx())
    assert inspect.isgenerator(frames)
    first = list(islice(frames, 3))
    assert len(first) == 3
    frames.close()  # what a worker does when ctx.report raised TaskInterrupted
    assert list(frames) == []


def test_frames_are_fresh_arrays_a_consumer_may_keep() -> None:
    frames = _frames(_spec())
    assert len({id(f) for f in frames}) == len(frames)
    assert not any(np.shares_memory(a, b) for a, b in pairwise(frames))
    assert not np.array_equal(frames[0], frames[-1])  # and the camera did move


def test_same_spec_gives_byte_identical_frames() -> None:
    spec = _spec(style="vintage")  # grain and gate weave are seeded too
    assert _digest(_frames(spec)) == _digest(_frames(spec))


@pytest.mark.parametrize(
    "change",
    [{"seed": 43}, {"prompt": "a dog on a beach at night"}, {"style": "noir"}],
)
def test_a_different_seed_prompt_or_style_gives_different_frames(change: dict[str, object]) -> None:
    assert _digest(_frames(_spec(**change))) != _digest(_frames(_spec()))


def test_changing_only_the_camera_keeps_the_scene() -> None:
    still = next(SyntheticEngine().generate(_spec(motion=MotionVector()), _Ctx()))
    for motion in (MotionVector(x=-7), MotionVector(z=-9, r=12), MotionVector(bg_y_pan=5)):
        moving = next(SyntheticEngine().generate(_spec(motion=motion), _Ctx()))
        difference = np.abs(moving.astype(np.int16) - still.astype(np.int16))
        assert difference.max() <= 2
        assert (difference > 0).mean() < 0.001


def test_extreme_motion_on_the_largest_size_still_renders() -> None:
    spec = _spec(
        width=1792,
        height=1024,
        motion=MotionVector(x=10, y=-10, z=-10, r=10, bg_x_pan=10, bg_y_pan=-10),
    )
    (last,) = deque(SyntheticEngine().generate(spec, _Ctx()), maxlen=1)
    assert last.shape == (1024, 1792, 3)
    assert last.std() > 5  # a picture, not a blank frame


def test_the_scene_holds_a_sky_a_ground_and_a_subject() -> None:
    frame = _frames(_spec(prompt="a person in a meadow on a sunny day", seconds=1))[0]
    top, bottom = frame[:60].astype(np.float32), frame[-60:].astype(np.float32)
    assert top[..., 2].mean() > top[..., 0].mean() + 20  # blue sky above
    assert bottom[..., 1].mean() > bottom[..., 2].mean() + 20  # green grass below
    middle = frame[120:300, 200:440].astype(np.float32).mean(axis=2)
    assert middle.min() < 70  # a dark silhouette stands in the middle


SWING = MotionVector(x=8, z=-6, r=12)


def _photo(width: int = 800, height: int = 600) -> Frame:
    """An input image with structure everywhere: colour ramps and a dark disc off-centre."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.dstack([xs / width * 255, ys / height * 255, 255 - xs / width * 128])
    image[(xs - width * 0.6) ** 2 + (ys - height * 0.4) ** 2 < (height * 0.15) ** 2] = 20
    return image.astype(np.uint8)


def _covered(image: Frame, width: int, height: int) -> Frame:
    """What "fill the frame, crop the overflow evenly" means, written out independently."""
    scale = max(width / image.shape[1], height / image.shape[0])
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    big = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    x0, y0 = (size[0] - width) // 2, (size[1] - height) // 2
    return np.asarray(big[y0 : y0 + height, x0 : x0 + width], np.uint8)


def test_image_to_video_starts_on_the_input_image() -> None:
    ctx = _Ctx(Reference(_photo()))
    frames = list(SyntheticEngine().generate(_spec(style="none", motion=SWING), ctx))
    expected = _covered(_photo(), 640, 360).astype(np.int16)
    assert np.abs(frames[0].astype(np.int16) - expected).mean() < 2  # no silhouette on top
    assert np.abs(frames[-1].astype(np.int16) - expected).mean() > 10  # and the camera moves


def test_image_to_video_can_end_on_the_input_image() -> None:
    ctx = _Ctx(Reference(_photo(500, 900), position="last"))
    frames = list(SyntheticEngine().generate(_spec(style="none", motion=SWING), ctx))
    expected = _covered(_photo(500, 900), 640, 360).astype(np.int16)
    assert np.abs(frames[-1].astype(np.int16) - expected).mean() < 2
    assert np.abs(frames[0].astype(np.int16) - expected).mean() > 10


def test_image_to_video_takes_the_style() -> None:
    ctx = _Ctx(Reference(_photo()))
    frame = next(SyntheticEngine().generate(_spec(style="noir"), ctx))
    assert (frame[..., 0] == frame[..., 1]).all()
    assert (frame[..., 1] == frame[..., 2]).all()
