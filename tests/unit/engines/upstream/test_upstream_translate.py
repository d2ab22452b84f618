"""Our task in another service's terms: the fixed prompt phrasing of style and camera motion,
and the nearest size and length each protocol accepts (docs/models.md has the table)."""

from __future__ import annotations

import pytest

from reelgate.core.tasks import GenerationSpec, MotionVector
from reelgate.engines.upstream.config import (
    DEFAULT_DURATIONS,
    DEFAULT_RATIOS,
    DEFAULT_SIZES,
    Protocol,
)
from reelgate.engines.upstream.translate import (
    MAX_PROMPT_CHARS,
    camera_phrases,
    folded_prompt,
    nearest_cometapi_ratio,
    nearest_duration,
    nearest_ratio,
    nearest_size,
)


def _spec(prompt: str = "a cat", style: str = "none", **motion: float) -> GenerationSpec:
    return GenerationSpec(
        prompt=prompt,
        model="gen4",
        width=1280,
        height=720,
        seconds=5,
        seed=1,
        style=style,
        motion=MotionVector(**motion),
    )


@pytest.mark.parametrize(
    ("motion", "phrase"),
    [
        ({"x": 3}, "travels right, the picture sliding left 3% of the frame width per second"),
        ({"x": -1.5}, "travels left, the picture sliding right 1.5% of the frame width per second"),
        ({"y": 2}, "travels up, the picture sliding down 2% of the frame height per second"),
        ({"y": -2}, "travels down, the picture sliding up 2% of the frame height per second"),
        ({"z": 4}, "zooms in 4% per second"),
        ({"z": -4}, "zooms out 4% per second"),
        ({"r": 6}, "rolls clockwise, the picture turning counter-clockwise 6 degrees per second"),
        ({"r": -6}, "rolls counter-clockwise, the picture turning clockwise 6 degrees per second"),
        (
            {"bg_x_pan": 1},
            "pans so the background slides left 1% of the frame width per second while the "
            "subject holds",
        ),
        (
            {"bg_y_pan": -1},
            "tilts so the background slides up 1% of the frame height per second while the "
            "subject holds",
        ),
    ],
)
def test_each_camera_component_has_one_fixed_phrase(motion: dict[str, float], phrase: str) -> None:
    assert camera_phrases(MotionVector(**motion)) == [phrase]


def test_the_prompt_carries_style_then_camera_in_a_fixed_order() -> None:
    folded = folded_prompt(_spec("a cat on a wall", "cinematic", r=-6, y=0.4))
    assert folded == (
        "a cat on a wall Style: cinematic. Camera: travels up, the picture sliding down 0.4% "
        "of the frame height per second; rolls counter-clockwise, the picture turning "
        "clockwise 6 degrees per second."
    )
    assert folded_prompt(_spec("a cat on a wall", "cinematic", r=-6, y=0.4)) == folded


def test_a_still_camera_and_no_style_leave_the_prompt_alone() -> None:
    assert folded_prompt(_spec("  a cat  ", "none")) == "a cat"
    assert folded_prompt(_spec("a cat", "None")) == "a cat"


def test_a_long_prompt_is_shortened_never_its_style_or_camera() -> None:
    folded = folded_prompt(_spec("word " * 400, "noir", z=2))
    assert len(folded) <= MAX_PROMPT_CHARS
    assert folded.endswith("… Style: noir. Camera: zooms in 2% per second.")
    assert folded.startswith("word word")


@pytest.mark.parametrize(
    ("size", "ratio", "openai_size", "cometapi"),
    [
        ((1280, 720), "1280:720", "1280x720", "16:9"),
        ((720, 1280), "720:1280", "720x1280", "9:16"),
        ((960, 960), "960:960", "720x1280", "1:1"),
        ((1104, 832), "1104:832", "1280x720", "4:3"),
        ((832, 1104), "832:1104", "720x1280", "3:4"),
        ((1584, 672), "1584:672", "1280x720", "21:9"),
        ((1792, 1024), "1280:720", "1792x1024", "16:9"),
        ((1024, 1792), "720:1280", "1024x1792", "9:16"),
    ],
)
def test_every_contract_size_maps_to_the_nearest_accepted_shape(
    size: tuple[int, int], ratio: str, openai_size: str, cometapi: str
) -> None:
    assert nearest_ratio(*size, DEFAULT_RATIOS) == ratio
    assert nearest_size(*size, DEFAULT_SIZES) == openai_size
    assert nearest_cometapi_ratio(*size) == cometapi


def test_shapes_alike_in_aspect_are_chosen_by_pixel_count() -> None:
    """1792x1024 (7:4) is 16:9 to a viewer: a 720p request stays 720p, not the costly size."""
    assert nearest_size(1280, 720, ("1792x1024", "1280x720")) == "1280x720"
    assert nearest_size(1280, 720, ("1792x1024",)) == "1792x1024"
    assert nearest_ratio(960, 960, ("1280:720", "720:1280")) == "1280:720"  # a tie: first listed


@pytest.mark.parametrize(
    ("protocol", "asked", "sent"),
    [
        (Protocol.RUNWAY, [2, 5, 10], [2, 5, 10]),
        (Protocol.COMETAPI, [5, 7, 8, 10], [5, 5, 10, 10]),
        (Protocol.OPENAI, [5, 6, 10], [4, 8, 12]),
    ],
)
def test_lengths_go_to_the_nearest_accepted_the_longer_on_a_tie(
    protocol: Protocol, asked: list[int], sent: list[int]
) -> None:
    accepted = DEFAULT_DURATIONS[protocol]
    assert [nearest_duration(s, accepted) for s in asked] == sent
