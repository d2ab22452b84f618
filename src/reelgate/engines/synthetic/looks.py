"""Style presets (CONTRACT.md 4.3): a colour grade and a per-frame finish.

A grade is a per-pixel colour change, so it is applied once to the scene's layers before any
frame is drawn (warping and grading commute closely enough); anime's ink edges are found once
there too. What must live in screen space (letterbox, vignette, film grain, gate weave) is done
per frame by `Finish`, with uint8 operations and textures prepared up front.

Unknown style text is a hint: a few words steer it to the nearest preset, anything else tints
the picture by a hash of the text, so two different hints look different but neither fails.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]

PRESETS = ("none", "cinematic", "anime", "noir", "vintage", "vivid")
_HINTS = (  # checked in order: "film noir" is noir before it is film
    (
        "noir",
        (
            "noir",
            "black and white",
            "black & white",
            "b&w",
            "monochrome",
            "grayscale",
            "greyscale",
            "blanco y negro",
            "黑白",
        ),
    ),
    ("anime", ("anime", "cartoon", "manga", "ghibli", "cel", "comic", "animación", "动漫", "卡通")),
    (
        "vintage",
        ("vintage", "retro", "sepia", "old film", "70s", "80s", "nostalgic", "antiguo", "复古"),
    ),
    ("cinematic", ("cinematic", "film", "movie", "cinema", "epic", "cine", "电影")),
    ("vivid", ("vivid", "vibrant", "colorful", "colourful", "saturated", "neon", "vivo", "鲜艳")),
)
LETTERBOX_RATIO = 2.39
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True, slots=True)
class Look:
    """A resolved style: which grade, and what the per-frame finish adds."""

    name: str
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    letterbox: bool = False
    grain: float = 0.0  # standard deviation, in 8-bit levels
    grain_size: float = 0.5  # pixels (blur sigma): bigger grains look older and code cheaper
    vignette: float = 0.0  # darkening at the corners, 0..1
    weave: float = 0.0  # pixels of gate weave

    def content_rows(self, width: int, height: int) -> tuple[int, int]:
        """The first and one-past-last rows that show picture; the rest are black bars."""
        if not self.letterbox or width / height >= LETTERBOX_RATIO:
            return 0, height
        visible = min(height, round(width / LETTERBOX_RATIO))
        top = (height - visible) // 2
        return top, top + visible


def _affine_color(
    saturation: float,
    contrast: float,
    gains: tuple[float, float, float] = (1, 1, 1),
    lift: tuple[float, float, float] = (0, 0, 0),
    fade: tuple[float, float] = (0, 1),
) -> npt.NDArray[np.float64]:
    """A 3x4 colour matrix for `cv2.transform`: saturation about luma, contrast about mid-grey,
    per-channel gains and lifts, then a fade `(floor, range)`, all on 0..255 values."""
    luma = np.tile(np.asarray(_LUMA), (3, 1))
    matrix = saturation * np.eye(3) + (1 - saturation) * luma
    offset = np.full(3, 127.5 * (1 - contrast))
    matrix = contrast * matrix
    matrix = np.diag(gains) @ matrix
    offset = np.asarray(gains) * offset + 255 * np.asarray(lift)
    matrix, offset = fade[1] * matrix, fade[1] * offset + 255 * fade[0]
    return np.hstack([matrix, offset[:, None]])


def _curves(fn: Callable[[npt.NDArray[np.float64], int], npt.NDArray[np.float64]]) -> Frame:
    """A 3-channel lookup table for `cv2.LUT` from a curve on 0..1 values per channel."""
    x = np.linspace(0, 1, 256)
    tables = [np.clip(fn(x, c) * 255 + 0.5, 0, 255) for c in range(3)]
    return np.stack(tables, axis=1).astype(np.uint8)[:, None, :]


class Grade:
    """A look's colour grade, fitted to one scene so its layers all get the same curves."""

    def __init__(self, look: Look, reference: Frame) -> None:
        self.look = look
        self._matrix: npt.NDArray[np.float64] | None = None
        self._lut: Frame | None = None
        self._gray_lut: Frame | None = None
        tint = look.tint
        if look.name == "cinematic":
            teal, orange = (-0.07, 0.015, 0.06), (0.08, 0.01, -0.07)
            self._matrix = _affine_color(0.88, 1.12)
            self._lut = _curves(
                lambda x, c: (x + teal[c] * (1 - x) ** 2 + orange[c] * x**2) * tint[c]
            )
        elif look.name == "vintage":
            self._matrix = _affine_color(
                0.7, 1.0, gains=(1.06, 1.0, 0.84), lift=(0.05, 0.03, 0.0), fade=(0.08, 0.84)
            )
        elif look.name == "vivid":
            self._matrix = _affine_color(1.5, 1.08)
        elif look.name == "noir":
            # Stretch the scene's own tonal range first: a snowfield and a night street both
            # end up with real blacks and whites before the hard S-curve.
            gray = cv2.cvtColor(reference, cv2.COLOR_RGB2GRAY)[::4, ::4]
            low, high = np.percentile(gray, (0.5, 99.5)) if gray.size else (0.0, 255.0)
            span = max(float(high - low), 160.0)  # stretch at most by 1.6
            middle = (float(low) + float(high)) / 2
            x = np.clip((np.arange(256) - middle) / span + 0.5, 0, 1)
            x = np.clip((x - 0.5) * 1.3 + 0.5, 0, 1)
            self._gray_lut = np.clip((x * x * (3 - 2 * x)) * 255 + 0.5, 0, 255).astype(np.uint8)
        if self._lut is None and tint != (1.0, 1.0, 1.0) and look.name != "noir":
            self._lut = _curves(lambda x, c: x * tint[c])

    def __call__(
        self, image: Frame, alpha: npt.NDArray[np.uint8] | None = None, spatial: bool = True
    ) -> Frame:
        """The graded copy of an RGB image.

        `alpha` marks a sprite's outline for anime's ink; `spatial=False` grades loose colours
        (not a picture), which skips anime's filtering.
        """
        if self._gray_lut is not None:
            gray = cv2.LUT(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), self._gray_lut)
            return np.asarray(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), np.uint8)
        out = image
        if self._matrix is not None:
            out = np.asarray(cv2.transform(out, self._matrix), np.uint8)
        if self.look.name == "anime" and spatial:
            out = _anime(out, alpha)
        if self._lut is not None:
            out = np.asarray(cv2.LUT(out, self._lut), np.uint8)
        return np.ascontiguousarray(out)


def _anime(image: Frame, alpha: npt.NDArray[np.uint8] | None) -> Frame:
    """Flat, posterised colour with dark ink lines where colour or outline changes."""
    smooth = cv2.medianBlur(image, 5)
    hsv = cv2.cvtColor(smooth, cv2.COLOR_RGB2HSV)
    levels = np.arange(256, dtype=np.float64)
    hue = (np.round(np.minimum(levels, 179) / 7.5) * 7.5 % 180).astype(np.uint8)  # 15° steps
    chroma = np.clip(np.round(levels * 1.3 / 255 * 4) / 4 * 255, 0, 255).astype(np.uint8)
    value = np.clip(np.round(levels / 255 * 5) / 5 * 235 + 20, 0, 255).astype(np.uint8)
    for channel, table in enumerate((hue, chroma, value)):
        hsv[..., channel] = cv2.LUT(hsv[..., channel], table)
    flat = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    edges = cv2.Canny(cv2.cvtColor(smooth, cv2.COLOR_RGB2GRAY), 30, 90)
    if alpha is not None:
        edges = cv2.bitwise_or(edges, cv2.Canny(alpha, 60, 120))
    ink = cv2.GaussianBlur(cv2.dilate(edges, np.ones((2, 2), np.uint8)), (3, 3), 0.7)
    keep = cv2.merge([255 - (ink.astype(np.uint16) * 217 // 255).astype(np.uint8)] * 3)
    return np.asarray(cv2.multiply(flat, keep, scale=1 / 255), np.uint8)


def _mentions(text: str, words: tuple[str, ...]) -> bool:
    """Whole-word match for Latin words ("cel" is not in "excellent"), substring for CJK."""
    return any(
        re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) if word.isascii() else word in text
        for word in words
    )


def resolve_look(style: str) -> Look:
    """The look for a style name: a preset (case-insensitive) or a hint (never an error)."""
    text = " ".join(style.lower().split())
    name = (
        text
        if text in PRESETS
        else next((preset for preset, words in _HINTS if _mentions(text, words)), None)
    )
    tint = (1.0, 1.0, 1.0)
    if name is None:
        digest = hashlib.sha256(text.encode()).digest()
        tint = (
            0.92 + 0.16 * digest[0] / 255,
            0.92 + 0.16 * digest[1] / 255,
            0.92 + 0.16 * digest[2] / 255,
        )
        name = "none"
    return {
        "cinematic": Look(
            "cinematic", tint, letterbox=True, grain=2.0, grain_size=0.7, vignette=0.18
        ),
        "noir": Look("noir", tint, grain=2.5, grain_size=0.8, vignette=0.45),
        "vintage": Look("vintage", tint, grain=3.0, grain_size=1.0, vignette=0.3, weave=0.8),
        "vivid": Look("vivid", tint),
        "anime": Look("anime", tint),
    }.get(name, Look("none", tint))


class Finish:
    """The per-frame, screen-space part of a look for one clip: bars, vignette, grain, weave."""

    _PAD = 32  # pixels of spare grain texture, so each frame can cut it at a fresh offset

    def __init__(self, look: Look, width: int, height: int, frames: int, seed: int) -> None:
        self.look = look
        self.top, self.bottom = look.content_rows(width, height)
        rows, rng = self.bottom - self.top, np.random.default_rng([seed, 0x6A41])
        frames = max(frames, 1)
        self._vignette: Frame | None = None
        if look.vignette > 0:
            ys = np.linspace(-1, 1, rows, dtype=np.float32)[:, None]
            xs = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
            fall = np.clip(1 - look.vignette * ((xs**2 + ys**2) / 2) ** 1.5, 0, 1)
            self._vignette = np.asarray(
                cv2.merge([(fall * 255 + 0.5).astype(np.uint8)] * 3), np.uint8
            )
        self._grain: tuple[Frame, Frame] | None = None
        self._offsets = rng.integers(0, self._PAD, (frames, 2))
        if look.grain > 0:
            noise = rng.standard_normal((rows + self._PAD, width + self._PAD), np.float32)
            noise = np.asarray(cv2.GaussianBlur(noise, (0, 0), look.grain_size), np.float32)
            noise *= look.grain / max(float(noise.std()), 1e-6)
            lift = np.clip(noise, 0, 255).astype(np.uint8)
            drop = np.clip(-noise, 0, 255).astype(np.uint8)
            self._grain = (
                np.asarray(cv2.merge([lift] * 3), np.uint8),
                np.asarray(cv2.merge([drop] * 3), np.uint8),
            )
        walk = np.cumsum(rng.standard_normal((frames, 2)), axis=0)
        walk -= cv2.blur(walk, (1, 25))
        self._weave = walk * (look.weave / max(float(np.abs(walk).max()), 1e-6))

    def weave(self, frame: int) -> tuple[float, float]:
        """The gate-weave offset of a frame, in pixels."""
        dx, dy = self._weave[frame]
        return float(dx), float(dy)

    def apply(self, content: Frame, frame: int) -> None:
        """Vignette and grain on the visible rows of one frame, in place."""
        if self._vignette is not None:
            cv2.multiply(content, self._vignette, dst=content, scale=1 / 255)
        if self._grain is not None:
            oy, ox = (int(v) for v in self._offsets[frame])
            rows, cols = content.shape[:2]
            lift, drop = self._grain
            cv2.add(content, lift[oy : oy + rows, ox : ox + cols], dst=content)
            cv2.subtract(content, drop[oy : oy + rows, ox : ox + cols], dst=content)
