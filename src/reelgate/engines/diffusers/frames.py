"""The model's frames fitted to the contract, and an input image fitted to the model.

Each output frame is (a cross-fade of) the model's native frames at its instant, cropped to
the canvas and resized to it (cubic), then warped along the camera path into the output's exact
size (bilinear: that warp is close to unit scale, and a cubic warp costs four times as much).
Where the camera reaches past the rendered margin the picture is reflected; a still camera
with no margin skips the warp. An input image goes the other way: scaled to cover the output's
view (centred), its margin taken from the image where it has more picture and reflected where
it has none, at the generation size.

Coordinates are pixel centres, as OpenCV uses them: scaling by `s` maps `x` to
`(x + 0.5) * s - 0.5`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from reelgate.core.camera import Affine
from reelgate.engines.base import Frame
from reelgate.engines.diffusers.config import Retime
from reelgate.engines.diffusers.plan import Plan

BLEND_EPSILON = 1e-3  # closer than this to a native frame: take that frame as it is


def _scale(sx: float, sy: float) -> Affine:
    """Scale pixel centres by (`sx`, `sy`) about the image's top-left corner."""
    return Affine(sx, 0.0, 0.5 * sx - 0.5, 0.0, sy, 0.5 * sy - 0.5)


def to_view(plan: Plan) -> Affine:
    """A generated frame's pixels -> the view plane, in output pixels (the canvas's top-left
    corner sits at minus the left and top margins)."""
    x, y, w, h = plan.crop
    canvas_w, canvas_h = plan.canvas
    m = plan.margins
    return (
        Affine.translation(-m.left, -m.top)
        @ _scale(canvas_w / w, canvas_h / h)
        @ Affine.translation(-x, -y)
    )


def output_maps(plan: Plan) -> list[Affine]:
    """Per output frame, the map from the canvas's pixels to the output frame."""
    m = plan.margins
    return [camera @ Affine.translation(-m.left, -m.top) for camera in plan.camera]


def sample(frames: Sequence[Frame], position: float, mode: Retime) -> Frame:
    """The native picture at `position` (in native frames): the nearest frame, or a cross-fade
    of the two around it."""
    last = len(frames) - 1
    if mode is Retime.NEAREST:
        return frames[min(last, round(position))]
    low = min(last, math.floor(position))
    weight = position - low
    if weight < BLEND_EPSILON or low == last:
        return frames[low]
    if weight > 1 - BLEND_EPSILON:
        return frames[low + 1]
    return np.asarray(
        cv2.addWeighted(frames[low], 1.0 - weight, frames[low + 1], weight, 0.0), np.uint8
    )


def warp(frame: Frame, transform: Affine, width: int, height: int, flags: int) -> Frame:
    """`frame` moved by `transform` into a fresh `(height, width, 3)` picture, reflected past
    its edges."""
    moved = cv2.warpAffine(
        frame,
        np.asarray(transform.rows(), np.float64),
        (width, height),
        flags=flags,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    return np.asarray(moved, np.uint8)


class Fitter:
    """The output frames of one clip, made on demand from the model's native frames."""

    def __init__(self, plan: Plan, native: Sequence[Frame], mode: Retime) -> None:
        if len(native) < plan.frames:
            raise ValueError(f"the model returned {len(native)} frames, {plan.frames} expected")
        self.plan = plan
        self._native = native
        self._mode = mode
        self._maps = output_maps(plan)
        self._still = plan.canvas == (plan.out_width, plan.out_height)

    def __len__(self) -> int:
        return len(self.plan.positions)

    def canvas(self, picture: Frame) -> Frame:
        """A generated picture cropped and resized to the canvas (the view plus margins)."""
        x, y, w, h = self.plan.crop
        size = self.plan.canvas
        shrink = size[0] < w or size[1] < h
        resized = cv2.resize(
            picture[y : y + h, x : x + w],
            size,
            interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC,
        )
        return np.asarray(resized, np.uint8)

    def frame(self, index: int) -> Frame:
        """Output frame `index`: retimed, resized and moved along the camera path."""
        plan = self.plan
        canvas = self.canvas(sample(self._native, plan.positions[index], self._mode))
        transform = self._maps[index]
        if self._still and transform == Affine.identity():
            return canvas
        return warp(canvas, transform, plan.out_width, plan.out_height, cv2.INTER_LINEAR)


def fit_reference(image: Frame, plan: Plan) -> Frame:
    """The input image as the model's first frame: covering the output's view (centred), with
    the margin around it, at the generation size."""
    ih, iw = image.shape[:2]
    cover = max(plan.out_width / iw, plan.out_height / ih)
    to_output = Affine.translation(
        (plan.out_width - iw * cover) / 2, (plan.out_height - ih * cover) / 2
    ) @ _scale(cover, cover)
    transform = to_view(plan).inverse() @ to_output
    shrink = min(1.0, math.hypot(transform.a, transform.d), math.hypot(transform.b, transform.e))
    if shrink < 0.5:
        # A warp samples points, so a large shrink would alias: area-average most of it first.
        small = cv2.resize(
            image,
            (max(1, round(iw * shrink * 2)), max(1, round(ih * shrink * 2))),
            interpolation=cv2.INTER_AREA,
        )
        sh, sw = small.shape[:2]
        transform = transform @ _scale(sw / iw, sh / ih).inverse()
        image = np.asarray(small, np.uint8)
    picture = np.ascontiguousarray(image)
    return warp(picture, transform, plan.width, plan.height, cv2.INTER_CUBIC)
