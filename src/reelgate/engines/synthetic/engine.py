"""The synthetic engine: a procedural previz renderer that runs anywhere, fast, on a CPU.

Per clip it paints a layered scene once (scene.py); per frame it warps that canvas along the
camera path, composites the subject, lets a few glints sparkle and adds the look's screen-space
finish. Everything random is seeded from the spec, so a spec always gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np
import numpy.typing as npt

from reelgate.core.camera import Affine, CameraPath
from reelgate.core.tasks import GenerationSpec
from reelgate.engines.base import EngineContext, Frame, Reference
from reelgate.engines.synthetic.looks import Finish, resolve_look
from reelgate.engines.synthetic.scene import Scene, build_scene

IDLE_PERIOD = 2.4  # seconds per subject bob; slow enough to read as breathing, not as camera


def _rows(transform: Affine) -> npt.NDArray[np.float64]:
    return np.asarray(transform.rows(), np.float64)


def _turn(degrees: float) -> Affine:
    """Counter-clockwise on screen about the origin."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return Affine(c, s, 0.0, -s, c, 0.0)


class Renderer:
    """The frames of one clip, drawn on demand; building it paints the scene.

    With a `reference` (image-to-video) the input image is the picture the camera moves over:
    the first frame shows it as given, or with `position="last"` the last frame does. A flat
    image has no depth to separate, so it follows the camera's x, y, z and r and ignores the
    background pans.
    """

    def __init__(self, spec: GenerationSpec, reference: Reference | None = None) -> None:
        self.spec = spec
        look = resolve_look(spec.style)
        self.finish = Finish(look, spec.width, spec.height, spec.frames, spec.seed)
        self.path = CameraPath(spec.motion, spec.width, spec.height, spec.fps)
        view = (self.finish.top, self.finish.bottom)
        self.scene: Scene = build_scene(
            spec,
            look,
            self.path,
            view,
            pad=4.0 + look.weave,
            reference=None if reference is None else reference.frame,
        )
        canvas = self.scene.canvas
        self._canvas_to_world = Affine.translation(float(canvas.left), float(canvas.top))
        self._backdrop = self.path.background if reference is None else self.path.picture
        self._anchor = Affine.identity()
        if reference is not None and reference.position == "last":
            self._anchor = self.path.picture(max(spec.frames - 1, 0)).inverse()
        rows = self.finish.bottom - self.finish.top
        self._warped = np.empty((rows, spec.width, 4), np.uint8)

    def frame(self, index: int) -> Frame:
        """Frame `index` (0-based) as a fresh `(height, width, 3)` uint8 RGB array."""
        spec, finish = self.spec, self.finish
        out = np.zeros((spec.height, spec.width, 3), np.uint8)
        content = out[finish.top : finish.bottom]
        dx, dy = finish.weave(index)
        screen = Affine.translation(dx, dy - finish.top)
        backdrop = screen @ self._backdrop(index) @ self._anchor
        cv2.warpAffine(
            self.scene.background,
            _rows(backdrop @ self._canvas_to_world),
            (spec.width, finish.bottom - finish.top),
            dst=self._warped,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        cv2.cvtColor(self._warped, cv2.COLOR_RGBA2RGB, dst=content)
        seconds = index / spec.fps
        self._glints(content, backdrop, seconds)
        self._subject(content, screen @ self.path.picture(index), seconds)
        finish.apply(content, index)
        return out

    def _subject(self, content: Frame, picture: Affine, seconds: float) -> None:
        sprite = self.scene.sprite
        if sprite is None:
            return
        phase = 2 * math.pi * seconds / IDLE_PERIOD
        place = (
            picture
            @ Affine.translation(sprite.world_x, sprite.world_y)
            @ _turn(sprite.rock * math.sin(phase * 0.8))
            @ Affine.translation(-sprite.anchor_x, -sprite.anchor_y - sprite.bob * math.sin(phase))
        )
        h, w = sprite.rgba.shape[:2]
        corners = [place.apply(x, y) for x, y in ((0, 0), (w, 0), (0, h), (w, h))]
        x0 = max(0, math.floor(min(x for x, _ in corners)))
        y0 = max(0, math.floor(min(y for _, y in corners)))
        x1 = min(content.shape[1], math.ceil(max(x for x, _ in corners)) + 1)
        y1 = min(content.shape[0], math.ceil(max(y for _, y in corners)) + 1)
        if x1 <= x0 or y1 <= y0:
            return
        patch = cv2.warpAffine(
            sprite.rgba,
            _rows(Affine.translation(-x0, -y0) @ place),
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0, 0),
        )
        region = content[y0:y1, x0:x1]
        color = cv2.cvtColor(patch, cv2.COLOR_RGBA2RGB)
        keep = cv2.merge([255 - patch[..., 3]] * 3)
        cv2.multiply(region, keep, dst=region, scale=1 / 255)
        cv2.add(region, color, dst=region)

    def _glints(self, content: Frame, backdrop: Affine, seconds: float) -> None:
        scene = self.scene
        if scene.glint_xy.shape[0] == 0:
            return
        xs = backdrop.a * scene.glint_xy[:, 0] + backdrop.b * scene.glint_xy[:, 1] + backdrop.c
        ys = backdrop.d * scene.glint_xy[:, 0] + backdrop.e * scene.glint_xy[:, 1] + backdrop.f
        ix, iy = np.round(xs).astype(np.int64), np.round(ys).astype(np.int64)
        inside = (ix >= 0) & (ix < content.shape[1]) & (iy >= 0) & (iy < content.shape[0])
        if not inside.any():
            return
        sparkle = np.sin(scene.glint_phases[inside] + scene.glint_speeds[inside] * seconds)
        colors = scene.glint_colors[inside] * (0.55 + 0.45 * sparkle)[:, None]
        ix, iy = ix[inside], iy[inside]
        content[iy, ix] = np.maximum(content[iy, ix], colors.astype(np.uint8))


class SyntheticEngine:
    """The `synthetic` engine (CPU): procedural previz with real camera motion and looks."""

    name = "synthetic"

    def generate(self, spec: GenerationSpec, ctx: EngineContext) -> Iterator[Frame]:
        """Yield `spec.frames` frames lazily; the scene is painted on the first `next()`.

        `ctx.reference`, when set, is the picture to start (or end) on instead of a painted scene.

        Progress is left to the worker, which reports once per frame it receives: one frame is
        the engine's only step.
        """
        if spec.frames <= 0:
            return
        renderer = Renderer(spec, ctx.reference)
        for index in range(spec.frames):
            yield renderer.frame(index)
