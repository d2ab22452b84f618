"""Speed settings against what an install offers: a stand-in install that lacks one thing at a
time, so each refusal is seen whatever this machine has installed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reelgate.engines.diffusers.capabilities import check_speed_settings, runs_on
from reelgate.engines.diffusers.config import DiffusersConfig


@dataclass
class FirstBlockCacheConfig:
    threshold: float = 0.05


@dataclass
class TaylorSeerCacheConfig:
    cache_interval: int = 5
    use_lite_mode: bool = False


@dataclass
class OldTaylorSeerCacheConfig:  # before lite mode
    cache_interval: int = 5


class Transformer:
    pass


class Vae:
    def enable_tiling(self) -> None:
        pass


class PlainVae:
    pass


@dataclass
class FakeStack:
    """An install that has everything reelgate uses, unless told otherwise."""

    classes: dict[str, type] = field(
        default_factory=lambda: {
            "FirstBlockCacheConfig": FirstBlockCacheConfig,
            "TaylorSeerCacheConfig": TaylorSeerCacheConfig,
            "Transformer": Transformer,
            "Vae": Vae,
        }
    )
    backends: frozenset[str] = frozenset({"native", "_native_math", "flash", "sage", "xformers"})
    missing: dict[str, str] = field(default_factory=dict)
    cacheable: bool = True
    compile_says: str | None = None
    modules: frozenset[str] = frozenset({"accelerate"})

    def diffusers_version(self) -> str:
        return "0.99.0"

    def attention_backends(self) -> frozenset[str]:
        return self.backends

    def half_precision_backends(self) -> frozenset[str]:
        return frozenset({"flash", "sage"})

    def attention_missing(self, backend: str) -> str | None:
        return self.missing.get(backend)

    def diffusers_class(self, name: str) -> type | None:
        return self.classes.get(name)

    def takes_cache(self, model_class: type) -> bool:
        return self.cacheable

    def compile_problem(self, kind: str) -> str | None:
        return self.compile_says

    def installed(self, module: str) -> bool:
        return module in self.modules


class NothingAsked:
    """An install that must not be consulted: reading it would import torch."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"asked {name} for an entry without speed settings")


def _config(tmp_path: Path, **keys: Any) -> DiffusersConfig:
    folder = tmp_path / "wan"
    (folder / "transformer").mkdir(parents=True, exist_ok=True)
    index = {
        "_class_name": "WanPipeline",
        "transformer": ["diffusers", "Transformer"],
        "vae": ["diffusers", "Vae"],
    }
    (folder / "model_index.json").write_text(json.dumps(index))
    (folder / "transformer" / "config.json").write_text(json.dumps({"num_layers": 2}))
    values: dict[str, Any] = {"family": "wan", "path": folder, "device": "cuda"}
    values.update(keys)
    return DiffusersConfig.model_validate(values)


def test_an_entry_without_speed_settings_asks_the_install_nothing(tmp_path: Path) -> None:
    check_speed_settings(_config(tmp_path), NothingAsked())


def test_settings_the_install_offers_pass(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        attention="flash",
        cache="taylorseer",
        cache_interval=3,
        compile=True,
        offload="model",
        vae_tiling=True,
    )
    check_speed_settings(config, FakeStack())


@pytest.mark.parametrize(
    ("keys", "install", "problem"),
    [
        (
            {"attention": "flash"},
            FakeStack(missing={"flash": "Please install `flash-attn>=2.6.3`."}),
            "attention: 'flash' cannot run on this install: Please install `flash-attn>=2.6.3`.",
        ),
        (
            {"attention": "flash", "dtype": "float32"},
            FakeStack(),
            "attention: 'flash' takes bfloat16 or float16 only, but dtype = 'float32'",
        ),
        (
            {"attention": "flex"},
            FakeStack(),
            "attention: 'flex' is not a backend of diffusers 0.99.0; on cuda: _native_math, "
            "flash, native, sage, xformers",
        ),
        (
            {"cache": "first_block"},
            FakeStack(classes={"Transformer": Transformer}),
            "cache: first_block needs diffusers' FirstBlockCacheConfig, which diffusers 0.99.0 "
            "lacks; upgrade diffusers",
        ),
        (
            {"cache": "taylorseer"},
            FakeStack(classes={"TaylorSeerCacheConfig": OldTaylorSeerCacheConfig}),
            "cache: TaylorSeerCacheConfig of diffusers 0.99.0 takes no use_lite_mode; "
            "upgrade diffusers",
        ),
        (
            {"cache": "first_block"},
            FakeStack(cacheable=False),
            "cache: Transformer of {path} takes no step cache in diffusers 0.99.0",
        ),
        (
            {"compile": True},
            FakeStack(compile_says="torch.compile on cuda needs Triton, which this install lacks"),
            "compile: torch.compile on cuda needs Triton, which this install lacks",
        ),
        (
            {"offload": "sequential"},
            FakeStack(modules=frozenset()),
            "offload: needs accelerate, which this install lacks: "
            "pip install 'reelgate[diffusers]'",
        ),
        (
            {"vae_tiling": True},
            FakeStack(classes={"Vae": PlainVae}),
            "vae_tiling: PlainVae of {path} cannot decode in tiles",
        ),
    ],
)
def test_a_setting_the_install_cannot_honour_is_refused_with_its_reason(
    tmp_path: Path, keys: dict[str, Any], install: FakeStack, problem: str
) -> None:
    config = _config(tmp_path, **keys)
    with pytest.raises(ValueError, match=f"^{re.escape(problem.format(path=config.path))}$"):
        check_speed_settings(config, install)


def test_the_image_weights_are_checked_too(tmp_path: Path) -> None:
    image = tmp_path / "i2v"
    (image / "transformer").mkdir(parents=True)
    (image / "model_index.json").write_text(json.dumps({"_class_name": "WanImageToVideoPipeline"}))
    (image / "transformer" / "config.json").write_text(json.dumps({"num_layers": 1}))
    config = _config(tmp_path, cache="first_block", image_path=image)
    with pytest.raises(ValueError, match=f"at least 2 blocks .*; {image} has 1"):
        check_speed_settings(config, FakeStack())


@pytest.mark.parametrize(
    ("backend", "cpu", "cuda", "mps"),
    [
        ("native", True, True, True),
        ("_native_math", True, True, True),
        ("_native_flash", True, True, True),
        ("flex", True, True, True),
        ("_native_efficient", False, True, True),
        ("_native_cudnn", False, True, False),
        ("flash", False, True, False),
        ("_flash_3", False, True, False),
        ("sage", False, True, False),
        ("xformers", False, True, False),
        ("_native_npu", False, False, False),
        ("_native_xla", False, False, False),
    ],
)
def test_which_device_runs_which_backend(backend: str, cpu: bool, cuda: bool, mps: bool) -> None:
    assert (runs_on(backend, "cpu"), runs_on(backend, "cuda"), runs_on(backend, "mps")) == (
        cpu,
        cuda,
        mps,
    )
