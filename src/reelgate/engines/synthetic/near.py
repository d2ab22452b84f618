"""Near layers: the ground, water, streets and the trees, cacti and lamps that stand on them.

Elements are scattered over the world's fixed span (canvas.py) and keep a clearing around the
subject, so it stands out against the scenery rather than inside a thicket.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from reelgate.engines.synthetic.canvas import (
    Canvas,
    Image,
    Layout,
    below,
    blend,
    fbm,
    mix,
    profile,
    rgb,
    rows_of,
    smoothstep,
)
from reelgate.engines.synthetic.palette import Palette
from reelgate.engines.synthetic.prompt import Recipe, Setting, Subject, TimeOfDay
from reelgate.engines.synthetic.sky import Glints

Mask = npt.NDArray[np.uint8]


def paint_near(
    image: Image, canvas: Canvas, layout: Layout, palette: Palette, recipe: Recipe
) -> Glints:
    """Paint the ground and what stands on it; return the sparkles on any water."""
    glints = Glints.none()
    if recipe.setting is Setting.OCEAN:
        shore = (
            None
            if recipe.subject is Subject.BOAT
            else (layout.horizon + 0.55 * (layout.ground - layout.horizon))
        )
        glints = _sea(image, canvas, layout, palette, shore)
        if shore is not None:
            _ground(image, canvas, layout, palette, shore, texture_cell=0.04)
        return glints
    undulation = profile(canvas, "ground", layout.unit * 0.8, octaves=3)
    tops = layout.horizon - layout.unit * 0.012 * undulation
    _ground(image, canvas, layout, palette, tops, texture_cell=0.06)
    if recipe.setting is Setting.CITY:
        _street(image, canvas, layout, palette, recipe.time)
    elif recipe.setting is Setting.DESERT:
        _ripples(image, canvas, layout)
        _plants(image, canvas, layout, palette, "cactus", count_per_frame=2.0)
    elif recipe.setting is Setting.FOREST:
        _plants(image, canvas, layout, palette, "pine", count_per_frame=16.0)
    elif recipe.setting is Setting.SNOW:
        _plants(image, canvas, layout, palette, "pine", count_per_frame=4.0, snowy=True)
    else:
        _plants(image, canvas, layout, palette, "round", count_per_frame=3.0)
    return glints


def _ground(
    image: Image,
    canvas: Canvas,
    layout: Layout,
    palette: Palette,
    tops: npt.NDArray[np.float32] | float,
    texture_cell: float,
) -> None:
    curve = np.broadcast_to(np.asarray(tops, np.float32), (canvas.width,))
    row0, row1 = rows_of(canvas, float(curve.min()) - 1, canvas.top + canvas.height)
    if row1 <= row0:
        return
    ys = canvas.ys()[row0:row1]
    depth = np.clip((ys - layout.horizon) / (layout.view_bottom - layout.horizon), 0, 1)
    far, near = np.asarray(rgb(palette.ground_far)), np.asarray(rgb(palette.ground_near))
    column = (far * (1 - depth[:, None]) + near * depth[:, None]).astype(np.float32)
    band = canvas.band(row0, row1)
    texture = fbm(band, "soil", layout.unit * texture_cell, octaves=4, aspect=3.0, step=2)
    patches = fbm(band, "patches", layout.unit * 0.15, octaves=3, aspect=2.5, step=4)
    color = column[:, None, :] * (0.86 + 0.28 * texture)[..., None]
    blend(color, rgb(palette.ground_detail), smoothstep(0.52, 0.68, patches) * 0.55)
    blend(image[row0:row1], color, below(canvas, curve, row0, row1))


def _sea(
    image: Image, canvas: Canvas, layout: Layout, palette: Palette, shore: float | None
) -> Glints:
    row0, row1 = rows_of(canvas, layout.horizon - 1, canvas.top + canvas.height)
    if row1 > row0:
        ys = canvas.ys()[row0:row1]
        depth = np.clip((ys - layout.horizon) / (layout.view_bottom - layout.horizon), 0, 1)
        far = np.asarray(mix(palette.water, palette.sky_horizon, 0.45))
        near = np.asarray(rgb(palette.water)) * 0.8
        column = far * (1 - depth[:, None] ** 0.5) + near * depth[:, None] ** 0.5
        waves = fbm(canvas.band(row0, row1), "waves", layout.unit * 0.04, octaves=4, aspect=7.0)
        color = column.astype(np.float32)[:, None, :] * (0.82 + 0.36 * waves)[..., None]
        xs = canvas.xs()
        spread = layout.unit * (0.03 + 0.25 * depth[:, None])
        column_light = np.exp(-(((xs[None, :] - layout.light_x) / spread) ** 2))
        sparkle = column_light * smoothstep(0.5, 0.75, waves) * 0.8
        color += np.asarray(rgb(palette.light), np.float32) * sparkle[..., None]
        cover = np.clip(ys - layout.horizon + 0.5, 0, 1)[:, None] * np.ones(
            (1, canvas.width), np.float32
        )
        blend(image[row0:row1], np.clip(color, 0, 1), cover)
        if shore is not None:
            foam = np.exp(-(((ys - shore) / (layout.unit * 0.006)) ** 2))[:, None]
            foam = foam * smoothstep(0.35, 0.6, waves)
            blend(image[row0:row1], (0.95, 0.97, 1.0), foam * 0.8)

    rng = canvas.rng("glints")
    x0, x1 = canvas.world_x_range()
    bottom = shore if shore is not None else layout.view_bottom + layout.unit
    count = int((x1 - x0) / layout.unit * 60)
    xs_g = rng.normal(layout.light_x, layout.unit * 0.15, count).astype(np.float32)
    ys_g = layout.horizon + (bottom - layout.horizon) * rng.random(count) ** 1.5
    colors = np.tile(np.asarray(rgb(palette.light), np.float32), (count, 1)) * 0.9
    return Glints(
        xs_g,
        ys_g.astype(np.float32),
        colors,
        rng.uniform(0, 2 * math.pi, count).astype(np.float32),
        rng.uniform(3.0, 8.0, count).astype(np.float32),
    )


def _ripples(image: Image, canvas: Canvas, layout: Layout) -> None:
    row0, row1 = rows_of(canvas, layout.horizon, canvas.top + canvas.height)
    if row1 <= row0:
        return
    ys = canvas.ys()[row0:row1, None]
    bend = fbm(canvas.band(row0, row1), "ripples", layout.unit * 0.2, octaves=2, step=4)
    wave = np.sin(ys * (2 * math.pi / (layout.unit * 0.02)) + bend * 14.0)
    image[row0:row1] *= (1.0 + 0.05 * wave)[..., None]


def _street(
    image: Image, canvas: Canvas, layout: Layout, palette: Palette, time: TimeOfDay
) -> None:
    walk_bottom = layout.horizon + 0.3 * (layout.ground - layout.horizon)
    row0, row1 = rows_of(canvas, layout.horizon, walk_bottom)
    blend(
        image[row0:row1],
        mix(palette.ground_detail, palette.ground_far, 0.3),
        np.full((row1 - row0, canvas.width), 0.7, np.float32),
    )
    curb0, curb1 = rows_of(canvas, walk_bottom, walk_bottom + layout.unit * 0.006)
    image[curb0:curb1] *= 0.6
    lane = layout.ground + 0.45 * (layout.view_bottom - layout.ground)
    dash = layout.unit * 0.12
    mask = np.zeros((canvas.height, canvas.width), np.uint8)
    x0, x1 = canvas.world_x_range()
    for start in np.arange(math.floor(x0 / dash) * dash, x1, dash * 2):
        p0 = (round(start - canvas.left), round(lane - canvas.top))
        p1 = (round(start + dash - canvas.left), round(lane + layout.unit * 0.008 - canvas.top))
        if p1[0] > 0 and p0[0] < canvas.width:
            cv2.rectangle(mask, p0, p1, 255, -1)
    blend(image, (0.85, 0.82, 0.6), mask.astype(np.float32) * (0.8 / 255))

    spacing = layout.unit * 0.45
    poles = np.zeros_like(mask)
    lamps = np.zeros((canvas.height, canvas.width), np.float32)
    height = layout.unit * 0.28
    for x in np.arange(math.floor(x0 / spacing) * spacing + spacing * 0.3, x1, spacing):
        cx = round(x - canvas.left)
        if -layout.unit < cx < canvas.width + layout.unit:
            base, top = (
                round(walk_bottom - canvas.top - 2),
                round(walk_bottom - height - canvas.top),
            )
            cv2.line(
                poles, (cx, base), (cx, top), 255, max(1, round(layout.unit * 0.006)), cv2.LINE_AA
            )
            cv2.line(
                poles,
                (cx, top),
                (cx + round(height * 0.15), top),
                255,
                max(1, round(layout.unit * 0.005)),
                cv2.LINE_AA,
            )
            cv2.circle(
                lamps,
                (cx + round(height * 0.15), top + 3),
                max(2, round(height * 0.03)),
                1.0,
                -1,
                cv2.LINE_AA,
            )
    blend(image, (0.12, 0.12, 0.14), poles.astype(np.float32) * (1 / 255))
    if time is not TimeOfDay.DAY:
        # The halo is wide and soft: blur a quarter-size copy of the lamps' rows only.
        reach = layout.unit * 0.03
        lamp_y = walk_bottom - height
        g0, g1 = rows_of(canvas, lamp_y - 4 * reach, lamp_y + 4 * reach)
        if g1 - g0 >= 4:
            band = lamps[g0:g1]
            small = cv2.resize(band, None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
            small = cv2.GaussianBlur(small, (0, 0), reach / 4)
            glow = cv2.resize(small, band.shape[::-1], interpolation=cv2.INTER_LINEAR) * 6.0
            light = np.asarray(rgb(palette.windows), np.float32)
            image[g0:g1] += light * np.minimum(glow, 1.0)[..., None]
        blend(image, rgb(palette.windows), lamps)


def _plants(
    image: Image,
    canvas: Canvas,
    layout: Layout,
    palette: Palette,
    kind: str,
    count_per_frame: float,
    snowy: bool = False,
) -> None:
    """Scatter plants between the horizon and the bottom of the view, far ones first."""
    rng = canvas.rng(kind)
    x0, x1 = canvas.world_x_range()
    count = int(count_per_frame * (x1 - x0) / canvas.frame_width)
    xs = rng.uniform(x0, x1, count)
    depths = np.sort(rng.random(count) ** 1.6)
    sizes = rng.uniform(0.8, 1.25, count)
    rows = 4
    for row in range(rows):
        chosen = (depths >= row / rows) & (depths < (row + 1) / rows)
        haze = 0.45 * (1 - (row + 0.5) / rows)
        mask = np.zeros((canvas.height, canvas.width), np.uint8)
        snow = np.zeros_like(mask)
        for x, depth, size in zip(xs[chosen], depths[chosen], sizes[chosen], strict=True):
            base = layout.horizon + depth * (layout.view_bottom - layout.horizon) * 1.1
            scale = layout.unit * (0.06 + 0.5 * depth) * size
            if abs(x - layout.subject_x) < layout.unit * 0.22 + scale * 0.3 and (
                base > layout.horizon + 0.25 * (layout.ground - layout.horizon)
            ):
                continue  # keep a clearing around the subject
            cx, cy = x - canvas.left, base - canvas.top
            if -scale < cx < canvas.width + scale and -scale < cy < canvas.height + scale * 2:
                _draw_plant(mask, snow, kind, cx, cy, scale)
        if mask.any():
            color = mix(palette.foliage, palette.sky_horizon, haze)
            blend(image, color, mask.astype(np.float32) * (1 / 255))
        if snowy and snow.any():
            blend(
                image,
                mix((240, 244, 252), palette.sky_horizon, haze),
                snow.astype(np.float32) * (0.9 / 255),
            )


def _draw_plant(mask: Mask, snow: Mask, kind: str, cx: float, cy: float, scale: float) -> None:
    def pts(points: list[tuple[float, float]]) -> npt.NDArray[np.int32]:
        return np.asarray(
            [[round(cx + px * scale), round(cy - py * scale)] for px, py in points], np.int32
        )

    if kind == "pine":
        cv2.fillPoly(
            mask, [pts([(-0.03, 0), (0.03, 0), (0.03, 0.2), (-0.03, 0.2)])], 255, cv2.LINE_AA
        )
        for width, y0, y1 in ((0.28, 0.12, 0.6), (0.22, 0.4, 0.85), (0.15, 0.65, 1.05)):
            cv2.fillPoly(mask, [pts([(-width, y0), (width, y0), (0, y1)])], 255, cv2.LINE_AA)
            cap = y1 - (y1 - y0) * 0.35
            tip = pts([(-width * 0.35, cap), (width * 0.35, cap), (0, y1)])
            cv2.fillPoly(snow, [tip], 255, cv2.LINE_AA)
    elif kind == "cactus":
        arm = 0.05
        for poly in (
            [(-arm, 0), (arm, 0), (arm, 0.7), (-arm, 0.7)],
            [(-0.2, 0.3), (-0.2 + arm * 1.6, 0.3), (-0.2 + arm * 1.6, 0.55), (-0.2, 0.55)],
            [(-0.2, 0.3), (0, 0.3), (0, 0.36), (-0.2, 0.36)],
            [(0.12, 0.4), (0.12 + arm * 1.6, 0.4), (0.12 + arm * 1.6, 0.62), (0.12, 0.62)],
            [(0, 0.4), (0.2, 0.4), (0.2, 0.46), (0, 0.46)],
        ):
            cv2.fillPoly(mask, [pts(poly)], 255, cv2.LINE_AA)
        cv2.circle(
            mask,
            (round(cx), round(cy - 0.7 * scale)),
            max(1, round(arm * scale)),
            255,
            -1,
            cv2.LINE_AA,
        )
    else:
        cv2.fillPoly(
            mask, [pts([(-0.04, 0), (0.04, 0), (0.03, 0.45), (-0.03, 0.45)])], 255, cv2.LINE_AA
        )
        for dx, dy, r in ((0, 0.62, 0.26), (-0.16, 0.5, 0.18), (0.17, 0.52, 0.19)):
            cv2.circle(
                mask,
                (round(cx + dx * scale), round(cy - dy * scale)),
                max(1, round(r * scale)),
                255,
                -1,
                cv2.LINE_AA,
            )
