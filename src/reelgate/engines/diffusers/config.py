"""What a `diffusers` entry of the model registry says: a pipeline family, its weights, and how
to run them.

This module imports neither torch nor diffusers, so a registry can be checked and listed on a
machine without the `diffusers` extra. Keys an operator leaves out take the family's defaults
(`FAMILY_DEFAULTS`): an entry of `engine`, `family` and `path` alone is a working model.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

EXTRA_HINT = "pip install 'reelgate[diffusers]'"
REQUIRED_MODULES = ("torch", "diffusers", "transformers")


class Family(StrEnum):
    WAN = "wan"
    LTX = "ltx"
    COGVIDEOX = "cogvideox"


# The diffusers pipeline classes a `save_pretrained` directory of each family may hold.
TEXT_PIPELINES: dict[Family, str] = {
    Family.WAN: "WanPipeline",
    Family.LTX: "LTXPipeline",
    Family.COGVIDEOX: "CogVideoXPipeline",
}
IMAGE_PIPELINES: dict[Family, str] = {
    Family.WAN: "WanImageToVideoPipeline",
    Family.LTX: "LTXImageToVideoPipeline",
    Family.COGVIDEOX: "CogVideoXImageToVideoPipeline",
}

# Defaults per family, from each model's own card: Wan2.1-T2V-1.3B, LTX-Video 0.9.x and
# CogVideoX-2b/5b (whose positional embeddings allow at most 49 frames).
FAMILY_DEFAULTS: dict[Family, dict[str, Any]] = {
    Family.WAN: {"width": 832, "height": 480, "fps": 16, "steps": 50, "guidance": 5.0},
    Family.LTX: {"width": 704, "height": 480, "fps": 24, "steps": 50, "guidance": 3.0},
    Family.COGVIDEOX: {
        "width": 720,
        "height": 480,
        "fps": 8,
        "steps": 50,
        "guidance": 6.0,
        "max_frames": 49,
    },
}

# Pipeline arguments reelgate sets itself; the `call` table may not override them.
MANAGED_ARGUMENTS = frozenset(
    {
        "prompt",
        "negative_prompt",
        "image",
        "height",
        "width",
        "num_frames",
        "frame_rate",
        "num_inference_steps",
        "guidance_scale",
        "generator",
        "latents",
        "output_type",
        "return_dict",
        "callback_on_step_end",
        "callback_on_step_end_tensor_inputs",
        "prompt_embeds",
        "negative_prompt_embeds",
        "num_videos_per_prompt",
    }
)

_FAMILY_NAMES = frozenset(f.value for f in Family)
_DEVICE = re.compile(r"^(cpu|mps|(cuda|xpu)(:\d+)?)$")


class Offload(StrEnum):
    NONE = "none"
    MODEL = "model"  # whole components move to the GPU while they run
    SEQUENTIAL = "sequential"  # layer by layer: least memory, slowest


class Cache(StrEnum):
    NONE = "none"
    FIRST_BLOCK = "first_block"  # skip the transformer when its first block barely changes
    TAYLORSEER = "taylorseer"  # predict skipped steps from a Taylor series of past outputs


class Retime(StrEnum):
    BLEND = "blend"  # cross-fade the two nearest native frames
    NEAREST = "nearest"  # repeat the nearest native frame


CallValue = StrictBool | StrictInt | StrictFloat | StrictStr


class DiffusersConfig(BaseModel):
    """One `engine = "diffusers"` entry. `path` and `image_path` are absolute once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["diffusers"] = "diffusers"
    family: Family
    path: Path
    image_path: Path | None = None  # image-to-video weights when `path` only does text
    device: StrictStr = "cuda"
    dtype: Literal["float32", "float16", "bfloat16"] = "bfloat16"
    steps: StrictInt = Field(ge=1, le=1000)
    guidance: StrictFloat | StrictInt = Field(ge=0, le=50)
    width: StrictInt = Field(ge=16, le=4096)  # native landscape size
    height: StrictInt = Field(ge=16, le=4096)
    fps: StrictInt = Field(ge=1, le=120)  # native frame rate
    min_frames: StrictInt = Field(default=1, ge=1, le=1025)
    max_frames: StrictInt | None = Field(default=None, ge=1, le=1025)
    fixed_size: StrictBool = False  # the model only renders at width x height
    margin: StrictFloat | StrictInt = Field(default=0.125, ge=0, le=0.5)
    retime: Retime = Retime.BLEND
    negative_prompt: StrictStr = ""
    offload: Offload = Offload.NONE
    vae_tiling: StrictBool = False
    compile: StrictBool = False
    attention: StrictStr = ""  # a diffusers attention backend, e.g. "flash" or "_native_cudnn"
    cache: Cache = Cache.NONE
    cache_threshold: StrictFloat | StrictInt = Field(default=0.05, gt=0, le=1)
    cache_interval: StrictInt = Field(default=4, ge=1, le=50)
    call: dict[str, CallValue] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _family_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("family") in _FAMILY_NAMES:
            return {**FAMILY_DEFAULTS[Family(data["family"])], **data}
        return data

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not _DEVICE.match(value):
            raise ValueError("must be cpu, cuda, cuda:N, mps, xpu or xpu:N")
        return value

    @field_validator("attention")
    @classmethod
    def _attention(cls, value: str) -> str:
        if value.endswith("_hub"):
            raise ValueError("backends ending in _hub download kernels at run time; not allowed")
        return value

    @field_validator("cache_threshold", "cache_interval")
    @classmethod
    def _cache_setting(cls, value: float, info: ValidationInfo) -> float:
        owner = Cache.FIRST_BLOCK if info.field_name == "cache_threshold" else Cache.TAYLORSEER
        cache = info.data.get("cache", Cache.NONE)
        if cache is not owner:
            raise ValueError(f'sets the {owner.value} cache, but cache = "{cache.value}"')
        return value

    @field_validator("call")
    @classmethod
    def _call(cls, value: dict[str, Any]) -> dict[str, Any]:
        managed = sorted(MANAGED_ARGUMENTS & set(value))
        if managed:
            raise ValueError(f"reelgate sets {', '.join(managed)} itself")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DiffusersConfig:
        if self.max_frames is not None and self.max_frames < self.min_frames:
            raise ValueError("max_frames must be at least min_frames")
        if self.dtype == "float16" and self.device == "cpu":
            raise ValueError("dtype float16 does not run on the CPU; use float32 or bfloat16")
        if self.offload is not Offload.NONE and not self.device.startswith(("cuda", "xpu")):
            raise ValueError("offload needs an accelerator device (cuda or xpu)")
        return self

    @property
    def text_pipeline(self) -> str:
        return TEXT_PIPELINES[self.family]

    @property
    def image_pipeline(self) -> str:
        return IMAGE_PIPELINES[self.family]

    def summary(self) -> str:
        """One line for `reelgate models`: family, device, dtype, steps, the weights and the
        speed settings that are on."""
        parts = [
            f"family={self.family.value}",
            f"device={self.device}",
            f"dtype={self.dtype}",
            f"steps={self.steps}",
            f"native={self.width}x{self.height}@{self.fps}",
            f"path={self.path}",
        ]
        if self.image_path is not None:
            parts.append(f"image_path={self.image_path}")
        return " ".join(parts + self.speed_settings())

    def speed_settings(self) -> list[str]:
        """The speed settings that are on, as `key=value` words (none by default)."""
        words = []
        if self.compile:
            words.append("compile=true")
        if self.attention:
            words.append(f"attention={self.attention}")
        if self.cache is Cache.FIRST_BLOCK:
            words.append(f"cache=first_block cache_threshold={self.cache_threshold}")
        elif self.cache is Cache.TAYLORSEER:
            words.append(f"cache=taylorseer cache_interval={self.cache_interval}")
        if self.vae_tiling:
            words.append("vae_tiling=true")
        if self.offload is not Offload.NONE:
            words.append(f"offload={self.offload.value}")
        return words
