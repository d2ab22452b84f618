"""A request turned into what the model is asked for: size, frame count, prompt and margin.

A diffusion model renders at its own size and frame rate and cannot steer a camera, so the
model is asked for a *canvas*: the output's view grown by the margin that the camera path will
reveal (capped at `margin` of the frame per side; past it the warp reflects the picture). The
canvas is rendered at its own aspect with about the model's native pixel area, rounded to the
family's multiple, and frames.py warps each frame along the camera path into the exact output
size. Time works the same way: the model renders enough native frames (the VAE's temporal
factor times k, plus one) to span the clip at its native rate, and each output frame at 24 fps
shows its instant of that clip. Never another duration: a model capped at `max_frames` has its
frames spread over the whole clip instead.

An input image meant as the last frame (`position="last"`) is given to the model as its first
frame and the clip is played backwards, which every family supports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from reelgate.core.camera import Affine, CameraPath
from reelgate.core.tasks import FPS, GenerationSpec, MotionVector
from reelgate.engines.diffusers.config import DiffusersConfig

# Style presets of CONTRACT.md 4.3, said the way video models were captioned.
STYLE_WORDS = {
    "cinematic": "cinematic film still, anamorphic widescreen, teal and orange grade, fine grain",
    "anime": "anime style, flat cel shading, posterised colours, clean ink outlines",
    "noir": "film noir, black and white, hard contrast, deep shadows, vignette",
    "vintage": "vintage film, warm faded colours, film grain, gate weave",
    "vivid": "vivid, highly saturated colours",
}


@dataclass(frozen=True, slots=True)
class Geometry:
    """What a loaded pipeline imposes on its inputs."""

    multiple: int  # width and height are multiples of this
    temporal: int  # frame counts are temporal * k + 1


@dataclass(frozen=True, slots=True)
class Margins:
    """Extra picture around the output's view, in output pixels."""

    left: int
    top: int
    right: int
    bottom: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything needed to ask the model for a clip and to fit its frames to the contract."""

    prompt: str
    width: int  # generation size
    height: int
    frames: int  # native frames to generate
    positions: tuple[float, ...]  # output frame j shows native frame position positions[j]
    margins: Margins
    camera: tuple[Affine, ...]  # per output frame: view plane (output pixels) -> output frame
    out_width: int
    out_height: int

    @property
    def canvas(self) -> tuple[int, int]:
        """The view plus margins, in output pixels."""
        m = self.margins
        return self.out_width + m.left + m.right, self.out_height + m.top + m.bottom

    @property
    def crop(self) -> tuple[int, int, int, int]:
        """`(x, y, w, h)`: where the canvas lies inside a generated frame (centred, full height
        or full width); all of it unless the model renders at a fixed size."""
        cw, ch = self.canvas
        aspect = cw / ch
        if self.width / self.height > aspect + 0.01:
            w, h = min(self.width, round(self.height * aspect)), self.height
        elif self.width / self.height < aspect - 0.01:
            w, h = self.width, min(self.height, round(self.width / aspect))
        else:
            w, h = self.width, self.height  # rounding to the multiple: stretch a little instead
        return (self.width - w) // 2, (self.height - h) // 2, w, h


def make_plan(
    spec: GenerationSpec, config: DiffusersConfig, geometry: Geometry, position: str | None
) -> Plan:
    """The plan for `spec`; `position` is the input image's place (None for text-to-video)."""
    last = position == "last"
    camera = camera_maps(spec, last)
    margins = camera_margins(camera, spec.width, spec.height, float(config.margin))
    canvas_w = spec.width + margins.left + margins.right
    canvas_h = spec.height + margins.top + margins.bottom
    if config.fixed_size:
        width, height = config.width, config.height
    else:
        width, height = generation_size(
            canvas_w / canvas_h, config.width * config.height, geometry.multiple
        )
    frames, positions = frame_positions(
        spec.frames,
        config.fps,
        geometry.temporal,
        config.min_frames,
        config.max_frames,
        out_fps=spec.fps,
    )
    if last:
        positions = positions[::-1]
    return Plan(
        prompt=compose_prompt(spec.prompt, spec.style, spec.motion),
        width=width,
        height=height,
        frames=frames,
        positions=positions,
        margins=margins,
        camera=camera,
        out_width=spec.width,
        out_height=spec.height,
    )


def generation_size(aspect: float, area: int, multiple: int) -> tuple[int, int]:
    """About `area` pixels at `aspect` (width / height), each side a multiple of `multiple`."""
    height = math.sqrt(area / aspect)
    width = height * aspect

    def snap(value: float) -> int:
        return max(multiple, round(value / multiple) * multiple)

    return snap(width), snap(height)


def frame_positions(
    out_frames: int,
    fps: int,
    temporal: int,
    min_frames: int = 1,
    max_frames: int | None = None,
    *,
    out_fps: int = FPS,
) -> tuple[int, tuple[float, ...]]:
    """How many native frames to render, and which native instant each output frame shows.

    Native frames are `1/fps` apart and output frames `1/out_fps` s apart (24 fps), so output
    frame `j` shows native position `j * fps / out_fps`. Frames past the last position needed
    (the count is rounded up to `temporal * k + 1`) are dropped; when `max_frames` is too few
    to span the clip at the native rate, the frames are spread over the whole clip instead.
    """
    span = (out_frames - 1) * fps / out_fps
    need = math.ceil(span - 1e-9) + 1
    count = _valid_count(max(need, min_frames), temporal, up=True)
    if max_frames is not None and count > max_frames:
        count = max(1, _valid_count(max_frames, temporal, up=False))
    step = fps / out_fps if count >= need else (count - 1) / max(out_frames - 1, 1)
    return count, tuple(min(j * step, count - 1.0) for j in range(out_frames))


def _valid_count(frames: int, temporal: int, *, up: bool) -> int:
    k = (frames - 1) / temporal
    return temporal * (math.ceil(k) if up else math.floor(k)) + 1


def camera_maps(spec: GenerationSpec, last: bool = False) -> tuple[Affine, ...]:
    """Per output frame, the map from the view plane (frame 0, or with `last` the final frame,
    shows it unmoved) to the output frame, along CONTRACT.md 4.2's path for x, y, z and r.

    The background pans need depth that a flat frame lacks; they go into the prompt instead
    (`compose_prompt`), so the model renders the parallax itself.
    """
    path = CameraPath(spec.motion, spec.width, spec.height, spec.fps)
    anchor = path.picture(spec.frames - 1).inverse() if last else Affine.identity()
    return tuple(path.picture(i) @ anchor for i in range(spec.frames))


def camera_margins(camera: tuple[Affine, ...], width: int, height: int, limit: float) -> Margins:
    """The margin, per side, that the frames' views reach beyond the view plane's frame,
    capped at `limit` of the frame's width or height."""
    left = top = 0.0
    right, bottom = float(width), float(height)
    corners = ((0.0, 0.0), (width, 0.0), (0.0, height), (width, height))
    for transform in camera:
        back = transform.inverse()
        for x, y in corners:
            u, v = back.apply(x, y)
            left, right = min(left, u), max(right, u)
            top, bottom = min(top, v), max(bottom, v)

    def side(reach: float, size: int) -> int:
        return min(math.ceil(reach - 1e-6), math.floor(limit * size))

    return Margins(
        side(-left, width),
        side(-top, height),
        side(right - width, width),
        side(bottom - height, height),
    )


def compose_prompt(prompt: str, style: str, motion: MotionVector) -> str:
    """The model's prompt: the user's words, the style as words, the background pans as camera
    language (the rest of the camera is a warp, so it is not described)."""
    parts = [prompt.strip().rstrip(".")]
    key = style.strip().lower()
    if key in STYLE_WORDS:
        parts.append(STYLE_WORDS[key])
    elif key and key != "none":
        parts.append(f"{style.strip()} style")
    for speed, way in ((motion.bg_x_pan, ("right", "left")), (motion.bg_y_pan, ("up", "down"))):
        if speed:
            pace = "slowly " if abs(speed) < 3 else "quickly " if abs(speed) >= 7 else ""
            parts.append(f"the camera {pace}orbits {way[speed < 0]} around the subject")
    return ". ".join(parts) + "."
