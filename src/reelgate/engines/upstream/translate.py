"""Our task in another service's terms: the nearest size and length it accepts, and the style and
camera motion said in words for services that take neither (docs/models.md has the table).

The phrasing is fixed, so the same task always sends the same prompt:

    <prompt> Style: <style>. Camera: <motion phrase>; <motion phrase>.

with one phrase per non-zero component of the motion vector (CONTRACT.md 4.2), e.g.
`travels right, the picture sliding left 3% of the frame width per second`.
"""

from __future__ import annotations

import math

from reelgate.core.sizes import frame_size
from reelgate.core.tasks import GenerationSpec, MotionVector

MAX_PROMPT_CHARS = 1000  # Runway's and CometAPI's limit; OpenAI-style servers take more
COMETAPI_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
ASPECT_TOLERANCE = 0.05  # in log(width / height): shapes within about 5% count as the same


def _speed(value: float) -> str:
    return f"{abs(value):g}"


def camera_phrases(motion: MotionVector) -> list[str]:
    """The motion vector in words, one phrase per moving component, in a fixed order."""
    phrases = []
    if motion.x:
        way, slide = ("right", "left") if motion.x > 0 else ("left", "right")
        phrases.append(
            f"travels {way}, the picture sliding {slide} {_speed(motion.x)}% of the frame "
            "width per second"
        )
    if motion.y:
        way, slide = ("up", "down") if motion.y > 0 else ("down", "up")
        phrases.append(
            f"travels {way}, the picture sliding {slide} {_speed(motion.y)}% of the frame "
            "height per second"
        )
    if motion.z:
        way = "in" if motion.z > 0 else "out"
        phrases.append(f"zooms {way} {_speed(motion.z)}% per second")
    if motion.r:
        way, turn = (
            ("clockwise", "counter-clockwise")
            if motion.r > 0
            else (
                "counter-clockwise",
                "clockwise",
            )
        )
        phrases.append(
            f"rolls {way}, the picture turning {turn} {_speed(motion.r)} degrees per second"
        )
    if motion.bg_x_pan:
        slide = "left" if motion.bg_x_pan > 0 else "right"
        phrases.append(
            f"pans so the background slides {slide} {_speed(motion.bg_x_pan)}% of the frame "
            "width per second while the subject holds"
        )
    if motion.bg_y_pan:
        slide = "down" if motion.bg_y_pan > 0 else "up"
        phrases.append(
            f"tilts so the background slides {slide} {_speed(motion.bg_y_pan)}% of the frame "
            "height per second while the subject holds"
        )
    return phrases


def folded_prompt(spec: GenerationSpec, limit: int = MAX_PROMPT_CHARS) -> str:
    """The prompt with the style and the camera motion appended in words. When the whole is
    over `limit` characters, the prompt's own text is shortened, never the appended parts."""
    suffix = []
    style = spec.style.strip()
    if style and style.lower() != "none":
        suffix.append(f"Style: {style}.")
    phrases = camera_phrases(spec.motion)
    if phrases:
        suffix.append("Camera: " + "; ".join(phrases) + ".")
    tail = " ".join(suffix)
    prompt = spec.prompt.strip()
    if not tail:
        return prompt[:limit]
    room = max(0, limit - len(tail) - 1)
    head = prompt if len(prompt) <= room else prompt[: max(0, room - 1)].rstrip() + "…"
    return f"{head} {tail}"[:limit]


def _aspect_distance(width: int, height: int, other_width: int, other_height: int) -> float:
    return abs(math.log(width / height) - math.log(other_width / other_height))


def _nearest_shape(width: int, height: int, shapes: list[tuple[str, int, int]]) -> str:
    """The name of the shape closest in aspect to width x height; among shapes within
    ASPECT_TOLERANCE of the closest (16:9 and 7:4 are one shape to a viewer), the one closest in
    pixel count; then the first listed."""

    def aspect(shape: tuple[str, int, int]) -> float:
        return _aspect_distance(width, height, shape[1], shape[2])

    best = min(aspect(shape) for shape in shapes)
    close = [shape for shape in shapes if aspect(shape) <= best + ASPECT_TOLERANCE]
    return min(close, key=lambda s: abs(math.log((s[1] * s[2]) / (width * height))))[0]


def nearest_ratio(width: int, height: int, accepted: tuple[str, ...]) -> str:
    """Runway's `ratio` ("1280:720") the upstream model accepts that is nearest to our size."""
    shapes = [(r, int(r.split(":")[0]), int(r.split(":")[1])) for r in accepted]
    return _nearest_shape(width, height, shapes)


def nearest_size(width: int, height: int, accepted: tuple[str, ...]) -> str:
    """OpenAI's `size` ("1280x720") the upstream accepts that is nearest to our size."""
    shapes = [(s, int(s.split("x")[0]), int(s.split("x")[1])) for s in accepted]
    return _nearest_shape(width, height, shapes)


def nearest_cometapi_ratio(width: int, height: int) -> str:
    """CometAPI's named ratio ("16:9") nearest to our size."""
    return _nearest_shape(width, height, [(r, *frame_size(r)) for r in COMETAPI_RATIOS])


def nearest_duration(seconds: int, accepted: tuple[int, ...]) -> int:
    """The accepted length nearest to `seconds`; between two equally near, the longer (a clip
    a little long can be watched in full; one too short cannot be stretched honestly)."""
    return min(accepted, key=lambda d: (abs(d - seconds), -d))
