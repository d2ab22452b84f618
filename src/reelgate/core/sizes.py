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

RATIO_NAMES = tuple(_SIZES)  # every spelling; each dialect accepts its own subset


def frame_size(ratio: str) -> tuple[int, int]:
    """(width, height) in pixels for a ratio; KeyError for an unknown one."""
    return _SIZES[ratio]
