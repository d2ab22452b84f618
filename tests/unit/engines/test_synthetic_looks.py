"""Style presets (CONTRACT.md 4.3) look different, in the ways each one promises."""

from __future__ import annotations

from itertools import islice

import cv2
import numpy as np
import pytest

from reelgate.core.tasks import GenerationSpec, MotionVector
from reelgate.engines.base import Frame, Reference
from reelgate.engines.synthetic import SyntheticEngine
from reelgate.engines.synthetic.looks import Grade, resolve_look

PRESETS = ["none", "cinematic", "anime", "noir", "vintage", "vivid"]


class _Ctx:
    reference: Reference | None = None

    def report(self, fraction: float) -> None:
        del fraction


def _first(
    style: str,
    width: int = 640,
    height: int = 360,
    count: int = 1,
    prompt: str = "a red car in a city street at sunset",
) -> list[Frame]:
    spec = GenerationSpec(
        prompt=prompt,
        model="gen4",
        width=width,
        height=height,
        seconds=1,
        seed=9,
        style=style,
        motion=MotionVector(y=0.4, r=-6),
    )
    return list(islice(SyntheticEngine().generate(spec, _Ctx()), count))


def _stats(frame: Frame) -> np.ndarray:
    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV).reshape(-1, 3).astype(np.float64)
    rgb = frame.reshape(-1, 3).astype(np.float64)
    return np.concatenate([rgb.mean(0), rgb.std(0), [hsv[:, 1].mean(), hsv[:, 2].std()]])


def test_every_preset_looks_different_from_every_other() -> None:
    stats = {style: _stats(_first(style)[0]) for style in PRESETS}
    for i, a in enumerate(PRESETS):
        for b in PRESETS[i + 1 :]:
            assert np.abs(stats[a] - stats[b]).max() > 3, f"{a} and {b} look alike"


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (720, 1280), (1584, 672)])
def test_cinematic_letterboxes_to_2_39_with_exact_black_bars(width: int, height: int) -> None:
    frame = _first("cinematic", width, height)[0]
    visible = min(height, round(width / 2.39))
    top = (height - visible) // 2
    bottom = height - visible - top
    rows_black = (frame == 0).all(axis=(1, 2))
    assert rows_black[:top].all()
    assert rows_black[height - bottom :].all()
    assert not rows_black[top]
    assert not rows_black[height - bottom - 1]
    assert frame[top : height - bottom].mean() > 30


def test_cinematic_grades_shadows_teal_and_highlights_orange() -> None:
    ramp = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)
    graded = Grade(resolve_look("cinematic"), ramp)(ramp)[0].astype(np.int16)
    shadows, highlights = graded[30:90], graded[170:230]
    assert (shadows[:, 2] > shadows[:, 0]).all()  # blue over red: teal
    assert (highlights[:, 0] > highlights[:, 2]).all()  # red over blue: orange


def test_noir_is_monochrome_with_hard_contrast_and_a_vignette() -> None:
    frame = _first("noir")[0]
    assert (frame[..., 0] == frame[..., 1]).all()
    assert (frame[..., 1] == frame[..., 2]).all()
    assert cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)[..., 1].max() == 0
    gray = frame[..., 0].astype(np.float64)
    plain = cv2.cvtColor(_first("none")[0], cv2.COLOR_RGB2GRAY).astype(np.float64)
    assert gray.std() > plain.std()
    corners = np.concatenate([gray[:40, :40].ravel(), gray[-40:, -40:].ravel()])
    assert corners.mean() < gray[140:220, 280:360].mean()


def test_grain_and_gate_weave_are_alive_but_seeded() -> None:
    for style in ("cinematic", "vintage", "noir"):
        first, second = _first(style, count=2)
        assert not np.array_equal(first, second)
        assert np.array_equal(first, _first(style)[0])


def test_anime_flattens_colour_into_areas_with_ink_lines() -> None:
    anime, plain = _first("anime")[0], _first("none")[0]

    def colours(image: Frame) -> int:
        packed = image.reshape(-1, 3).astype(np.int32) @ np.array([65536, 256, 1])
        return len(np.unique(packed))

    assert colours(anime) * 3 < colours(plain)
    assert (anime.max(axis=2) < 40).mean() > (plain.max(axis=2) < 40).mean()  # the ink


def test_vivid_is_more_saturated_and_vintage_is_faded_and_warm() -> None:
    day = "a person in a meadow on a sunny day"
    plain, vivid, vintage = (_first(s, prompt=day)[0] for s in ("none", "vivid", "vintage"))

    def saturation(image: Frame) -> float:
        return float(cv2.cvtColor(image, cv2.COLOR_RGB2HSV)[..., 1].mean())

    assert saturation(vivid) > saturation(plain) * 1.15
    assert saturation(vintage) < saturation(plain)
    assert np.percentile(vintage, 1) > np.percentile(plain, 1)  # lifted blacks
    assert (
        vintage[..., 0].mean() - vintage[..., 2].mean()
        > plain[..., 0].mean() - plain[..., 2].mean()
    )


def test_style_names_are_case_insensitive() -> None:
    assert np.array_equal(_first("CINEMATIC")[0], _first("cinematic")[0])
    assert np.array_equal(_first(" Noir ")[0], _first("noir")[0])


@pytest.mark.parametrize("hint", ["watercolor dreamy pastel", "吉卜力", "", "x" * 64, "%$#@!"])
def test_an_unknown_style_is_a_hint_that_never_fails(hint: str) -> None:
    frame = _first(hint)[0]
    assert frame.shape == (360, 640, 3)
    assert frame.std() > 5


def test_hint_words_steer_to_the_nearest_preset() -> None:
    frame = _first("black and white film")[0]
    assert (frame[..., 0] == frame[..., 2]).all()
