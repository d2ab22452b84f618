"""The quality guard: PSNR and the largest difference of a clip against its reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reelgate.engines.diffusers.quality import Fidelity, compare


def _clip(frames: int = 3, seed: int = 1) -> np.ndarray:
    # Values in 10..245, so an offset of up to 10 either way neither wraps nor clips.
    return np.random.default_rng(seed).integers(10, 246, (frames, 24, 32, 3), np.uint8)


def test_identical_clips_are_infinite_db_apart_and_differ_nowhere() -> None:
    clip = _clip()
    result = compare(clip, clip.copy())
    assert result == Fidelity(math.inf, 0)
    assert result.to_json() == {"psnr_db": None, "max_abs_diff": 0}


@pytest.mark.parametrize("offset", [1, 5, -10])
def test_a_uniform_offset_gives_the_analytical_psnr(offset: int) -> None:
    clip = _clip()
    shifted = (clip.astype(np.int16) + offset).astype(np.uint8)
    result = compare(clip, shifted)
    # MSE is offset**2 everywhere: PSNR = 10 log10(255**2 / offset**2) = 20 log10(255 / |offset|)
    assert result.psnr_db == pytest.approx(20 * math.log10(255 / abs(offset)), abs=1e-9)
    assert result.max_abs_diff == abs(offset)


def test_one_changed_pixel_sets_the_largest_difference_and_lowers_psnr_by_its_share() -> None:
    clip = np.full((2, 4, 5, 3), 100, np.uint8)
    changed = clip.copy()
    changed[1, 2, 3, 0] = 40
    result = compare(clip, changed)
    assert result.max_abs_diff == 60
    mse = 60**2 / clip.size
    assert result.psnr_db == pytest.approx(10 * math.log10(255**2 / mse))
    assert result.to_json()["psnr_db"] == round(result.psnr_db, 3)


def test_a_list_of_frames_reads_like_the_stacked_array() -> None:
    clip, other = _clip(seed=1), _clip(seed=2)
    assert compare(list(clip), list(other)) == compare(clip, other)


@pytest.mark.parametrize(
    ("candidate", "problem"),
    [
        (np.zeros((3, 24, 30, 3), np.uint8), r"differ in shape: \(3, 24, 32, 3\) against"),
        (np.zeros((2, 24, 32, 3), np.uint8), "differ in shape"),
        (np.zeros((3, 24, 32, 3), np.float32), "candidate: pixels must be uint8, not float32"),
        (np.zeros((0, 24, 32, 3), np.uint8), "candidate: the clip is empty"),
        ([], "candidate: the clip is empty"),
        (
            [np.zeros((24, 32, 3), np.uint8), np.zeros((24, 30, 3), np.uint8)],
            "candidate: its frames differ in shape",
        ),
    ],
)
def test_clips_that_cannot_be_compared_are_refused(candidate: object, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        compare(_clip(), candidate)  # type: ignore[arg-type]
