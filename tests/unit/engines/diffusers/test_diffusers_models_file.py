"""The registry file: what an operator writes, and how a bad entry is reported at start-up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reelgate.engines.diffusers.config import DiffusersConfig, Family
from reelgate.engines.models_file import (
    DEFAULT_MODELS,
    SyntheticConfig,
    default_entries,
    load_models_file,
)
from reelgate.engines.registry import ModelRegistry, engine_factories
from reelgate.errors import ModelsFileError, SettingsError

ISSUE_ENTRY = """
[models.gen4_turbo]
engine = "diffusers"
family = "wan"
path = "wan"
device = "cuda:0"
dtype = "bfloat16"
steps = 30
guidance = 5.0
width = 832
height = 480
fps = 16
"""

CLASSES = {"wan": "WanPipeline", "ltx": "LTXPipeline", "cogvideox": "CogVideoXPipeline"}


def weights(
    folder: Path, pipeline: str, components: tuple[str, ...] = ("transformer", "vae")
) -> Path:
    """A directory shaped like `save_pretrained` output (the checks never read the weights)."""
    folder.mkdir(parents=True)
    index: dict[str, Any] = {"_class_name": pipeline, "_diffusers_version": "0.42.1"}
    for name in components:
        index[name] = ["diffusers", "Module"]
        (folder / name).mkdir()
    index["image_encoder"] = [None, None]
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def load(tmp_path: Path, text: str, installed: bool = True) -> tuple[Any, ...]:
    path = tmp_path / "models.toml"
    path.write_text(text)
    return load_models_file(path, installed=lambda _name: installed)


def entry(**keys: object) -> str:
    """`[models.broken]` with `keys` over a valid Wan entry (a key set to None is left out)."""
    values: dict[str, object] = {"engine": "diffusers", "family": "wan", "path": "wan"}
    values.update(keys)
    lines = [f"{k} = {json.dumps(v)}" for k, v in values.items() if v is not None]
    return "[models.broken]\n" + "\n".join(lines) + "\n"


@pytest.fixture(autouse=True)
def _wan_dir(tmp_path: Path) -> None:
    weights(tmp_path / "wan", "WanPipeline")


def test_the_issues_entry_loads_with_its_path_made_absolute(tmp_path: Path) -> None:
    [model] = load(tmp_path, ISSUE_ENTRY)
    assert model.name == "gen4_turbo"
    config = model.config
    assert isinstance(config, DiffusersConfig)
    assert config.family is Family.WAN
    assert config.path == (tmp_path / "wan").resolve()
    assert (config.device, config.dtype, config.steps, config.guidance) == (
        "cuda:0",
        "bfloat16",
        30,
        5.0,
    )
    assert (config.width, config.height, config.fps) == (832, 480, 16)


@pytest.mark.parametrize("family", ["wan", "ltx", "cogvideox"])
def test_engine_family_and_path_alone_get_the_familys_defaults(tmp_path: Path, family: str) -> None:
    weights(tmp_path / family / "x", CLASSES[family])
    text = f'[models.m]\nengine = "diffusers"\nfamily = "{family}"\npath = "{family}/x"\n'
    [model] = load(tmp_path, text)
    config = model.config
    assert isinstance(config, DiffusersConfig)
    assert config.steps >= 1
    assert config.width * config.height * config.fps > 0
    assert (config.device, config.offload.value, config.cache.value) == ("cuda", "none", "none")
    if family == "cogvideox":
        assert config.max_frames == 49


def test_synthetic_entries_and_quoted_names(tmp_path: Path) -> None:
    models = load(
        tmp_path, '[models."gen4.5"]\nengine = "synthetic"\n[models.sora-2]\nengine = "synthetic"\n'
    )
    assert [m.name for m in models] == ["gen4.5", "sora-2"]
    assert all(isinstance(m.config, SyntheticConfig) for m in models)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (entry(engine="magic"), 'engine: must be "synthetic", "diffusers" or "upstream"'),
        (entry(family="hunyuan"), "family: Input should be 'wan', 'ltx' or 'cogvideox'"),
        (entry(guidence=3.0), "guidence: unknown key"),
        (entry(steps=0), "steps: Input should be greater than or equal to 1"),
        (entry(steps="30"), "steps: Input should be a valid integer"),
        (entry(dtype="float8"), "dtype: Input should be 'float32', 'float16' or 'bfloat16'"),
        (entry(device="gpu0"), "device: must be cpu, cuda, cuda:N"),
        (entry(device="cpu", dtype="float16"), "float16 does not run on the CPU"),
        (entry(device="cpu", offload="model"), "offload needs an accelerator"),
        (entry(attention="flash_hub"), "attention: backends ending in _hub download kernels"),
        (entry(min_frames=50, max_frames=40), "max_frames must be at least min_frames"),
        (entry(cache="magic"), "cache: Input should be 'none', 'first_block' or 'taylorseer'"),
        (entry(path="nowhere"), "path: {tmp}/nowhere does not exist"),
        (entry(path="models.toml"), "path: {tmp}/models.toml is not a directory"),
        (entry(path="."), "path: {tmp} has no model_index.json"),
        (entry(family="ltx"), "path: {tmp}/wan holds a WanPipeline, not LTXPipeline or LTXImage"),
        (entry(path=None), "path: Field required"),
        (entry(image_path="wan"), "image_path: {tmp}/wan holds a WanPipeline, not WanImageToVid"),
        (entry() + "[models.broken.call]\nprompt = 'x'\n", "call: reelgate sets prompt itself"),
    ],
)
def test_a_bad_entry_is_named_with_its_problem(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ModelsFileError) as raised:
        load(tmp_path, text)
    message = str(raised.value)
    assert message.startswith(f"REELGATE_MODELS_FILE {tmp_path / 'models.toml'}: [models.broken] ")
    assert problem.format(tmp=tmp_path.resolve()) in message


def test_a_missing_component_folder_is_an_unfinished_copy(tmp_path: Path) -> None:
    (tmp_path / "wan" / "vae").rmdir()
    with pytest.raises(ModelsFileError, match=r"lacks its vae/ folder"):
        load(tmp_path, entry())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no models: add at least one [models.NAME] table"),
        ("[model.gen4]\nengine = 'synthetic'\n", "unknown top-level key(s) model"),
        ("[models]\ngen4 = 3\n", "[models.gen4]: must be a table of settings"),
        ("[models.'bad name']\nengine = 'synthetic'\n", "[models.bad name]: a model name is"),
        ("[models.gen4\n", "not valid TOML"),
    ],
)
def test_a_bad_file_says_what_is_wrong(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ModelsFileError) as raised:
        load(tmp_path, text)
    assert problem in str(raised.value)


def test_a_missing_file_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ModelsFileError, match="cannot be read"):
        load_models_file(tmp_path / "absent.toml")


def test_without_the_extra_a_diffusers_entry_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ModelsFileError) as raised:
        load(tmp_path, ISSUE_ENTRY, installed=False)
    message = str(raised.value)
    assert "[models.gen4_turbo]" in message
    assert "needs torch, diffusers, transformers" in message
    assert "pip install 'reelgate[diffusers]'" in message
    [synthetic] = load(tmp_path, "[models.gen4]\nengine = 'synthetic'\n", installed=False)
    assert synthetic.engine == "synthetic"


def test_a_models_file_error_is_a_settings_error() -> None:
    assert issubclass(ModelsFileError, SettingsError)


def test_names_with_the_same_settings_share_one_engine(tmp_path: Path) -> None:
    text = ISSUE_ENTRY + ISSUE_ENTRY.replace("gen4_turbo", "gen4") + entry(steps=8)
    text += "[models.gen3]\nengine = 'synthetic'\n[models.gen2]\nengine = 'synthetic'\n"
    factories = engine_factories(load(tmp_path, text))
    assert factories["gen4_turbo"] is factories["gen4"]
    assert factories["broken"] is not factories["gen4"]
    assert factories["gen3"] is factories["gen2"]


def test_the_registry_comes_from_the_settings(tmp_path: Path) -> None:
    assert ModelRegistry.from_file(None).names == DEFAULT_MODELS
    assert [e.name for e in default_entries()] == list(DEFAULT_MODELS)
    path = tmp_path / "models.toml"
    path.write_text(ISSUE_ENTRY + "[models.gen3]\nengine = 'synthetic'\n")
    registry = ModelRegistry.from_file(path)
    assert registry.names == ("gen4_turbo", "gen3")
    assert registry.engine("gen3").name == "synthetic"


def _wan_weights(folder: Path, blocks: int) -> Path:
    """Wan weights as `save_pretrained` lays them out, with `blocks` transformer blocks."""
    weights(folder, "WanPipeline")
    index = json.loads((folder / "model_index.json").read_text())
    index["transformer"] = ["diffusers", "WanTransformer3DModel"]
    index["vae"] = ["diffusers", "AutoencoderKLWan"]
    (folder / "model_index.json").write_text(json.dumps(index))
    (folder / "transformer" / "config.json").write_text(json.dumps({"num_layers": blocks}))
    return folder


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        (
            {"cache_threshold": 0.1},
            'cache_threshold: sets the first_block cache, but cache = "none"',
        ),
        (
            {"cache": "first_block", "cache_interval": 3},
            'cache_interval: sets the taylorseer cache, but cache = "first_block"',
        ),
        ({"attention": "flash9"}, "attention: 'flash9' is not a backend of diffusers"),
        ({"device": "cpu", "attention": "flash"}, "attention: 'flash' needs a CUDA GPU"),
        ({"device": "cpu", "attention": "_native_cudnn"}, "'_native_cudnn' needs a CUDA GPU"),
        ({"device": "mps", "attention": "sage"}, "attention: 'sage' needs a CUDA GPU"),
        ({"attention": "_native_npu"}, "attention: '_native_npu' needs an Ascend NPU"),
        (
            {"dtype": "float32", "attention": "_native_cudnn"},
            "attention: '_native_cudnn' takes bfloat16 or float16 only, but dtype = 'float32'",
        ),
        (
            {"cache": "first_block", "path": "wan1"},
            "cache: first_block needs a transformer of at least 2 blocks",
        ),
    ],
)
def test_a_speed_setting_the_install_or_device_cannot_honour_stops_start_up(
    tmp_path: Path, keys: dict[str, object], problem: str
) -> None:
    _wan_weights(tmp_path / "wan1", blocks=1)
    with pytest.raises(ModelsFileError) as raised:
        load(tmp_path, entry(**keys))
    message = str(raised.value)
    assert message.startswith(f"REELGATE_MODELS_FILE {tmp_path / 'models.toml'}: [models.broken] ")
    assert problem in message


def test_an_unknown_backend_is_answered_with_the_ones_the_device_runs(tmp_path: Path) -> None:
    with pytest.raises(ModelsFileError) as raised:
        load(tmp_path, entry(device="cpu", attention="Native"))
    assert str(raised.value).endswith("on cpu: _native_flash, _native_math, flex, native")


def test_speed_settings_the_install_can_honour_load(tmp_path: Path) -> None:
    _wan_weights(tmp_path / "wan2", blocks=2)
    text = entry(path="wan2", device="cpu", dtype="float32", attention="_native_math")
    text += "cache = 'first_block'\ncache_threshold = 0.1\nvae_tiling = true\n"
    [model] = load(tmp_path, text)
    assert isinstance(model.config, DiffusersConfig)
    assert model.config.speed_settings() == [
        "attention=_native_math",
        "cache=first_block cache_threshold=0.1",
        "vae_tiling=true",
    ]
