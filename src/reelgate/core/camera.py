"""Camera paths: a motion vector turned into one picture transform per frame.

The conventions are CONTRACT.md 4.2, measured on the output picture (image axes: x right, y down):
`x` slides the picture left, `y` slides it down, `z` scales it by `(1 + z/100)` per second
(compounding), `r` turns it counter-clockwise on screen, all at constant speed; `bg_x_pan` and
`bg_y_pan` slide only the background, like `x` and `y`.

The path is written as a velocity field in screen space: a point at offset `u` from the frame
centre moves with `du/dt = k u + v`, where the complex rate `k = ln(1 + z/100) - i r°` holds the
zoom and the roll and `v` the slide. Zoom and roll therefore always pivot on the screen centre and a
slide keeps its screen direction while the picture turns, which is what a viewer reads as "the
camera rolls while it travels up". The closed form is `u(t) = e^{kt} u0 + (e^{kt} - 1)/k v`.
Complex numbers stand for image points (`x + iy`); since y points down, multiplying by
`e^{-i a}` turns a point counter-clockwise on screen.
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

from reelgate.core.tasks import FPS, MotionVector


@dataclass(frozen=True, slots=True)
class Affine:
    """The 2x3 affine map `(x, y) -> (a x + b y + c, d x + e y + f)` in image coordinates.

    The rows are the matrix that `cv2.warpAffine` expects for a forward (source to output) map.
    """

    a: float
    b: float
    c: float
    d: float
    e: float
    f: float

    @classmethod
    def identity(cls) -> Affine:
        return cls(1.0, 0.0, 0.0, 0.0, 1.0, 0.0)

    @classmethod
    def translation(cls, dx: float, dy: float) -> Affine:
        return cls(1.0, 0.0, dx, 0.0, 1.0, dy)

    def __matmul__(self, other: Affine) -> Affine:
        """`self @ other` applies `other` first, then `self`."""
        return Affine(
            self.a * other.a + self.b * other.d,
            self.a * other.b + self.b * other.e,
            self.a * other.c + self.b * other.f + self.c,
            self.d * other.a + self.e * other.d,
            self.d * other.b + self.e * other.e,
            self.d * other.c + self.e * other.f + self.f,
        )

    def inverse(self) -> Affine:
        """The map that undoes this one (a camera map is never singular)."""
        det = self.a * self.e - self.b * self.d
        a, b, d, e = self.e / det, -self.b / det, -self.d / det, self.a / det
        return Affine(a, b, -(a * self.c + b * self.f), d, e, -(d * self.c + e * self.f))

    def apply(self, x: float, y: float) -> tuple[float, float]:
        """Where the point `(x, y)` lands."""
        return self.a * x + self.b * y + self.c, self.d * x + self.e * y + self.f

    def rows(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """The 2x3 matrix, row by row."""
        return (self.a, self.b, self.c), (self.d, self.e, self.f)


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle in image coordinates; `right` and `bottom` are exclusive."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def union(self, other: Box) -> Box:
        return Box(
            min(self.left, other.left),
            min(self.top, other.top),
            max(self.right, other.right),
            max(self.bottom, other.bottom),
        )

    def intersect(self, other: Box) -> Box:
        """The overlap; empty overlaps come back with zero width or height."""
        left, top = max(self.left, other.left), max(self.top, other.top)
        return Box(
            left,
            top,
            max(left, min(self.right, other.right)),
            max(top, min(self.bottom, other.bottom)),
        )


def _bounding_box(points: list[tuple[float, float]]) -> Box:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return Box(min(xs), min(ys), max(xs), max(ys))


class CameraPath:
    """Per-frame transforms of a clip's picture for one motion vector.

    `picture(i)` maps frame-0 image coordinates to frame `i` for the foreground (the subject);
    `background(i)` does the same for the far layers, which also carry the background pan.
    Without a background pan both are the same map.
    """

    def __init__(self, motion: MotionVector, width: int, height: int, fps: int = FPS) -> None:
        if width <= 0 or height <= 0 or fps <= 0:
            raise ValueError("frame size and fps must be positive")
        self.motion = motion
        self.width = width
        self.height = height
        self.fps = fps
        self._rate = complex(math.log1p(motion.z / 100.0), -math.radians(motion.r))
        self._slide = complex(-motion.x / 100.0 * width, motion.y / 100.0 * height)
        self._pan = complex(-motion.bg_x_pan / 100.0 * width, motion.bg_y_pan / 100.0 * height)

    @property
    def has_parallax(self) -> bool:
        """True when the background moves differently from the subject."""
        return self._pan != 0

    def seconds(self, frame: int) -> float:
        """The time of frame `frame` since the first one."""
        return frame / self.fps

    def picture(self, frame: int) -> Affine:
        """Frame-0 coordinates to frame `frame` coordinates, for the foreground."""
        return self._map(self.seconds(frame), self._slide)

    def background(self, frame: int) -> Affine:
        """Frame-0 coordinates to frame `frame` coordinates, for the background."""
        return self._map(self.seconds(frame), self._slide + self._pan)

    def scale(self, frame: int) -> float:
        """How much larger the picture looks at `frame` than at the first frame."""
        return math.exp(self._rate.real * self.seconds(frame))

    def angle(self, frame: int) -> float:
        """Degrees the picture has turned counter-clockwise on screen at `frame`."""
        return self.motion.r * self.seconds(frame)

    def coverage(self, frames: int, pad: float = 2.0) -> Box:
        """The part of the frame-0 plane that frames `0..frames-1` show, background included,
        grown by `pad` pixels (room for interpolation and a jittering gate)."""
        corners = [
            (0.0, 0.0),
            (float(self.width), 0.0),
            (0.0, float(self.height)),
            (float(self.width), float(self.height)),
        ]
        box = Box(0.0, 0.0, float(self.width), float(self.height))
        for i in range(max(frames, 1)):
            for transform in (self.picture(i), self.background(i)):
                back = transform.inverse()
                box = box.union(_bounding_box([back.apply(x, y) for x, y in corners]))
        return Box(box.left - pad, box.top - pad, box.right + pad, box.bottom + pad)

    def _map(self, t: float, velocity: complex) -> Affine:
        growth = cmath.exp(self._rate * t)
        shift = velocity * t if self._rate == 0 else (growth - 1) / self._rate * velocity
        cx, cy = self.width / 2.0, self.height / 2.0
        # u' = growth * u + shift with u = p - centre, written as a real 2x3 matrix.
        g_re, g_im = growth.real, growth.imag
        return Affine(
            g_re,
            -g_im,
            cx - g_re * cx + g_im * cy + shift.real,
            g_im,
            g_re,
            cy - g_im * cx - g_re * cy + shift.imag,
        )
