"""Frame sizes for every ratio spelling the dialects use (CONTRACT.md 4.1)."""

from __future__ import annotations

_SIZES: dict[str, tuple[int, int]] = {}
for _names, _size in (
    (("16:9", "1280:720", "1280x720"), (1280, 720)),
    (("9:16", "720:1280", "720x1280"), (720, 1280)),
    (("1:1", "960:960"), (960, 960)),
    (("4:3", "1104:832"), (1104, 832)),
    (("3:4", "832:1104"), (832, 1104)),
    (("21:9", "1584:672"), (1584, 672)),
    (("1792x1024",), (1792, 1024)),
    (("1024x1792",), (1024, 1792)),
):
    for _name in _names:
        _SIZES[_name] = _size

COMETAPI_RATIOS = (
    "16:9",
    "9:16",
    "1:1",
    "4:3",
    "3:4",
    "21:9",
    "1280:720",
    "720:1280",
    "960:960",
    "1104:832",
    "832:1104",
    "1584:672",
)
RUNWAY_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
OPENAI_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")


def frame_size(ratio: str) -> tuple[int, int]:
    """(width, height) in pixels for a ratio; KeyError for an unknown one."""
    return _SIZES[ratio]
