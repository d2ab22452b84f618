"""Loading a family's pipelines from `save_pretrained` directories, with the entry's speed
settings, and what each family's pipeline call needs.

An entry serves text-to-video from `path` and image-to-video from `image_path`, or else from the
same weights where the model does both: LTX-Video always, Wan when it is a TI2V model
(`expand_timesteps`, e.g. Wan2.2-TI2V-5B). The image pipeline is then built on the very same
modules, so the weights sit in memory once.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diffusers
import torch

from reelgate.engines.diffusers.capabilities import CACHE_CLASSES, cache_arguments
from reelgate.engines.diffusers.config import Cache, DiffusersConfig, Family, Offload
from reelgate.engines.diffusers.plan import Geometry
from reelgate.errors import ModelLoadError

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True, slots=True)
class Loaded:
    """A pipeline ready to call, and the sizes it accepts."""

    pipe: Any  # a diffusers DiffusionPipeline of the family
    geometry: Geometry


@dataclass(frozen=True, slots=True)
class Pipelines:
    text: Loaded | None  # None when the entry's weights only do image-to-video
    image: Loaded | None  # None when they only do text-to-video


def load(config: DiffusersConfig) -> Pipelines:
    """Load the entry's pipelines onto its device, or raise ModelLoadError saying why not."""
    _check_device(config.device)
    main = _from_dir(config, config.path)
    if type(main).__name__ == config.image_pipeline:
        return Pipelines(text=None, image=prepare(config, main))
    text = prepare(config, main)
    if config.image_path is not None:
        return Pipelines(text=text, image=prepare(config, _from_dir(config, config.image_path)))
    if _same_weights_do_images(config.family, main):
        partner = _sharing(getattr(diffusers, config.image_pipeline), main)
        return Pipelines(text=text, image=Loaded(partner, geometry(config.family, partner)))
    return Pipelines(text=text, image=None)


def geometry(family: Family, pipe: Any) -> Geometry:
    """The spatial multiple and temporal factor of a loaded pipeline."""
    transformer = pipe.transformer
    if family is Family.WAN:
        patch = transformer.config.patch_size[1]
        return Geometry(pipe.vae_scale_factor_spatial * patch, pipe.vae_scale_factor_temporal)
    if family is Family.LTX:
        patch = transformer.config.patch_size
        return Geometry(
            pipe.vae_spatial_compression_ratio * patch, pipe.vae_temporal_compression_ratio
        )
    patch = transformer.config.patch_size
    return Geometry(pipe.vae_scale_factor_spatial * patch, pipe.vae_scale_factor_temporal)


def call_arguments(config: DiffusersConfig) -> dict[str, Any]:
    """The family's own pipeline arguments, then the entry's `call` table."""
    arguments: dict[str, Any] = {}
    if config.family is Family.LTX:
        arguments["frame_rate"] = config.fps
    arguments.update(config.call)
    return arguments


def release_memory(device: str) -> None:
    """Hand the device's cached blocks back to the driver (after a cancel or a failure)."""
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device.startswith("xpu") and hasattr(torch, "xpu") and torch.xpu.is_available():
        torch.xpu.empty_cache()
    elif device == "mps" and torch.backends.mps.is_available():
        torch.mps.empty_cache()


def _check_device(device: str) -> None:
    kind, _, index_text = device.partition(":")
    index = int(index_text or 0)
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ModelLoadError(
                f"device {device}: torch sees no CUDA GPU (is a CUDA build of torch installed?)"
            )
        if index >= torch.cuda.device_count():
            raise ModelLoadError(
                f"device {device}: this machine has {torch.cuda.device_count()} CUDA GPU(s)"
            )
    elif kind == "xpu" and not (hasattr(torch, "xpu") and torch.xpu.is_available()):
        raise ModelLoadError(f"device {device}: torch sees no XPU")
    elif kind == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError("device mps: torch sees no Apple GPU")


def _from_dir(config: DiffusersConfig, path: Path) -> Any:
    index = diffusers.DiffusionPipeline.load_config(str(path))
    pipeline_class = getattr(diffusers, index["_class_name"])
    pipe = pipeline_class.from_pretrained(
        str(path), dtype=DTYPES[config.dtype], local_files_only=True
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _same_weights_do_images(family: Family, pipe: Any) -> bool:
    if family is Family.LTX:
        return True
    return family is Family.WAN and bool(pipe.config.get("expand_timesteps", False))


def _sharing(pipeline_class: Any, pipe: Any) -> Any:
    """A pipeline of `pipeline_class` on `pipe`'s modules. Unlike diffusers' `from_pipe`, this
    never casts them (from_pipe would undo the float32 modules that loading kept)."""
    accepted = inspect.signature(pipeline_class.__init__).parameters
    components = pipe.components
    kwargs = {name: module for name, module in components.items() if name in accepted}
    for name in accepted:
        if name not in kwargs and name in pipe.config and not name.startswith("_"):
            kwargs[name] = pipe.config[name]
    partner = pipeline_class(**kwargs)
    partner.set_progress_bar_config(disable=True)
    return partner


def prepare(config: DiffusersConfig, pipe: Any) -> Loaded:
    """Place a pipeline on the entry's device and apply its speed settings: offload, VAE
    tiling, attention backend, step cache and (regional) torch.compile. Start-up checked that
    the install can honour each (capabilities.py); what fails here is the hardware's part."""
    if config.offload is Offload.MODEL:
        pipe.enable_model_cpu_offload(device=config.device)
    elif config.offload is Offload.SEQUENTIAL:
        pipe.enable_sequential_cpu_offload(device=config.device)
    else:
        pipe.to(config.device)
    if config.vae_tiling:
        pipe.vae.enable_tiling()
    transformer = pipe.transformer
    try:
        if config.attention:
            transformer.set_attention_backend(config.attention)
        if config.cache is not Cache.NONE:
            cache_class = getattr(diffusers, CACHE_CLASSES[config.cache])
            transformer.enable_cache(cache_class(**cache_arguments(config)))
    except Exception as exc:  # diffusers raises anything from a backend or a hook it lacks
        raise ModelLoadError(
            f"attention {config.attention!r} / cache {config.cache.value!r} cannot be applied: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if config.compile:
        # A cache's hooks and offload's weight moves sit inside the blocks and are kept out of
        # the graph on purpose (torch.compiler.disable), so those compile with graph breaks.
        fullgraph = config.cache is Cache.NONE and config.offload is Offload.NONE
        if getattr(transformer, "_repeated_blocks", None):
            # Regional compilation: one graph per block type, compiled in seconds, not minutes.
            transformer.compile_repeated_blocks(fullgraph=fullgraph)
        else:
            transformer.compile(fullgraph=fullgraph)
    return Loaded(pipe, geometry(config.family, pipe))


def synchronize(device: str) -> None:
    """Wait for the device's queued work, so that a clock read afterwards includes it."""
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize(device)
    elif device.startswith("xpu") and hasattr(torch, "xpu") and torch.xpu.is_available():
        torch.xpu.synchronize(device)
    elif device == "mps" and torch.backends.mps.is_available():
        torch.mps.synchronize()
