"""The sky: gradient, sun or moon, clouds and stars."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from reelgate.engines.synthetic.canvas import (
    Canvas,
    Image,
    Layout,
    blend,
    fbm,
    rgb,
    rows_of,
    smoothstep,
)
from reelgate.engines.synthetic.palette import Palette


@dataclass(frozen=True, slots=True)
class Glints:
    """Points that sparkle frame by frame (stars, light on water), in world coordinates."""

    xs: npt.NDArray[np.float32]
    ys: npt.NDArray[np.float32]
    colors: npt.NDArray[np.float32]  # N x 3, 0..1: the colour at full sparkle
    phases: npt.NDArray[np.float32]  # radians
    speeds: npt.NDArray[np.float32]  # radians per second

    @classmethod
    def none(cls) -> Glints:
        empty = np.zeros(0, np.float32)
        return cls(empty, empty, np.zeros((0, 3), np.float32), empty, empty)

    def __add__(self, other: Glints) -> Glints:
        return Glints(
            np.concatenate([self.xs, other.xs]),
            np.concatenate([self.ys, other.ys]),
            np.concatenate([self.colors, other.colors]),
            np.concatenate([self.phases, other.phases]),
            np.concatenate([self.speeds, other.speeds]),
        )


def paint_sky(canvas: Canvas, layout: Layout, palette: Palette) -> tuple[Image, Glints]:
    """The sky for the whole canvas (the ground is painted over it later) and its twinkles."""
    ys = canvas.ys()
    top, horizon = rgb(palette.sky_top), rgb(palette.sky_horizon)
    # Altitude 0 at the horizon, 1 at the top of the first frame; above it the zenith colour holds.
    altitude = np.clip((layout.horizon - ys) / max(layout.horizon - layout.view_top, 1.0), 0, 1)
    t = np.power(altitude, 0.6)[:, None]
    column = np.asarray(horizon, np.float32) * (1 - t) + np.asarray(top, np.float32) * t
    sky = np.empty((canvas.height, canvas.width, 3), np.float32)
    sky[:] = column[:, None, :]

    light_y = layout.horizon - palette.light_height * (layout.horizon - layout.view_top) * 0.85
    step = 4  # the glow is smooth: compute it at quarter resolution
    coarse = canvas.coarse(step)
    dx = coarse.xs()[None, :] * step - layout.light_x
    dy = coarse.ys()[:, None] * step - light_y
    reach = layout.unit * (0.35 if palette.stars else 0.6)
    glow = np.exp(-np.sqrt(dx * dx + dy * dy) / reach) * (0.12 if palette.stars else 0.3)
    glow = canvas.upsample(glow.astype(np.float32), step)
    sky += np.asarray(rgb(palette.light), np.float32) * glow[..., None]

    glints = Glints.none()
    if palette.stars:
        glints = _stars(canvas, layout, sky)
    if palette.cloud_cover > 0:
        _clouds(canvas, layout, palette, sky)
    _disc(canvas, layout, palette, sky, light_y)
    np.clip(sky, 0, 1, out=sky)
    return sky, glints


def _disc(canvas: Canvas, layout: Layout, palette: Palette, sky: Image, light_y: float) -> None:
    """The sun or the moon, painted only in the box around it."""
    radius = layout.unit * (0.045 if palette.stars else 0.055)
    x0, y0 = math.floor(layout.light_x - radius - 2), math.floor(light_y - radius - 2)
    x1, y1 = math.ceil(layout.light_x + radius + 3), math.ceil(light_y + radius + 3)
    c0, c1 = max(0, x0 - canvas.left), min(canvas.width, x1 - canvas.left)
    r0, r1 = max(0, y0 - canvas.top), min(canvas.height, y1 - canvas.top)
    if c1 <= c0 or r1 <= r0:
        return
    xs = canvas.xs()[None, c0:c1] - layout.light_x
    ys = canvas.ys()[r0:r1, None] - light_y
    disc = smoothstep(radius + 1.0, radius - 1.0, np.sqrt(xs * xs + ys * ys))
    color = np.empty((r1 - r0, c1 - c0, 3), np.float32)
    color[:] = rgb(palette.light)
    if palette.stars:  # the moon's seas
        seas = fbm(canvas.band(r0, r1), "moon", layout.unit * 0.02, octaves=2)[:, c0:c1]
        color *= (0.8 + 0.25 * seas)[..., None]
    blend(sky[r0:r1, c0:c1], color, disc)


def _clouds(canvas: Canvas, layout: Layout, palette: Palette, sky: Image) -> None:
    row1 = rows_of(canvas, canvas.top, layout.horizon)[1]
    if row1 == 0:
        return
    density = fbm(canvas.band(0, row1), "clouds", layout.unit * 0.22, octaves=5, aspect=3.0, step=2)
    threshold = 0.62 - 0.25 * palette.cloud_cover
    cover = smoothstep(threshold, threshold + 0.14, density)
    # Clouds thin out towards the horizon, where they would be far away and hazy.
    altitude = (layout.horizon - canvas.ys()[:row1]) / max(layout.horizon - layout.view_top, 1.0)
    cover *= smoothstep(0.05, 0.35, altitude)[:, None]
    shade = 0.82 + 0.18 * smoothstep(threshold, threshold + 0.35, density)
    color = np.asarray(rgb(palette.clouds), np.float32) * shade[..., None]
    blend(sky[:row1], color, cover * 0.92)


def _stars(canvas: Canvas, layout: Layout, sky: Image) -> Glints:
    rng = canvas.rng("stars")
    x0, x1 = canvas.world_x_range()
    y1 = layout.horizon
    y0 = layout.horizon - (x1 - x0) * 0.5
    count = int((x1 - x0) * (y1 - y0) / 1800)
    xs = rng.uniform(x0, x1, count).astype(np.float32)
    ys = rng.uniform(y0, y1, count).astype(np.float32)
    brightness = (0.25 + 0.75 * rng.random(count) ** 3).astype(np.float32)
    warmth = rng.uniform(-0.08, 0.08, count).astype(np.float32)
    colors = np.stack([brightness * (1 + warmth), brightness, brightness * (1 - warmth)], axis=1)
    fade = smoothstep(0.02, 0.3, (layout.horizon - ys) / max(layout.horizon - layout.view_top, 1))
    colors *= fade[:, None]

    row1 = rows_of(canvas, canvas.top, layout.horizon)[1]
    cx = np.round(xs - canvas.left).astype(np.int64)
    cy = np.round(ys - canvas.top).astype(np.int64)
    inside = (cx >= 0) & (cx < canvas.width) & (cy >= 0) & (cy < row1)
    if row1 > 0:
        dots = np.zeros((row1, canvas.width, 3), np.float32)
        dots[cy[inside], cx[inside]] = colors[inside]
        dots = cv2.GaussianBlur(dots, (3, 3), 0.6) * 2.2
        np.maximum(sky[:row1], dots, out=sky[:row1])

    bright = np.argsort(brightness)[-max(1, count // 12) :]
    return Glints(
        xs[bright],
        ys[bright],
        np.minimum(colors[bright] * 1.3, 1.0),
        rng.uniform(0, 2 * np.pi, bright.size).astype(np.float32),
        rng.uniform(2.0, 6.0, bright.size).astype(np.float32),
    )
