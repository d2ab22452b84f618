"""Whether the installed torch and diffusers, and an entry's device, can honour its speed
settings. Checked when the registry is read, without loading weights, so that a setting that
cannot apply stops start-up with its reason instead of being ignored or failing the first task.

    attention   a backend of the installed diffusers; one the device can run (on the CPU the four
                measured to run there; kernels written for NVIDIA/AMD GPUs only on `cuda`; the
                NPU and XLA backends on no device reelgate offers); its package installed
                (diffusers' own requirement check: flash-attn, sageattention, xformers...); and,
                for a kernel that only takes half precision, a dtype other than float32 on a GPU
    cache       the cache's config class in the installed diffusers, taking the arguments
                reelgate passes; a transformer class of the weights that takes a cache; for
                first_block, at least two transformer blocks (a head that decides, a tail to skip)
    compile     torch.compile supported on this Python, and the device's code generator
                installed: a C++ compiler for `cpu`, Triton for `cuda` and `xpu`
    offload     accelerate installed
    vae_tiling  a VAE class of the weights that decodes in tiles

What is checked is the software and the kind of device an entry names, never the hardware: a
process that only serves the API reads the same registry on a machine without the GPU. A GPU too
old for a kernel is found when the worker loads the weights (ModelLoadError).

torch and diffusers take seconds to import, so they are imported only for an entry that asks for
a speed setting. `Stack` is the seam: tests hand in a stand-in for an install that lacks
something.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import inspect
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from reelgate.engines.diffusers.config import Cache, DiffusersConfig, Offload

# Measured with torch 2.13 on the CPU (tiny Wan, float32): these four run there; the others
# stop with "No viable backend" (cudnn, efficient) or need a GPU package.
CPU_BACKENDS = frozenset({"native", "_native_math", "_native_flash", "flex"})
# Kernels built for NVIDIA (and AMD) GPUs, which torch calls `cuda` devices.
_GPU_KERNEL_PREFIXES = ("flash", "_flash", "sage", "_sage", "xformers", "aiter")
GPU_ONLY_BACKENDS = frozenset({"_native_cudnn"})
# Backends of accelerators that the `device` key does not offer.
FOREIGN_BACKENDS = {"_native_npu": "an Ascend NPU", "_native_xla": "an XLA device (TPU)"}

# The diffusers config class of each cache (its arguments: `cache_arguments`).
CACHE_CLASSES = {
    Cache.FIRST_BLOCK: "FirstBlockCacheConfig",
    Cache.TAYLORSEER: "TaylorSeerCacheConfig",
}


def cache_arguments(config: DiffusersConfig) -> dict[str, Any]:
    """The keyword arguments of the entry's cache config class.

    TaylorSeer runs in its lite mode: by default it hooks modules named like `blocks.N.attn`,
    which matches none of Wan's, LTX's or CogVideoX's attention modules (`attn1`, `attn2`), so
    it would change nothing. Lite mode predicts the transformer's output projection and skips
    every block on the steps between two full ones, which works on all three families."""
    if config.cache is Cache.FIRST_BLOCK:
        return {"threshold": float(config.cache_threshold)}
    if config.cache is Cache.TAYLORSEER:
        return {"cache_interval": config.cache_interval, "use_lite_mode": True}
    return {}


def device_kind(device: str) -> str:
    """`cuda:1` -> `cuda`."""
    return device.partition(":")[0]


def runs_on(backend: str, kind: str) -> bool:
    """Whether an attention backend can run on a device kind (cpu, cuda, mps, xpu)."""
    if backend in FOREIGN_BACKENDS:
        return False
    if kind == "cpu":
        return backend in CPU_BACKENDS
    if kind == "cuda":
        return True
    return not (backend.startswith(_GPU_KERNEL_PREFIXES) or backend in GPU_ONLY_BACKENDS)


class Stack(Protocol):
    """What the checks ask of the installed torch, diffusers and friends."""

    def diffusers_version(self) -> str: ...

    def attention_backends(self) -> frozenset[str]:
        """Every backend name the installed diffusers knows."""

    def half_precision_backends(self) -> frozenset[str]:
        """Backends whose kernels take bfloat16 or float16 only."""

    def attention_missing(self, backend: str) -> str | None:
        """What the backend needs and this install lacks, or None."""

    def diffusers_class(self, name: str) -> type | None:
        """`diffusers.<name>` if the installed diffusers has it."""

    def takes_cache(self, model_class: type) -> bool:
        """Whether a diffusers model class can hold a step cache."""

    def compile_problem(self, kind: str) -> str | None:
        """Why torch.compile cannot run for a device kind here, or None."""

    def installed(self, module: str) -> bool: ...


def check_speed_settings(config: DiffusersConfig, stack: Stack | None = None) -> None:
    """Raise ValueError("<key>: <problem>") for the first speed setting of the entry that the
    installed software or its device cannot honour. `config.path` (and `image_path`) must be
    checked weights directories already. An entry without speed settings imports nothing."""
    wanted = (
        config.attention
        or config.cache is not Cache.NONE
        or config.compile
        or config.offload is not Offload.NONE
        or config.vae_tiling
    )
    if not wanted:
        return
    stack = stack or installed_stack()
    weights = [config.path] + ([config.image_path] if config.image_path is not None else [])
    if config.attention:
        _check_attention(config, stack)
    if config.cache is not Cache.NONE:
        _check_cache(config, weights, stack)
    if config.compile:
        problem = stack.compile_problem(device_kind(config.device))
        if problem:
            raise ValueError(f"compile: {problem}")
    if config.offload is not Offload.NONE and not stack.installed("accelerate"):
        raise ValueError(
            "offload: needs accelerate, which this install lacks: pip install 'reelgate[diffusers]'"
        )
    if config.vae_tiling:
        for path in weights:
            vae = _component_class(path, "vae", stack)
            if vae is not None and not hasattr(vae, "enable_tiling"):
                raise ValueError(f"vae_tiling: {vae.__name__} of {path} cannot decode in tiles")


def _check_attention(config: DiffusersConfig, stack: Stack) -> None:
    backend, kind = config.attention, device_kind(config.device)
    known = stack.attention_backends()
    usable = sorted(b for b in known if runs_on(b, kind) and not b.endswith("_hub"))
    if backend not in known:
        raise ValueError(
            f"attention: {backend!r} is not a backend of diffusers {stack.diffusers_version()}; "
            f"on {kind}: {', '.join(usable)}"
        )
    if backend in FOREIGN_BACKENDS:
        raise ValueError(
            f"attention: {backend!r} needs {FOREIGN_BACKENDS[backend]}, which the device key "
            "does not offer"
        )
    if not runs_on(backend, kind):
        raise ValueError(
            f"attention: {backend!r} needs a CUDA GPU (device = {config.device!r}); "
            f"on {kind}: {', '.join(usable)}"
        )
    missing = stack.attention_missing(backend)
    if missing:
        raise ValueError(f"attention: {backend!r} cannot run on this install: {missing}")
    if kind != "cpu" and config.dtype == "float32" and backend in stack.half_precision_backends():
        raise ValueError(
            f"attention: {backend!r} takes bfloat16 or float16 only, but dtype = 'float32'"
        )


def _check_cache(config: DiffusersConfig, weights: Sequence[Path], stack: Stack) -> None:
    name, version = config.cache.value, stack.diffusers_version()
    class_name = CACHE_CLASSES[config.cache]
    cache_class = stack.diffusers_class(class_name)
    if cache_class is None:
        raise ValueError(
            f"cache: {name} needs diffusers' {class_name}, which diffusers {version} lacks; "
            "upgrade diffusers"
        )
    accepted = inspect.signature(cache_class).parameters
    unknown = sorted(set(cache_arguments(config)) - set(accepted))
    if unknown:
        raise ValueError(
            f"cache: {class_name} of diffusers {version} takes no {', '.join(unknown)}; "
            "upgrade diffusers"
        )
    for path in weights:
        transformer = _component_class(path, "transformer", stack)
        if transformer is not None and not stack.takes_cache(transformer):
            raise ValueError(
                f"cache: {transformer.__name__} of {path} takes no step cache in diffusers "
                f"{version}"
            )
        blocks = _component_config(path, "transformer").get("num_layers")
        if config.cache is Cache.FIRST_BLOCK and isinstance(blocks, int) and blocks < 2:
            raise ValueError(
                f"cache: first_block needs a transformer of at least 2 blocks (the first decides "
                f"whether the rest run); {path} has {blocks}"
            )


def _component_class(path: Path, component: str, stack: Stack) -> type | None:
    """The diffusers class that `model_index.json` names for a component, if it is one."""
    index = _read_json(path / "model_index.json")
    spec = index.get(component)
    if isinstance(spec, list) and len(spec) == 2 and spec[0] == "diffusers":
        return stack.diffusers_class(str(spec[1]))
    return None


def _component_config(path: Path, component: str) -> dict[str, Any]:
    return _read_json(path / component / "config.json")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@functools.cache
def installed_stack() -> Stack:
    """The installed software, asked once per process."""
    return _Installed()


class _Installed:
    """The real install: diffusers' backend registry, torch.compile's own support checks."""

    @functools.cached_property
    def _dispatch(self) -> Any:
        import diffusers.models.attention_dispatch as dispatch

        return dispatch

    def diffusers_version(self) -> str:
        return importlib.metadata.version("diffusers")

    def attention_backends(self) -> frozenset[str]:
        return frozenset(str(b.value) for b in self._dispatch.AttentionBackendName)

    def half_precision_backends(self) -> frozenset[str]:
        registry = self._dispatch._AttentionBackendRegistry
        checks: dict[Any, list[Any]] = getattr(registry, "_constraints", {})
        return frozenset(
            str(backend.value)
            for backend, constraints in checks.items()
            if any("bf16_or_fp16" in getattr(c, "__name__", "") for c in constraints)
        )

    def attention_missing(self, backend: str) -> str | None:
        check = getattr(self._dispatch, "_check_attention_backend_requirements", None)
        if check is None:  # another diffusers: set_attention_backend checks at load instead
            return None
        try:
            check(self._dispatch.AttentionBackendName(backend))
        except RuntimeError as exc:
            return str(exc)
        return None

    def diffusers_class(self, name: str) -> type | None:
        import diffusers

        found = getattr(diffusers, name, None)
        return found if isinstance(found, type) else None

    def takes_cache(self, model_class: type) -> bool:
        from diffusers.models.cache_utils import CacheMixin

        return issubclass(model_class, CacheMixin)

    def compile_problem(self, kind: str) -> str | None:
        import torch
        from torch._dynamo.eval_frame import is_dynamo_supported

        if not is_dynamo_supported():
            python = ".".join(map(str, sys.version_info[:3]))
            return f"torch {torch.__version__} cannot compile on Python {python}"
        if kind == "cpu" and not _cpp_compiler():
            return "torch.compile on the CPU needs a C++ compiler (g++ or clang++, or set CXX)"
        if kind in ("cuda", "xpu") and importlib.util.find_spec("triton") is None:
            return f"torch.compile on {kind} needs Triton, which this install lacks"
        return None

    def installed(self, module: str) -> bool:
        return importlib.util.find_spec(module) is not None


def _cpp_compiler() -> bool:
    """Whether inductor finds its C++ compiler (its own search: CXX, then g++)."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler
    except ImportError:  # moved in another torch: look for the usual names
        return any(shutil.which(name) for name in ("g++", "clang++", "c++"))
    try:
        get_cpp_compiler()
    except Exception:  # torch raises its own InvalidCxxCompiler
        return False
    return True
