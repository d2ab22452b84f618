"""The model registry file, `REELGATE_MODELS_FILE`: which engine serves each public model name.

    [models.gen4_turbo]
    engine = "diffusers"                          # or "synthetic"
    family = "wan"                                # wan | ltx | cogvideox
    path = "/models/Wan2.1-T2V-1.3B-Diffusers"    # a save_pretrained directory

    [models."gen4.5"]                             # a name with a dot is quoted
    engine = "synthetic"

docs/models.md lists every key. The whole file is checked when a process starts, so a bad entry
stops `reelgate serve` with a message that names the file, the entry and the problem instead of
failing tasks later: unknown or mistyped keys, values out of range, a weights directory that is
missing, was not written by `save_pretrained` or holds another family, a `diffusers` entry on an
install without torch, diffusers and transformers, and a speed setting (attention, cache,
compile, offload, vae_tiling) that the installed versions or the entry's device cannot honour
(engines/diffusers/capabilities.py). Weights are not loaded here: a worker loads them when its
first task for the model arrives, and keeps them.
"""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from reelgate.engines.diffusers.capabilities import check_speed_settings
from reelgate.engines.diffusers.config import (
    EXTRA_HINT,
    IMAGE_PIPELINES,
    REQUIRED_MODULES,
    TEXT_PIPELINES,
    DiffusersConfig,
)
from reelgate.engines.upstream.config import UpstreamConfig
from reelgate.errors import ModelsFileError

DEFAULT_MODELS = ("gen4", "gen4_turbo", "gen4.5", "gen3", "gen2", "sora-2", "sora-2-pro")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")


class SyntheticConfig(BaseModel):
    """An `engine = "synthetic"` entry: the procedural previz engine, no settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["synthetic"] = "synthetic"

    def summary(self) -> str:
        """One line for `reelgate models`."""
        return "procedural previz on the CPU"


EngineConfig = SyntheticConfig | DiffusersConfig | UpstreamConfig


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One public model name and the engine settings behind it."""

    name: str
    config: EngineConfig

    @property
    def engine(self) -> str:
        return self.config.engine


def module_installed(name: str) -> bool:
    """Whether `name` can be imported, found without importing it (torch takes seconds)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def default_entries() -> tuple[ModelEntry, ...]:
    """The registry without a file: every model name of the contract on the synthetic engine."""
    return tuple(ModelEntry(name, SyntheticConfig()) for name in DEFAULT_MODELS)


def load_models_file(
    path: Path, *, installed: Callable[[str], bool] = module_installed
) -> tuple[ModelEntry, ...]:
    """Read and check the registry at `path`; relative weight paths are taken from its folder.

    `installed` says whether a module can be imported (tests pass a stand-in for a machine
    without the `diffusers` extra). Raises ModelsFileError on the first problem.
    """
    where = f"REELGATE_MODELS_FILE {path}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelsFileError(f"{where}: cannot be read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelsFileError(f"{where}: not valid TOML: {exc}") from exc
    try:
        return parse_models(data, path.resolve().parent, installed)
    except ValueError as exc:
        raise ModelsFileError(f"{where}: {exc}") from exc


def parse_models(
    data: dict[str, Any], base_dir: Path, installed: Callable[[str], bool] = module_installed
) -> tuple[ModelEntry, ...]:
    """Check a parsed registry; ValueError names the first bad entry and what is wrong."""
    extra = sorted(set(data) - {"models"})
    if extra:
        raise ValueError(
            f"unknown top-level key(s) {', '.join(extra)}; entries go in [models.NAME]"
        )
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise ValueError("no models: add at least one [models.NAME] table")
    entries = []
    for name, table in models.items():
        if not _NAME.match(name):
            raise ValueError(
                f"[models.{name}]: a model name is 1-64 letters, digits and . _ : / - "
                "and starts with a letter or digit"
            )
        if not isinstance(table, dict):
            raise ValueError(f"[models.{name}]: must be a table of settings")
        try:
            entries.append(ModelEntry(name, _config(table, base_dir, installed)))
        except ValueError as exc:
            raise ValueError(f"[models.{name}] {exc}") from exc
    return tuple(entries)


def _config(
    table: dict[str, Any], base_dir: Path, installed: Callable[[str], bool]
) -> EngineConfig:
    engine = table.get("engine")
    try:
        if engine == "synthetic":
            return SyntheticConfig.model_validate(table)
        if engine == "upstream":
            return UpstreamConfig.model_validate(table)
        if engine != "diffusers":
            raise ValueError('engine: must be "synthetic", "diffusers" or "upstream"')
        config = DiffusersConfig.model_validate(table)
    except ValidationError as exc:
        raise ValueError(_first_error(exc)) from None
    missing = [m for m in REQUIRED_MODULES if not installed(m)]
    if missing:
        raise ValueError(
            f"engine diffusers needs {', '.join(missing)}, which this install lacks: {EXTRA_HINT}"
        )
    path = _weights(config, "path", base_dir / config.path, image=None)
    image_path = None
    if config.image_path is not None:
        image_path = _weights(config, "image_path", base_dir / config.image_path, image=True)
    config = config.model_copy(update={"path": path, "image_path": image_path})
    check_speed_settings(config)
    return config


def _weights(config: DiffusersConfig, key: str, path: Path, *, image: bool | None) -> Path:
    """Check a `save_pretrained` directory of the entry's family; returns its absolute path.
    `image=True` requires an image-to-video pipeline, None accepts either kind."""
    if not path.is_dir():
        problem = "does not exist" if not path.exists() else "is not a directory"
        raise ValueError(f"{key}: {path} {problem}")
    index = path / "model_index.json"
    try:
        meta = json.loads(index.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(
            f"{key}: {path} has no model_index.json; point it at a Diffusers-format directory "
            "(one written by save_pretrained)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{key}: {index} cannot be read: {exc}") from None
    found = meta.get("_class_name") if isinstance(meta, dict) else None
    family = config.family
    allowed = [IMAGE_PIPELINES[family]] if image else [TEXT_PIPELINES[family]]
    if image is None:
        allowed.append(IMAGE_PIPELINES[family])
    if found not in allowed:
        raise ValueError(
            f"{key}: {path} holds a {found or 'pipeline of no known class'}, "
            f"not {' or '.join(allowed)} (family = {family.value!r})"
        )
    if image is None and found == IMAGE_PIPELINES[family] and config.image_path is not None:
        raise ValueError(f"image_path: set it only when path holds a {TEXT_PIPELINES[family]}")
    for component, spec in meta.items():
        if component.startswith("_") or not isinstance(spec, list):
            continue
        if spec[0] is not None and not (path / component).is_dir():
            raise ValueError(f"{key}: {path} lacks its {component}/ folder (an unfinished copy?)")
    return path.resolve()


# Values an error never repeats: a key pasted where its variable's name belongs, endpoints
# (one may carry credentials; the message names the bad one otherwise), and a whole entry when
# the problem is a combination of keys.
_NOT_ECHOED = ("api_key_env", "endpoints", "entry")


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "entry"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (see docs/models.md for the keys an entry takes)"
    elif error["type"] != "missing" and "input" in error and where not in _NOT_ECHOED:
        message += f" (got {error['input']!r})"
    return f"{where}: {message}"
