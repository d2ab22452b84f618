"""The canvas the scenery is painted on, and noise that is fixed to the world, not to the canvas.

World coordinates are frame-0 pixels: the first frame shows the world box `[0, W) x [0, H)`.
A canvas is a window on the world, as large as the clip's camera path needs. Nothing random may
depend on the window: noise lattices hash their world coordinates, and scattered elements (trees,
buildings, stars) are drawn from named random streams over a fixed span of the world. So the same
prompt and seed give the same scene whatever the camera does: changing only the motion vector
keeps the first frame.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.float32]
Image = npt.NDArray[np.float32]  # H x W x 3, 0..1

WORLD_SPAN = 2.0  # frame sizes of world on each side of the first frame where things are scattered


@dataclass(frozen=True, slots=True)
class Canvas:
    """A window on the world: pixel `(0, 0)` is world `(left, top)`."""

    left: int
    top: int
    width: int
    height: int
    frame_width: int
    frame_height: int
    seed: int

    def xs(self) -> npt.NDArray[np.float32]:
        """World x of every canvas column."""
        return np.arange(self.left, self.left + self.width, dtype=np.float32)

    def ys(self) -> npt.NDArray[np.float32]:
        """World y of every canvas row."""
        return np.arange(self.top, self.top + self.height, dtype=np.float32)

    def world_x_range(self) -> tuple[float, float]:
        """The world span over which random elements are scattered horizontally."""
        return -WORLD_SPAN * self.frame_width, (1 + WORLD_SPAN) * self.frame_width

    def rng(self, name: str) -> np.random.Generator:
        """An independent random stream for one named feature of the scene."""
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])

    def band(self, row0: int, row1: int) -> Canvas:
        """The rows `row0..row1` of this canvas as a canvas of their own (same world)."""
        return Canvas(
            self.left,
            self.top + row0,
            self.width,
            row1 - row0,
            self.frame_width,
            self.frame_height,
            self.seed,
        )

    def coarse(self, step: int) -> Canvas:
        """The same window at `1/step` of the resolution, aligned to world multiples of `step`."""
        left, top = self.left // step, self.top // step
        right = -(-(self.left + self.width) // step) + 1
        bottom = -(-(self.top + self.height) // step) + 1
        return Canvas(
            left,
            top,
            right - left,
            bottom - top,
            -(-self.frame_width // step),
            -(-self.frame_height // step),
            self.seed,
        )

    def upsample(self, field: Gray, step: int) -> Gray:
        """A field computed on `self.coarse(step)`, brought back to this canvas's pixels."""
        coarse = self.coarse(step)
        big = cv2.resize(
            field, (coarse.width * step, coarse.height * step), interpolation=cv2.INTER_LINEAR
        )
        ox, oy = self.left - coarse.left * step, self.top - coarse.top * step
        return np.ascontiguousarray(big[oy : oy + self.height, ox : ox + self.width])


def _hash01(key: int, ix: npt.NDArray[np.int64], iy: npt.NDArray[np.int64]) -> Gray:
    """A random value in [0, 1) per integer lattice point: a splitmix64 finaliser of the point.

    Hashing, unlike drawing from a generator, gives any window of an endless lattice without
    producing the rest, and the same point always gets the same value.
    """
    h = (
        (ix.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        ^ (iy.astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F))
        ^ np.uint64(key)
    )
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return ((h >> np.uint64(40)).astype(np.float32) * np.float32(1 / 2**24)).astype(np.float32)


def _key(canvas: Canvas, name: str, octave: int) -> int:
    return (canvas.seed ^ (zlib.crc32(name.encode()) << 20) ^ (octave * 0x51ED27)) & (2**64 - 1)


def _lattice_field(canvas: Canvas, key: int, cell_x: int, cell_y: int) -> Gray:
    """Smooth noise in [0, 1] with one random value per `cell_x x cell_y` world cell."""
    # Take the lattice points under the canvas plus those bicubic upscaling reads, upscale by
    # whole cells and cut out the canvas: the upscale's samples then sit at the same world
    # positions for every canvas.
    i0 = math.floor(canvas.left / cell_x) - 1
    j0 = math.floor(canvas.top / cell_y) - 1
    i1 = math.ceil((canvas.left + canvas.width) / cell_x) + 2
    j1 = math.ceil((canvas.top + canvas.height) / cell_y) + 2
    ix = np.arange(i0, i1, dtype=np.int64)[None, :]
    iy = np.arange(j0, j1, dtype=np.int64)[:, None]
    lattice = _hash01(
        key, np.broadcast_to(ix, (j1 - j0, i1 - i0)), np.broadcast_to(iy, (j1 - j0, i1 - i0))
    )
    big = cv2.resize(
        lattice, ((i1 - i0) * cell_x, (j1 - j0) * cell_y), interpolation=cv2.INTER_CUBIC
    )
    off_x, off_y = canvas.left - i0 * cell_x, canvas.top - j0 * cell_y
    return np.ascontiguousarray(big[off_y : off_y + canvas.height, off_x : off_x + canvas.width])


def fbm(
    canvas: Canvas, name: str, cell: float, octaves: int = 4, aspect: float = 1.0, step: int = 1
) -> Gray:
    """Fractal noise in about [0, 1]: octaves of lattice noise, each half the size of the last.

    `cell` is the largest feature size in world pixels; `aspect` > 1 stretches features
    horizontally (clouds, water). `step` > 1 computes the field at `1/step` resolution and
    upsamples it, for fields whose finest octave is still several `step`s wide.
    """
    if step > 1:
        return canvas.upsample(fbm(canvas.coarse(step), name, cell / step, octaves, aspect), step)
    total = np.zeros((canvas.height, canvas.width), np.float32)
    weight, norm = 1.0, 0.0
    for octave in range(octaves):
        size = cell / (2**octave)
        cell_y = max(2, round(size))
        cell_x = max(2, round(size * aspect))
        field = _lattice_field(canvas, _key(canvas, name, octave), cell_x, cell_y)
        cv2.scaleAdd(field, weight, total, dst=total)
        norm += weight
        weight *= 0.5
    total *= 1.0 / norm
    return total


def profile(
    canvas: Canvas, name: str, cell: float, octaves: int = 4, sharp: bool = False
) -> npt.NDArray[np.float32]:
    """A 1-D fractal noise in about [0, 1] per canvas column, for ridges and skylines.

    `sharp` keeps linear interpolation between lattice points (jagged peaks); otherwise the
    curve is smoothed with a smoothstep (rolling hills).
    """
    xs = canvas.xs().astype(np.float64)
    total = np.zeros(canvas.width, np.float64)
    weight, norm = 1.0, 0.0
    for octave in range(octaves):
        pos = xs / (cell / (2**octave))
        index = np.floor(pos).astype(np.int64)
        frac = pos - index
        if not sharp:
            frac = frac * frac * (3 - 2 * frac)
        key = _key(canvas, name, octave)
        row = np.zeros_like(index)
        left, right = _hash01(key, index, row), _hash01(key, index + 1, row)
        total += weight * (left * (1 - frac) + right * frac)
        norm += weight
        weight *= 0.5
    return (total / norm).astype(np.float32)


def smoothstep(edge0: float, edge1: float, x: Gray) -> Gray:
    """0 below `edge0`, 1 above `edge1`, a smooth ramp between."""
    t = np.clip((x - edge0) * (1.0 / (edge1 - edge0)), 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t), np.float32)


def blend(image: Image, color: tuple[float, float, float] | Image, mask: Gray) -> None:
    """Paint `color` (one colour, or an image of `image`'s shape) over `image` in place, with
    coverage `mask` in [0, 1]. Only the rows the mask touches are worked on."""
    cover = np.broadcast_to(np.asarray(mask, np.float32), image.shape[:2])
    used = np.flatnonzero(cover.any(axis=1))
    if used.size == 0:
        return
    r0, r1 = int(used[0]), int(used[-1]) + 1
    target = image[r0:r1]
    cover = np.ascontiguousarray(cover[r0:r1])
    if isinstance(color, tuple):
        paint = np.empty(target.shape, np.float32)
        paint[:] = color
    else:
        paint = np.ascontiguousarray(np.broadcast_to(color, image.shape)[r0:r1], np.float32)
    # blendLinear writes a new array; assigning it back also works for strided views.
    target[...] = cv2.blendLinear(np.ascontiguousarray(target), paint, 1.0 - cover, cover)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where the scene's parts sit, in world coordinates, framed for the visible picture.

    `view_top`/`view_bottom` bound the rows a viewer sees in the first frame (a letterbox hides
    the rest), so the horizon and the subject land inside the picture whatever the style.
    """

    view_top: float
    view_bottom: float
    horizon: float
    ground: float  # where the subject stands
    subject_x: float
    unit: float  # the visible picture's short side
    light_x: float

    @classmethod
    def choose(cls, canvas: Canvas, view_top: float, view_bottom: float) -> Layout:
        """A seeded layout for a picture whose visible rows are `view_top..view_bottom`."""
        rng = canvas.rng("layout")
        height = view_bottom - view_top
        horizon = view_top + height * float(rng.uniform(0.5, 0.6))
        width = canvas.frame_width
        return cls(
            view_top=view_top,
            view_bottom=view_bottom,
            horizon=horizon,
            ground=horizon + (view_bottom - horizon) * float(rng.uniform(0.5, 0.62)),
            subject_x=width * float(rng.uniform(0.4, 0.6)),
            unit=float(min(width, height)),
            light_x=width * float(rng.choice([rng.uniform(0.12, 0.35), rng.uniform(0.65, 0.88)])),
        )


def rgb(color: tuple[int, int, int]) -> tuple[float, float, float]:
    """A 0..255 colour as 0..1 floats."""
    return color[0] / 255.0, color[1] / 255.0, color[2] / 255.0


def mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[float, float, float]:
    """`a` moved a fraction `t` towards `b`, as 0..1 floats."""
    return (
        (a[0] + (b[0] - a[0]) * t) / 255.0,
        (a[1] + (b[1] - a[1]) * t) / 255.0,
        (a[2] + (b[2] - a[2]) * t) / 255.0,
    )


def below(canvas: Canvas, tops: npt.NDArray[np.float32], row0: int, row1: int) -> Gray:
    """Coverage of everything below the curve `tops` (world y per column), rows `row0..row1`.

    The one-pixel ramp anti-aliases the edge.
    """
    ys = canvas.ys()[row0:row1, None]
    return np.clip(ys - (tops[None, :] - 0.5), 0.0, 1.0)


def rows_of(canvas: Canvas, world_top: float, world_bottom: float) -> tuple[int, int]:
    """The canvas rows that hold world rows `world_top..world_bottom`, clipped to the canvas."""
    row0 = int(np.clip(np.floor(world_top - canvas.top), 0, canvas.height))
    row1 = int(np.clip(np.ceil(world_bottom - canvas.top), 0, canvas.height))
    return row0, row1
