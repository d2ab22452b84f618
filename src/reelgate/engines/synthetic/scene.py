"""Building a clip's scene once: the graded background canvas, the subject sprite, the glints.

The background canvas covers everything the camera path shows (`CameraPath.coverage`), so frames
are plain warps of it. Its area is capped: an extreme path (a long fast zoom out on the largest
size) gets a canvas shrunk around the first frame, and the warp mirrors the picture beyond it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
import numpy.typing as npt

from reelgate.core.camera import Box, CameraPath
from reelgate.core.tasks import GenerationSpec
from reelgate.engines.synthetic.canvas import WORLD_SPAN, Canvas, Layout
from reelgate.engines.synthetic.far import paint_far
from reelgate.engines.synthetic.looks import Grade, Look
from reelgate.engines.synthetic.near import paint_near
from reelgate.engines.synthetic.palette import palette_for
from reelgate.engines.synthetic.prompt import Recipe, read_prompt, scene_seed
from reelgate.engines.synthetic.sky import Glints, paint_sky
from reelgate.engines.synthetic.subjects import Sprite, draw_subject

MAX_CANVAS_PIXELS = 12_000_000  # about 36 MB of RGB; a 1280x720 clip rarely needs a quarter


@dataclass(frozen=True, slots=True)
class Scene:
    """Everything the per-frame renderer needs, already graded and in 8 bits."""

    recipe: Recipe
    canvas: Canvas
    layout: Layout
    background: npt.NDArray[np.uint8]  # canvas-sized RGBA (four channels warp faster)
    sprite: Sprite  # premultiplied RGBA
    glint_xy: npt.NDArray[np.float32]  # N x 2, world coordinates
    glint_colors: npt.NDArray[np.float32]  # N x 3, graded 0..255 at full sparkle
    glint_phases: npt.NDArray[np.float32]
    glint_speeds: npt.NDArray[np.float32]

    @property
    def subject_box(self) -> Box:
        """Where the subject sits in the first frame (world coordinates)."""
        s = self.sprite
        left, top = s.world_x - s.anchor_x, s.world_y - s.anchor_y
        return Box(left, top, left + s.rgba.shape[1], top + s.rgba.shape[0])


def canvas_box(path: CameraPath, frames: int, pad: float) -> Box:
    """The world box to paint: the path's coverage, shrunk to the pixel cap if need be."""
    need = path.coverage(frames, pad=pad)
    w, h = path.width, path.height
    excess = need.width * need.height / MAX_CANVAS_PIXELS
    if excess > 1:
        keep = 1 / math.sqrt(excess)
        cx, cy = w / 2, h / 2
        need = Box(
            cx + (need.left - cx) * keep,
            cy + (need.top - cy) * keep,
            cx + (need.right - cx) * keep,
            cy + (need.bottom - cy) * keep,
        )
    span = WORLD_SPAN - 0.25
    return need.intersect(Box(-span * w, -span * h, (1 + span) * w, (1 + span) * h))


def build_scene(
    spec: GenerationSpec, look: Look, path: CameraPath, view: tuple[int, int], pad: float = 4.0
) -> Scene:
    """Paint and grade the scene for a clip; `view` is the first and last+1 visible row."""
    recipe = read_prompt(spec.prompt)
    palette = palette_for(recipe)
    box = canvas_box(path, spec.frames, pad)
    left, top = math.floor(box.left), math.floor(box.top)
    canvas = Canvas(
        left=left,
        top=top,
        width=max(1, math.ceil(box.right) - left),
        height=max(1, math.ceil(box.bottom) - top),
        frame_width=spec.width,
        frame_height=spec.height,
        seed=scene_seed(spec.prompt, spec.seed),
    )
    layout = Layout.choose(canvas, float(view[0]), float(view[1]))
    image, glints = paint_sky(canvas, layout, palette)
    paint_far(image, canvas, layout, palette, recipe)
    glints = glints + paint_near(image, canvas, layout, palette, recipe)
    painted = _to_bytes(image)
    del image
    grade = Grade(look, painted)
    background = np.asarray(cv2.cvtColor(grade(painted), cv2.COLOR_RGB2RGBA), np.uint8)

    sprite = draw_subject(recipe, palette, layout)
    alpha = np.ascontiguousarray(sprite.rgba[..., 3])
    color = grade(np.ascontiguousarray(sprite.rgba[..., :3]), alpha=alpha)
    premultiplied = cv2.multiply(color, cv2.merge([alpha] * 3), scale=1 / 255)
    sprite = replace(sprite, rgba=np.dstack([premultiplied, alpha]))
    if look.name == "anime":  # flat colour has no sparkle
        glints = Glints.none()
    colors = (
        grade(_to_bytes(glints.colors[None]), spatial=False)[0]
        if glints.xs.size
        else (np.zeros((0, 3), np.uint8))
    )
    return Scene(
        recipe=recipe,
        canvas=canvas,
        layout=layout,
        background=background,
        sprite=sprite,
        glint_xy=np.stack([glints.xs, glints.ys], axis=1).astype(np.float32),
        glint_colors=colors.astype(np.float32),
        glint_phases=glints.phases,
        glint_speeds=glints.speeds,
    )


def _to_bytes(image: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """0..1 floats to 0..255 bytes, rounded and saturated (negative rounding noise folds to 0)."""
    return np.asarray(cv2.convertScaleAbs(image, alpha=255.0), np.uint8)
