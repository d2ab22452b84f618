"""The subject: a shaded silhouette drawn once into a small RGBA sprite.

Shapes are written in subject units: x to the right, y up from the point where the subject meets
the ground (its foot), 1 = the subject's height. The sprite is drawn at twice its size and
shrunk, which anti-aliases the edges better than OpenCV's line modes alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np
import numpy.typing as npt

from reelgate.engines.synthetic.canvas import Layout, blend, rgb
from reelgate.engines.synthetic.palette import Palette
from reelgate.engines.synthetic.prompt import RGB, Recipe, Subject, TimeOfDay

Points = list[tuple[float, float]]
_SUPERSAMPLE = 2


class Tone(Enum):
    MAIN = "main"  # the subject's own colour
    DARK = "dark"  # wheels, legs, trunks
    LIGHT = "light"  # sails, house walls
    GLOW = "glow"  # windows and lamps: lit at night, glass by day
    EYES = "eyes"
    SHADOW = "shadow"  # contact shadow on the ground


@dataclass(frozen=True, slots=True)
class Part:
    """One filled shape: a polygon, or a circle when `radius` is set, or a polyline with width."""

    tone: Tone
    points: Points
    radius: float = 0.0
    width: float = 0.0


@dataclass(frozen=True, slots=True)
class Sprite:
    """The subject's pixels (straight alpha) and where it stands in the world."""

    rgba: npt.NDArray[np.uint8]
    anchor_x: float  # sprite pixel of the foot point
    anchor_y: float
    world_x: float
    world_y: float
    bob: float  # pixels of idle up-down motion
    rock: float  # degrees of idle rocking


def _poly(tone: Tone, *points: tuple[float, float]) -> Part:
    return Part(tone, list(points))


def _circle(tone: Tone, x: float, y: float, r: float) -> Part:
    return Part(tone, [(x, y)], radius=r)


def _rect(tone: Tone, x0: float, y0: float, x1: float, y1: float) -> Part:
    return Part(tone, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)])


def _shapes(subject: Subject) -> list[Part]:
    m, d, li, g = Tone.MAIN, Tone.DARK, Tone.LIGHT, Tone.GLOW
    if subject is Subject.CAT:
        return [
            Part(
                m,
                [(-0.15, 0.05), (-0.38, 0.06), (-0.5, 0.16), (-0.5, 0.3), (-0.42, 0.42)],
                width=0.09,
            ),
            _circle(m, 0.0, 0.3, 0.29),
            _circle(m, 0.04, 0.45, 0.22),
            _circle(m, 0.1, 0.72, 0.17),
            _poly(m, (0.0, 0.8), (0.04, 1.0), (0.13, 0.86)),
            _poly(m, (0.14, 0.86), (0.25, 1.0), (0.27, 0.78)),
            _circle(Tone.EYES, 0.05, 0.74, 0.028),
            _circle(Tone.EYES, 0.16, 0.74, 0.028),
        ]
    if subject is Subject.DOG:
        legs = [_rect(d, x, 0.0, x + 0.07, 0.52) for x in (-0.36, -0.22, 0.18, 0.31)]
        return [
            *legs,
            Part(m, [(-0.38, 0.62), (-0.52, 0.8), (-0.56, 0.95)], width=0.05),
            _circle(m, -0.2, 0.56, 0.18),
            _circle(m, 0.2, 0.58, 0.19),
            _rect(m, -0.2, 0.4, 0.2, 0.75),
            _poly(m, (0.26, 0.62), (0.38, 0.6), (0.52, 0.86), (0.38, 0.92)),
            _circle(m, 0.5, 0.86, 0.12),
            _rect(m, 0.5, 0.76, 0.7, 0.86),
            _poly(d, (0.4, 0.96), (0.48, 0.95), (0.44, 0.74), (0.38, 0.78)),
        ]
    if subject is Subject.CAR:
        return [
            _poly(
                m,
                (-1.3, 0.14),
                (1.3, 0.14),
                (1.32, 0.45),
                (1.15, 0.55),
                (-1.2, 0.58),
                (-1.32, 0.45),
            ),
            _poly(m, (-0.78, 0.55), (0.55, 0.55), (0.28, 0.95), (-0.6, 0.95)),
            _poly(g, (-0.66, 0.6), (-0.17, 0.6), (-0.17, 0.88), (-0.54, 0.88)),
            _poly(g, (-0.08, 0.6), (0.43, 0.6), (0.24, 0.88), (-0.08, 0.88)),
            _circle(d, -0.82, 0.2, 0.21),
            _circle(d, 0.82, 0.2, 0.21),
            _circle(li, -0.82, 0.2, 0.08),
            _circle(li, 0.82, 0.2, 0.08),
            _rect(g, 1.2, 0.36, 1.3, 0.44),
        ]
    if subject is Subject.HOUSE:
        return [
            _rect(li, -0.45, 0.0, 0.45, 0.62),
            _rect(d, 0.2, 0.7, 0.3, 0.98),
            _poly(m, (-0.56, 0.58), (0.56, 0.58), (0.0, 1.0)),
            _rect(d, -0.08, 0.0, 0.08, 0.3),
            _rect(g, -0.36, 0.3, -0.18, 0.46),
            _rect(g, 0.18, 0.3, 0.36, 0.46),
        ]
    if subject is Subject.BOAT:
        return [
            Part(d, [(0.0, 0.12), (0.0, 1.0)], width=0.025),
            _poly(li, (0.03, 0.22), (0.03, 0.97), (0.46, 0.24)),
            _poly(li, (-0.03, 0.26), (-0.03, 0.84), (-0.34, 0.26)),
            _poly(m, (-0.6, 0.16), (0.64, 0.16), (0.46, -0.04), (-0.46, -0.04)),
            _poly(d, (0.0, 1.0), (0.12, 0.97), (0.0, 0.94)),
        ]
    if subject is Subject.BIRD:
        return [
            _poly(m, (-0.1, 0.05), (0.25, 0.05), (-0.25, 0.9), (-0.55, 1.0)),
            _poly(m, (-0.75, -0.02), (-0.35, 0.1), (-0.35, -0.1)),
            _circle(m, -0.1, 0.0, 0.16),
            _circle(m, 0.15, 0.01, 0.15),
            _circle(m, 0.38, 0.07, 0.12),
            _poly(d, (0.48, 0.1), (0.62, 0.05), (0.48, 0.02)),
            _poly(m, (-0.05, -0.02), (0.2, -0.02), (-0.1, -0.45), (-0.35, -0.5)),
        ]
    if subject is Subject.TREE:
        return [
            _poly(d, (-0.07, 0.0), (0.07, 0.0), (0.04, 0.52), (-0.04, 0.52)),
            _circle(m, 0.0, 0.72, 0.28),
            _circle(m, -0.22, 0.58, 0.2),
            _circle(m, 0.23, 0.6, 0.21),
            _circle(m, 0.02, 0.9, 0.17),
        ]
    return [
        _poly(d, (-0.09, 0.0), (-0.03, 0.0), (-0.01, 0.47), (-0.08, 0.47)),
        _poly(d, (0.03, 0.0), (0.09, 0.0), (0.08, 0.47), (0.01, 0.47)),
        _poly(m, (-0.1, 0.44), (0.1, 0.44), (0.125, 0.78), (-0.125, 0.78)),
        _circle(m, -0.085, 0.76, 0.045),
        _circle(m, 0.085, 0.76, 0.045),
        _poly(m, (-0.13, 0.79), (-0.085, 0.79), (-0.13, 0.46), (-0.17, 0.47)),
        _poly(m, (0.085, 0.79), (0.13, 0.79), (0.17, 0.47), (0.13, 0.46)),
        _rect(d, -0.025, 0.76, 0.025, 0.82),
        _circle(d, 0.0, 0.885, 0.08),
    ]


_HEIGHT = {  # subject height in scene units (the visible picture's short side)
    Subject.PERSON: 0.34,
    Subject.CAT: 0.16,
    Subject.DOG: 0.2,
    Subject.CAR: 0.17,
    Subject.HOUSE: 0.42,
    Subject.BOAT: 0.34,
    Subject.BIRD: 0.05,
    Subject.TREE: 0.48,
}


def _tones(recipe: Recipe, palette: Palette) -> dict[Tone, RGB]:
    light = {TimeOfDay.DAY: 1.0, TimeOfDay.SUNSET: 0.72, TimeOfDay.NIGHT: 0.28}[recipe.time]
    main = palette.subject
    if recipe.subject_color is None and recipe.subject is Subject.TREE:
        main = palette.foliage
    elif recipe.subject_color is None and recipe.subject is Subject.HOUSE:
        main = (round(120 * light), round(52 * light), round(40 * light))
    lit = recipe.time is not TimeOfDay.DAY
    return {
        Tone.MAIN: main,
        Tone.DARK: (round(main[0] * 0.45), round(main[1] * 0.45), round(main[2] * 0.45)),
        Tone.LIGHT: (round(232 * light), round(226 * light), round(212 * light)),
        Tone.GLOW: palette.windows if lit else (150, 180, 205),
        Tone.EYES: (214, 236, 110) if lit else (150, 150, 60),
        Tone.SHADOW: (0, 0, 0),
    }


def draw_subject(recipe: Recipe, palette: Palette, layout: Layout) -> Sprite:
    """The prompt's subject, sized and placed for the layout."""
    parts = _shapes(recipe.subject)
    flying = recipe.subject is Subject.BIRD
    height = layout.unit * _HEIGHT[recipe.subject]
    if not flying and recipe.subject is not Subject.BOAT:
        xs = [x for part in parts for x, _ in part.points]
        half = (max(xs) - min(xs)) / 2 + 0.05
        parts.insert(0, Part(Tone.SHADOW, [(0.0, 0.0), (half, 0.035)], radius=-1.0))
    reach = [(x, y) for part in parts for x, y in part.points]
    margin = max(max(p.radius, p.width, 0.04) for p in parts) + 0.04
    x0, x1 = min(x for x, _ in reach) - margin, max(x for x, _ in reach) + margin
    y0, y1 = min(y for _, y in reach) - margin, max(y for _, y in reach) + margin
    scale = height * _SUPERSAMPLE
    size = (max(2, round((x1 - x0) * scale)), max(2, round((y1 - y0) * scale)))
    tones = _tones(recipe, palette)
    color = np.zeros((size[1], size[0], 3), np.float32)
    alpha = np.zeros((size[1], size[0]), np.float32)
    body = np.zeros_like(alpha)

    def px(x: float, y: float) -> tuple[int, int]:
        return round((x - x0) * scale), round((y1 - y) * scale)

    for part in parts:
        mask = np.zeros((size[1], size[0]), np.uint8)
        if part.radius < 0:  # an ellipse: centre and half-axes
            (cx, cy), (ax, ay) = part.points
            cv2.ellipse(
                mask,
                px(cx, cy),
                (round(ax * scale), round(ay * scale)),
                0,
                0,
                360,
                255,
                -1,
                cv2.LINE_AA,
            )
        elif part.radius > 0:
            cv2.circle(mask, px(*part.points[0]), round(part.radius * scale), 255, -1, cv2.LINE_AA)
        elif part.width > 0:
            line = np.asarray([px(x, y) for x, y in part.points], np.int32)
            cv2.polylines(mask, [line], False, 255, max(1, round(part.width * scale)), cv2.LINE_AA)
        elif len(part.points) >= 3:
            cv2.fillPoly(
                mask, [np.asarray([px(x, y) for x, y in part.points], np.int32)], 255, cv2.LINE_AA
            )
        x, y, w, h = cv2.boundingRect(mask)
        if w == 0 or h == 0:
            continue
        box = np.s_[y : y + h, x : x + w]
        cover = mask[box].astype(np.float32) * (1 / 255)
        opacity = 0.35 if part.tone is Tone.SHADOW else 1.0
        blend(color[box], rgb(tones[part.tone]), cover)
        alpha[box] = alpha[box] * (1 - cover * opacity) + cover * opacity
        if part.tone is not Tone.SHADOW:
            np.maximum(body[box], cover, out=body[box])
    color = _shade(color, body, palette, layout, int(scale * 0.02) + 1)
    rgba = np.dstack([color, alpha[..., None]])
    small = cv2.resize(
        rgba, (size[0] // _SUPERSAMPLE, size[1] // _SUPERSAMPLE), interpolation=cv2.INTER_AREA
    )
    foot_x, foot_y = px(0.0, 0.0)
    world_y = layout.ground
    if flying:
        world_y = layout.horizon - 0.45 * (layout.horizon - layout.view_top)
    return Sprite(
        rgba=np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8),
        anchor_x=foot_x / _SUPERSAMPLE,
        anchor_y=foot_y / _SUPERSAMPLE,
        world_x=layout.subject_x,
        world_y=world_y,
        bob=layout.unit * {Subject.BIRD: 0.012, Subject.BOAT: 0.004}.get(recipe.subject, 0.0015)
        if recipe.subject not in (Subject.HOUSE, Subject.CAR, Subject.TREE)
        else 0.0,
        rock=1.5
        if recipe.subject is Subject.BOAT
        else 0.4
        if recipe.subject is Subject.TREE
        else 0.0,
    )


def _shade(
    color: npt.NDArray[np.float32],
    body: npt.NDArray[np.float32],
    palette: Palette,
    layout: Layout,
    rim: int,
) -> npt.NDArray[np.float32]:
    """Light the silhouette a little from above and rim its edge on the side of the sun."""
    rows = np.linspace(1.12, 0.85, color.shape[0], dtype=np.float32)[:, None, None]
    lit = color * rows
    away = -rim if layout.light_x > layout.subject_x else rim
    shifted = np.roll(body, (rim, away), axis=(0, 1))
    edge = np.clip(body - shifted, 0, 1)[..., None]
    sun = np.asarray(palette.light, np.float32) / 255.0
    return np.asarray(
        np.clip(lit * (1 - edge * 0.5) + sun * edge * 0.5 * body[..., None], 0, 1), np.float32
    )
