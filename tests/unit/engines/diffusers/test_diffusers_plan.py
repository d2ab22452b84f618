"""What the model is asked for: size at its multiple, enough frames to span the clip at its
native rate, a margin for the camera, and the style and background pans as words."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from reelgate.core.tasks import GenerationSpec, MotionVector
from reelgate.engines.diffusers.config import DiffusersConfig
from reelgate.engines.diffusers.plan import (
    Geometry,
    camera_maps,
    compose_prompt,
    frame_positions,
    generation_size,
    make_plan,
)

CONTRACT_SIZES = [(1280, 720), (720, 1280), (960, 960), (1104, 832), (832, 1104), (1584, 672)]


def _config(**keys: object) -> DiffusersConfig:
    values: dict[str, object] = {"family": "wan", "path": Path("/w"), "device": "cpu"}
    values.update(keys)
    return DiffusersConfig.model_validate(values)


def _spec(
    seconds: int = 5, motion: MotionVector | None = None, **changes: object
) -> GenerationSpec:
    values: dict[str, object] = {
        "prompt": "a fox in the snow",
        "model": "m",
        "width": 1280,
        "height": 720,
        "seconds": seconds,
        "seed": 1,
        "motion": motion or MotionVector(),
    }
    values.update(changes)
    return GenerationSpec(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("width", "height"), CONTRACT_SIZES)
@pytest.mark.parametrize("multiple", [16, 32])
def test_generation_keeps_the_native_area_at_the_multiple(
    width: int, height: int, multiple: int
) -> None:
    w, h = generation_size(width / height, 832 * 480, multiple)
    assert (w % multiple, h % multiple) == (0, 0)
    assert abs(w * h / (832 * 480) - 1) < 0.12
    assert abs((w / h) / (width / height) - 1) < 0.08


@pytest.mark.parametrize(
    ("seconds", "fps", "temporal", "max_frames", "count"),
    [
        (5, 16, 4, None, 81),  # Wan2.1: exactly its trained 81 frames
        (10, 16, 4, None, 161),
        (5, 24, 8, None, 121),  # LTX-Video: 8k + 1
        (5, 8, 4, 49, 41),  # CogVideoX: 40 frames span 5 s at 8 fps
        (2, 16, 4, None, 33),
    ],
)
def test_enough_native_frames_span_the_clip_at_the_native_rate(
    seconds: int, fps: int, temporal: int, max_frames: int | None, count: int
) -> None:
    frames, positions = frame_positions(seconds * 24, fps, temporal, 1, max_frames)
    assert frames == count
    assert (frames - 1) % temporal == 0
    assert len(positions) == seconds * 24
    assert positions[0] == 0.0
    assert positions[1] == pytest.approx(fps / 24)
    assert positions[-1] <= frames - 1


def test_a_frame_cap_spreads_the_frames_over_the_whole_clip_never_shortening_it() -> None:
    frames, positions = frame_positions(240, 8, 4, 1, 49)
    assert frames == 49
    assert len(positions) == 240
    assert positions[-1] == pytest.approx(48.0)
    steps = {round(b - a, 9) for a, b in itertools.pairwise(positions)}
    assert steps == {round(48 / 239, 9)}


def test_a_frame_floor_renders_more_and_drops_the_tail() -> None:
    frames, positions = frame_positions(24, 16, 4, 81)
    assert frames == 81
    assert positions[-1] == pytest.approx(23 * 16 / 24)


def test_a_still_camera_needs_no_margin_and_the_plan_fits_the_contract() -> None:
    plan = make_plan(_spec(), _config(), Geometry(16, 4), None)
    assert plan.canvas == (1280, 720)
    assert (plan.out_width, plan.out_height) == (1280, 720)
    assert (plan.width % 16, plan.height % 16) == (0, 0)
    assert plan.frames == 81
    assert len(plan.positions) == len(plan.camera) == 120


def test_the_margin_covers_where_the_camera_goes_up_to_its_cap() -> None:
    # x = 2 for 5 s: the picture slides 10 % of the width left, revealing the right side.
    plan = make_plan(_spec(motion=MotionVector(x=2)), _config(), Geometry(16, 4), None)
    margins = plan.margins
    assert (margins.left, margins.top, margins.bottom) == (0, 0, 0)
    assert margins.right == pytest.approx(0.1 * 1280 * 119 / 120, abs=2)
    capped = make_plan(_spec(motion=MotionVector(x=8)), _config(), Geometry(16, 4), None)
    assert capped.margins.right == math.floor(0.125 * 1280)
    wide = plan.canvas[0] / plan.canvas[1]
    assert plan.width / plan.height == pytest.approx(wide, rel=0.1)


def test_an_end_frame_anchors_the_camera_and_plays_the_clip_backwards() -> None:
    spec = _spec(motion=MotionVector(x=2))
    plan = make_plan(spec, _config(), Geometry(16, 4), "last")
    assert sum(plan.camera[-1].rows(), ()) == pytest.approx((1, 0, 0, 0, 1, 0))
    assert plan.positions[-1] == 0.0
    assert plan.positions[0] > plan.positions[1]
    assert plan.margins.left > 0
    assert plan.margins.right == 0


def test_camera_maps_follow_the_contracts_path() -> None:
    spec = _spec(seconds=1, motion=MotionVector(x=5, y=-3))
    maps = camera_maps(spec)
    one_second = maps[-1].apply(0, 0)
    assert one_second[0] == pytest.approx(-0.05 * 1280 * 23 / 24)
    assert one_second[1] == pytest.approx(-0.03 * 720 * 23 / 24)


def test_a_fixed_size_model_renders_its_size_and_the_canvas_is_cropped_from_it() -> None:
    config = _config(width=720, height=480, fixed_size=True)
    plan = make_plan(_spec(width=720, height=1280), config, Geometry(16, 4), None)
    assert (plan.width, plan.height) == (720, 480)
    x, y, w, h = plan.crop
    assert (y, h) == (0, 480)
    assert w / h == pytest.approx(720 / 1280, abs=0.01)
    assert x == (720 - w) // 2


@pytest.mark.parametrize(
    ("style", "motion", "expected"),
    [
        ("none", MotionVector(), "a fox in the snow."),
        ("Cinematic", MotionVector(), "a fox in the snow. cinematic film still, anamorphic"),
        ("noir", MotionVector(x=5, r=3), "a fox in the snow. film noir, black and white"),
        ("watercolour", MotionVector(), "a fox in the snow. watercolour style."),
        ("none", MotionVector(bg_x_pan=5), "a fox in the snow. the camera orbits right around"),
        ("none", MotionVector(bg_y_pan=-9), "snow. the camera quickly orbits down around the"),
        ("none", MotionVector(bg_x_pan=-1), "snow. the camera slowly orbits left around the"),
    ],
)
def test_style_and_background_pans_are_folded_into_the_prompt(
    style: str, motion: MotionVector, expected: str
) -> None:
    prompt = compose_prompt("a fox in the snow.", style, motion)
    assert expected in prompt
    assert "camera" not in prompt or motion.bg_x_pan or motion.bg_y_pan
