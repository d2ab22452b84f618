"""Far layers: mountain ridges, skylines, dunes, treelines and islands on the horizon.

Far things are painted in colours pulled towards the sky at the horizon (aerial perspective), the
farther the paler, so the scene reads in depth even as flat layers.
"""

from __future__ import annotations

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
from reelgate.engines.synthetic.prompt import Recipe, Setting, TimeOfDay

Tops = npt.NDArray[np.float32]


def paint_far(
    image: Image, canvas: Canvas, layout: Layout, palette: Palette, recipe: Recipe
) -> None:
    """Paint the horizon's far layers over the sky, back to front."""
    wants_mountains = (
        recipe.mountains
        or recipe.setting is Setting.SNOW
        or (recipe.setting is Setting.MEADOW and canvas.rng("far").random() < 0.5)
    )
    if wants_mountains:
        _mountains(
            image,
            canvas,
            layout,
            palette,
            snowy=recipe.setting is Setting.SNOW
            or (recipe.mountains and recipe.time is not TimeOfDay.SUNSET),
        )
    if recipe.setting is Setting.CITY:
        _skyline(image, canvas, layout, palette, recipe.time)
    elif recipe.setting is Setting.DESERT:
        _desert(image, canvas, layout, palette)
    elif recipe.setting is Setting.FOREST:
        _treeline(image, canvas, layout, palette)
    elif recipe.setting is Setting.OCEAN:
        _islands(image, canvas, layout, palette)
    else:
        _hills(image, canvas, layout, palette)


def _fill(
    image: Image,
    canvas: Canvas,
    layout: Layout,
    tops: Tops,
    color: tuple[float, float, float],
    texture: float = 0.0,
    name: str = "",
) -> None:
    """Paint everything between the curve `tops` and a little below the horizon."""
    row0, row1 = rows_of(canvas, float(tops.min()) - 1, layout.horizon + layout.unit * 0.05)
    if row1 <= row0:
        return
    cover = below(canvas, tops, row0, row1)
    band = image[row0:row1]
    if texture > 0:
        grain = fbm(
            canvas.band(row0, row1), name, layout.unit * 0.08, octaves=4, aspect=1.5, step=2
        )
        shade = (1 - texture) + 2 * texture * grain
        blend(band, np.asarray(color, np.float32) * shade[..., None], cover)
    else:
        blend(band, color, cover)


def _mountains(image: Image, canvas: Canvas, layout: Layout, palette: Palette, snowy: bool) -> None:
    for depth, (base, amp, haze) in enumerate(((0.1, 0.34, 0.55), (0.03, 0.22, 0.28))):
        ridge = profile(canvas, f"ridge{depth}", layout.unit * 0.9, octaves=6, sharp=True)
        tops = layout.horizon - layout.unit * (base + amp * ridge)
        color = mix(palette.far, palette.sky_horizon, haze)
        _fill(image, canvas, layout, tops, color, texture=0.12, name=f"rock{depth}")
        if snowy:
            snowline = layout.horizon - layout.unit * (base + amp * 0.55)
            row0, row1 = rows_of(canvas, float(tops.min()) - 1, snowline + layout.unit * 0.05)
            if row1 > row0:
                ys = canvas.ys()[row0:row1, None]
                wobble = fbm(
                    canvas.band(row0, row1), f"snowline{depth}", layout.unit * 0.03, octaves=3
                )
                cap = below(canvas, tops, row0, row1) * smoothstep(
                    0.0, 1.0, (snowline - ys) / (layout.unit * 0.03) + (wobble - 0.5) * 3.0
                )
                blend(
                    image[row0:row1],
                    mix((240, 244, 252), palette.sky_horizon, haze * 0.5),
                    cap * 0.9,
                )


def _hills(image: Image, canvas: Canvas, layout: Layout, palette: Palette) -> None:
    ridge = profile(canvas, "hills", layout.unit * 1.3, octaves=4)
    tops = layout.horizon - layout.unit * (0.015 + 0.08 * ridge)
    color = mix(palette.ground_far, palette.sky_horizon, 0.38)
    _fill(image, canvas, layout, tops, color, texture=0.1, name="hills")


def _treeline(image: Image, canvas: Canvas, layout: Layout, palette: Palette) -> None:
    for depth, haze in enumerate((0.55, 0.35)):
        hills = profile(canvas, f"treehills{depth}", layout.unit * 1.1, octaves=3)
        crowns = profile(canvas, f"crowns{depth}", layout.unit * 0.025, octaves=2, sharp=True)
        lift = 0.04 + 0.06 * depth
        tops = np.asarray(
            layout.horizon - layout.unit * (lift + 0.08 * hills + 0.03 * crowns), np.float32
        )
        color = mix(palette.foliage, palette.sky_horizon, haze)
        _fill(image, canvas, layout, tops, color, texture=0.15, name=f"canopy{depth}")


def _islands(image: Image, canvas: Canvas, layout: Layout, palette: Palette) -> None:
    land = profile(canvas, "islands", layout.unit * 1.6, octaves=4)
    tops = layout.horizon - layout.unit * 0.06 * smoothstep(0.58, 0.8, land) + 0.5
    _fill(image, canvas, layout, tops, mix(palette.far, palette.sky_horizon, 0.5))


def _desert(image: Image, canvas: Canvas, layout: Layout, palette: Palette) -> None:
    mesa = profile(canvas, "mesas", layout.unit * 1.4, octaves=3)
    tops = layout.horizon - layout.unit * 0.13 * smoothstep(0.6, 0.64, mesa)
    _fill(
        image,
        canvas,
        layout,
        tops,
        mix(palette.far, palette.sky_horizon, 0.45),
        texture=0.1,
        name="mesa",
    )
    dunes = profile(canvas, "dunes", layout.unit * 0.7, octaves=3)
    tops = layout.horizon - layout.unit * (0.01 + 0.05 * dunes)
    _fill(image, canvas, layout, tops, mix(palette.ground_far, palette.sky_horizon, 0.3))


def _skyline(
    image: Image, canvas: Canvas, layout: Layout, palette: Palette, time: TimeOfDay
) -> None:
    lit_share = {TimeOfDay.DAY: 0.0, TimeOfDay.SUNSET: 0.25, TimeOfDay.NIGHT: 0.4}[time]
    for depth, (tallest, haze) in enumerate(((0.55, 0.5), (0.38, 0.18))):
        rng = canvas.rng(f"skyline{depth}")
        x0, x1 = canvas.world_x_range()
        cover = np.zeros((canvas.height, canvas.width), np.float32)
        lights = np.zeros_like(cover)
        x = x0
        while x < x1:
            width = layout.unit * float(rng.uniform(0.05, 0.14))
            height = layout.unit * tallest * float(rng.uniform(0.2, 1.0)) ** 1.5
            top = layout.horizon - height
            pitch_x, pitch_y = layout.unit * 0.022, layout.unit * 0.03
            cols = max(1, int((width - pitch_x * 0.6) / pitch_x))
            rows = max(1, int((height - pitch_y) / pitch_y))
            lit = rng.random((rows, cols)) < lit_share
            left, right = round(x - canvas.left), round(x + width - canvas.left)
            if right > 0 and left < canvas.width:
                t0 = max(0, round(top - canvas.top))
                cover[t0:, max(0, left) : max(0, right)] = 1.0
                if depth == 1 and lit.any():
                    _windows(lights, canvas, x, top, pitch_x, pitch_y, lit)
            x += width + layout.unit * float(rng.uniform(0.0, 0.02))
        row0, row1 = rows_of(canvas, layout.horizon - layout.unit, layout.horizon + 2)
        cover[row1:] = 0
        color = mix(palette.far, palette.sky_horizon, haze)
        blend(image[row0:row1], color, cover[row0:row1])
        if lit_share:
            blend(image[row0:row1], rgb(palette.windows), lights[row0:row1] * 0.9)


def _windows(
    lights: npt.NDArray[np.float32],
    canvas: Canvas,
    x: float,
    top: float,
    pitch_x: float,
    pitch_y: float,
    lit: npt.NDArray[np.bool_],
) -> None:
    rows, cols = np.nonzero(lit)
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        wx = round(x + pitch_x * (col + 0.5) - canvas.left)
        wy = round(top + pitch_y * (row + 0.6) - canvas.top)
        w, h = max(1, round(pitch_x * 0.45)), max(1, round(pitch_y * 0.45))
        if 0 <= wx < canvas.width and 0 <= wy < canvas.height:
            lights[wy : wy + h, wx : wx + w] = 1.0
