"""Each speed setting on the tiny pipelines, in process: the entry loads and renders a valid
clip; an attention backend or a compiled transformer gives the plain pipeline's frames; a cache
really skips transformer work; VAE tiling really decodes in tiles; a cancel stops a run between
steps and the next task renders exactly what a fresh engine would. Compiling on the CPU takes
tens of seconds, once per compiled engine."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from reelgate.core.tasks import GenerationSpec
from reelgate.engines.base import Frame
from reelgate.engines.diffusers.capabilities import CPU_BACKENDS
from reelgate.engines.diffusers.config import DiffusersConfig
from reelgate.engines.diffusers.engine import DiffusersEngine
from reelgate.engines.diffusers.quality import compare
from reelgate.engines.models_file import load_models_file
from reelgate.errors import TaskInterrupted
from tests.integration.diffusers.conftest import STEPS, entry

pytestmark = pytest.mark.slow

WAN2 = {"path": '"wan2"'}  # two transformer blocks: the first-block cache needs a tail to skip
TILED = {"width": "320", "height": "48"}  # wider than the VAE's 256-pixel tile
SETTINGS: dict[str, dict[str, str]] = {
    **{f"attention-{b}": {"attention": f'"{b}"'} for b in sorted(CPU_BACKENDS)},
    "first_block": {**WAN2, "cache": '"first_block"', "cache_threshold": "0.2"},
    "taylorseer": {"cache": '"taylorseer"', "cache_interval": "2"},
    "vae_tiling": {**TILED, "vae_tiling": "true"},
    "compile": {"compile": "true"},
    "best": {**WAN2, "compile": "true", "cache": '"first_block"', "attention": '"_native_flash"'},
}
PLAIN = {"plain": {}, "plain-wan2": WAN2, "plain-tiled": TILED}
# flex without torch.compile runs an unfused kernel and says so; correct, only slow.
FLEX_WARNING = "ignore:flex_attention called without torch.compile:UserWarning"
# torch's compiler imports a module that uses the deprecated torch.jit.script_method.
COMPILE_WARNING = "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"


class _Ctx:
    reference = None

    def __init__(self, stop_at: int | None = None) -> None:
        self.reports: list[float] = []
        self._stop_at = stop_at

    def report(self, fraction: float) -> None:
        if self._stop_at is not None and len(self.reports) >= self._stop_at:
            raise TaskInterrupted("cancelled")
        self.reports.append(fraction)


@pytest.fixture(scope="module")
def engine(tiny_models: Path) -> Iterator[Callable[[str], DiffusersEngine]]:
    """Engines by setting name, each built on first use and kept for the module."""
    path = tiny_models / "speed.toml"
    path.write_text(
        "".join(entry(name, "wan", STEPS, **keys) for name, keys in {**PLAIN, **SETTINGS}.items())
    )
    configs = {e.name: e.config for e in load_models_file(path)}
    built: dict[str, DiffusersEngine] = {}

    def get(name: str) -> DiffusersEngine:
        if name not in built:
            config = configs[name]
            assert isinstance(config, DiffusersConfig)
            built[name] = DiffusersEngine(config)
        return built[name]

    yield get
    built.clear()


def _spec(name: str, seed: int = 5) -> GenerationSpec:
    """A 5-second clip at the native 32x32 (the compile warm-up's shape); 1 s at 320x48 for
    the entries of that size, whose frames are fifteen times larger."""
    width, height, seconds = (320, 48, 1) if name in ("vae_tiling", "plain-tiled") else (32, 32, 5)
    return GenerationSpec(
        prompt="a red fox walking in a snowy forest",
        model="tiny",
        width=width,
        height=height,
        seconds=seconds,
        seed=seed,
    )


def _render(engine: DiffusersEngine, spec: GenerationSpec) -> np.ndarray:
    frames: list[Frame] = list(engine.generate(spec, _Ctx()))
    assert len(frames) == spec.frames
    assert {f.shape for f in frames} == {(spec.height, spec.width, 3)}
    assert {f.dtype for f in frames} == {np.dtype(np.uint8)}
    return np.stack(frames)


def _runs(engine: DiffusersEngine, module: Callable[[Any], Any], spec: GenerationSpec) -> int:
    """How many times `module` of the engine's pipeline ran while rendering `spec`."""
    runs = 0

    def count(*_: Any) -> None:
        nonlocal runs
        runs += 1

    assert engine.pipelines.text is not None
    hook = module(engine.pipelines.text.pipe).register_forward_hook(count)
    try:
        _render(engine, spec)
    finally:
        hook.remove()
    return runs


def _params(*names: str) -> list[Any]:
    marks = {
        "attention-flex": [pytest.mark.filterwarnings(FLEX_WARNING)],
        "compile": [pytest.mark.filterwarnings(COMPILE_WARNING)],
        "best": [pytest.mark.filterwarnings(COMPILE_WARNING)],
    }
    return [pytest.param(name, marks=marks.get(name, ())) for name in names]


@pytest.mark.filterwarnings(COMPILE_WARNING)
def test_compile_is_paid_at_load_and_gives_the_plain_frames(
    engine: Callable[[str], DiffusersEngine],
) -> None:
    import torch._dynamo.utils

    compiled = engine("compile")  # the first test to build it: no other engine compiled yet
    assert compiled.load_seconds is not None
    assert compiled.load_seconds > 0
    assert compiled.compile_seconds is not None
    assert compiled.compile_seconds > 0
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    frames = _render(compiled, _spec("compile"))
    # The warm-up compiled this clip's shape: the first task compiled nothing more.
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs
    fidelity = compare(_render(engine("plain"), _spec("compile")), frames)
    assert fidelity.psnr_db > 45, fidelity
    assert fidelity.max_abs_diff <= 2


@pytest.mark.parametrize("name", _params(*SETTINGS))
def test_each_setting_renders_a_valid_clip_and_a_cancel_leaves_the_next_task_as_fresh(
    engine: Callable[[str], DiffusersEngine], name: str
) -> None:
    tuned = engine(name)
    spec = _spec(name)
    first = _render(tuned, spec)
    ctx = _Ctx(stop_at=3)  # the report as the run starts, steps 1 and 2; cancelled at step 3
    with pytest.raises(TaskInterrupted) as stopped:
        list(tuned.generate(spec, ctx))
    assert stopped.value.reason == "cancelled"
    assert ctx.reports == [0.0, pytest.approx(0.8 / STEPS), pytest.approx(1.6 / STEPS)]
    # A step cache's state from the stopped run would change these frames.
    assert np.array_equal(_render(tuned, spec), first)


@pytest.mark.parametrize("name", _params(*(n for n in SETTINGS if n.startswith("attention"))))
def test_an_attention_backend_gives_the_plain_frames(
    engine: Callable[[str], DiffusersEngine], name: str
) -> None:
    plain = _render(engine("plain"), _spec(name))
    fidelity = compare(plain, _render(engine(name), _spec(name)))
    assert fidelity.psnr_db > 45, fidelity  # float rounding apart, the same clip
    assert fidelity.max_abs_diff <= 2


@pytest.mark.parametrize(("name", "base"), [("first_block", "plain-wan2"), ("taylorseer", "plain")])
def test_a_cache_skips_transformer_blocks(
    engine: Callable[[str], DiffusersEngine], name: str, base: str
) -> None:
    def last_block(pipe: Any) -> Any:
        return pipe.transformer.blocks[-1].ffn

    spec = _spec(name)
    plain = _runs(engine(base), last_block, spec)
    assert plain == 2 * STEPS  # every step runs the block for both halves of the guidance
    assert _runs(engine(name), last_block, spec) < plain


def test_vae_tiling_decodes_in_tiles(engine: Callable[[str], DiffusersEngine]) -> None:
    def decoder(pipe: Any) -> Any:
        return pipe.vae.decoder

    spec = _spec("vae_tiling")
    assert _runs(engine("vae_tiling"), decoder, spec) > _runs(engine("plain-tiled"), decoder, spec)


def test_the_engine_logs_and_keeps_its_load_time(
    tiny_models: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tiny_models / "plain.toml"
    path.write_text(entry("plain", "wan"))
    [model] = load_models_file(path)
    with caplog.at_level(logging.INFO, logger="reelgate.engines.diffusers.engine"):
        assert isinstance(model.config, DiffusersConfig)
        plain = DiffusersEngine(model.config)
    assert plain.load_seconds is not None
    assert plain.load_seconds > 0
    assert plain.compile_seconds is None
    [line] = [r.getMessage() for r in caplog.records if "ready on" in r.getMessage()]
    assert line.startswith(f"model {tiny_models / 'wan'} (wan) ready on cpu: load ")
    assert line.endswith(" s, compile warm-up -")
