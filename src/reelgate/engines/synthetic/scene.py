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

# About 48 MB as RGBA (and three times that in floats while painting); a 1280x720 clip rarely
# needs a quarter of it.
MAX_CANVAS_PIXELS = 12_000_000

Frame = npt.NDArray[np.uint8]
Floats = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Scene:
    """Everything the per-frame renderer needs, already graded and in 8 bits."""

    recipe: Recipe
    canvas: Canvas
    layout: Layout
    background: Frame  # canvas-sized RGBA (four channels warp faster)
    sprite: Sprite | None  # premultiplied RGBA; none over an input image
    glint_xy: npt.NDArray[np.float32]  # N x 2, world coordinates
    glint_colors: npt.NDArray[np.float32]  # N x 3, graded 0..255 at full sparkle
    glint_phases: npt.NDArray[np.float32]
    glint_speeds: npt.NDArray[np.float32]


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
        ).union(Box(-pad, -pad, w + pad, h + pad))
    span = WORLD_SPAN - 0.25
    return need.intersect(Box(-span * w, -span * h, (1 + span) * w, (1 + span) * h))


def build_scene(
    spec: GenerationSpec,
    look: Look,
    path: CameraPath,
    view: tuple[int, int],
    pad: float = 4.0,
    reference: Frame | None = None,
) -> Scene:
    """Paint and grade the scene for a clip; `view` is the first and last+1 visible row.

    With a `reference` image (image-to-video) the image itself is the scene.
    """
    recipe = read_prompt(spec.prompt)
    if reference is not None:
        return _photo_scene(spec, look, view, recipe, reference)
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
    return Scene(recipe, canvas, layout, background, sprite, *_graded_glints(glints, grade))


def _photo_scene(
    spec: GenerationSpec, look: Look, view: tuple[int, int], recipe: Recipe, reference: Frame
) -> Scene:
    """The input image, fitted to the visible picture, as the whole canvas; the warp mirrors it
    beyond its edges. It brings its own subject, so no sprite is drawn over it."""
    top, bottom = view
    canvas = Canvas(0, top, spec.width, bottom - top, spec.width, spec.height, spec.seed)
    fitted = fit_cover(reference, spec.width, bottom - top)
    grade = Grade(look, fitted)
    background = np.asarray(cv2.cvtColor(grade(fitted), cv2.COLOR_RGB2RGBA), np.uint8)
    layout = Layout.choose(canvas, float(top), float(bottom))
    return Scene(recipe, canvas, layout, background, None, *_graded_glints(Glints.none(), grade))


def fit_cover(image: Frame, width: int, height: int) -> Frame:
    """`image` scaled to cover `width x height` and cropped to it around its centre."""
    rgb = np.asarray(image, np.uint8)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    rgb = np.ascontiguousarray(rgb[..., :3])
    h, w = rgb.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    shrink = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = np.asarray(cv2.resize(rgb, size, interpolation=shrink), np.uint8)
    x0, y0 = (size[0] - width) // 2, (size[1] - height) // 2
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


def _graded_glints(
    glints: Glints, grade: Grade
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], Floats, Floats]:
    """Glint positions (N x 2), colours through the grade (N x 3), phases and speeds."""
    colors = (
        grade(_to_bytes(glints.colors[None]), spatial=False)[0]
        if glints.xs.size
        else np.zeros((0, 3), np.uint8)
    )
    return (
        np.stack([glints.xs, glints.ys], axis=1).astype(np.float32),
        colors.astype(np.float32),
        glints.phases,
        glints.speeds,
    )


def _to_bytes(image: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """0..1 floats to 0..255 bytes, rounded and saturated (negative rounding noise folds to 0)."""
    return np.asarray(cv2.convertScaleAbs(image, alpha=255.0), np.uint8)
