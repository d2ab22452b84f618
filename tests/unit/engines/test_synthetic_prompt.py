"""Words in the prompt change what the synthetic scene shows (English, Spanish, Chinese)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reelgate.core.tasks import GenerationSpec
from reelgate.engines.base import Frame
from reelgate.engines.synthetic import Renderer
from reelgate.engines.synthetic.prompt import Setting, Subject, TimeOfDay, read_prompt


def _frame(prompt: str) -> Frame:
    spec = GenerationSpec(prompt=prompt, model="gen4", width=640, height=360, seconds=1, seed=5)
    return Renderer(spec).frame(0)


def _sky(frame: Frame) -> np.ndarray:
    return frame[:70].reshape(-1, 3).astype(np.float64)


def _ground(frame: Frame) -> np.ndarray:
    return frame[-50:].reshape(-1, 3).astype(np.float64)


def _brightness(pixels: np.ndarray) -> float:
    return float(pixels.mean())


def _saturation(pixels: np.ndarray) -> float:
    return float((pixels.max(axis=1) - pixels.min(axis=1)).mean())


@pytest.mark.parametrize(
    "night", ["a cat at night", "un gato en la noche", "夜晚的猫", "a cat under the moon"]
)
def test_night_has_a_darker_sky_than_a_sunny_day(night: str) -> None:
    day = _brightness(_sky(_frame("a cat on a sunny day")))
    assert _brightness(_sky(_frame(night))) < day * 0.4


def test_sunset_warms_the_sky() -> None:
    day, dusk = _frame("a cat on a sunny day"), _frame("a cat at sunset")
    horizon = slice(120, 190)

    def warmth(frame: Frame) -> float:
        band = frame[horizon].reshape(-1, 3).astype(np.float64)
        return float(band[:, 0].mean() - band[:, 2].mean())

    assert warmth(dusk) > warmth(day) + 30


@pytest.mark.parametrize("snow", ["a dog in the snow", "un perro en la nieve", "雪地里的狗"])
def test_snow_makes_the_ground_brighter_and_whiter(snow: str) -> None:
    meadow, snowy = _ground(_frame("a dog in a meadow")), _ground(_frame(snow))
    assert _brightness(snowy) > _brightness(meadow) + 60
    assert _saturation(snowy) < _saturation(meadow) / 2


def test_the_ocean_fills_the_view_with_blue_water() -> None:
    sea = _frame("a boat on the ocean")[200:300].reshape(-1, 3).astype(np.float64)
    assert sea[:, 2].mean() > sea[:, 0].mean() + 40


def test_a_city_at_night_has_lit_windows() -> None:
    frame = _frame("a car in the city at night")
    sky_and_towers = cv2.cvtColor(frame[:200], cv2.COLOR_RGB2HSV)
    warm_lights = (sky_and_towers[..., 2] > 180) & (sky_and_towers[..., 0] < 40)
    assert warm_lights.sum() > 50


@pytest.mark.parametrize(
    ("prompt", "subject"),
    [
        ("a cat sleeping", Subject.CAT),
        ("un perro corriendo", Subject.DOG),
        ("一辆红色的汽车", Subject.CAR),
        ("a small boat", Subject.BOAT),
        ("a wooden cabin", Subject.HOUSE),
        ("an eagle soaring", Subject.BIRD),
        ("a woman walking", Subject.PERSON),
        ("an old oak", Subject.TREE),
        ("abstract swirling shapes", Subject.PERSON),  # the default
        ("a category of cartoons", Subject.PERSON),  # no cat, no car: whole words only
    ],
)
def test_subject_words_pick_the_silhouette(prompt: str, subject: Subject) -> None:
    assert read_prompt(prompt).subject is subject


def test_the_earliest_word_wins_and_colours_tint_the_subject() -> None:
    recipe = read_prompt("a red car chasing a dog through the desert at dusk")
    assert recipe.subject is Subject.CAR
    assert recipe.setting is Setting.DESERT
    assert recipe.time is TimeOfDay.SUNSET
    assert recipe.subject_color is not None
    assert recipe.subject_color[0] > 150


def test_a_boat_without_a_place_floats_on_water() -> None:
    assert read_prompt("a boat at night").setting is Setting.OCEAN


@pytest.mark.parametrize(
    ("prompt", "low", "high"),
    [("a car", 2.0, 4.0), ("a person", 0.2, 0.5), ("a cat", 0.6, 1.3), ("a house", 0.8, 1.3)],
)
def test_each_subject_has_its_own_shape(prompt: str, low: float, high: float) -> None:
    spec = GenerationSpec(prompt=prompt, model="gen4", width=640, height=360, seconds=1, seed=5)
    sprite = Renderer(spec).scene.sprite
    assert sprite is not None
    opaque = sprite.rgba[..., 3] > 128
    rows, cols = np.nonzero(opaque)
    width, height = np.ptp(cols) + 1, np.ptp(rows) + 1
    assert low < width / height < high
    assert height > 360 * 0.1  # big enough to read
