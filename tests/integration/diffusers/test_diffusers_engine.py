"""The diffusers engine in process, on tiny real pipelines of each family: progress per step,
cancel between steps, seeds, image-to-video and the contract's frame count and size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelgate.core.tasks import GenerationSpec, MotionVector
from reelgate.engines.base import Engine, Frame, Reference
from reelgate.engines.diffusers.engine import DiffusersEngine
from reelgate.engines.models_file import ModelEntry, load_models_file
from reelgate.engines.registry import engine_factories
from reelgate.errors import TaskInterrupted
from tests.integration.diffusers.conftest import FAMILIES, STEPS, entry

pytestmark = pytest.mark.slow


class _Ctx:
    """Records progress; raises TaskInterrupted at report number `stop_at`, like a cancel."""

    def __init__(self, reference: Reference | None = None, stop_at: int | None = None) -> None:
        self.reference = reference
        self.reports: list[float] = []
        self._stop_at = stop_at

    def report(self, fraction: float) -> None:
        if self._stop_at is not None and len(self.reports) >= self._stop_at:
            raise TaskInterrupted("cancelled")
        self.reports.append(fraction)


@pytest.fixture(scope="module")
def engines(models_file: Path) -> dict[str, Engine]:
    factories = engine_factories(load_models_file(models_file))
    built = {family: factories[f"tiny-{family}"]() for family in FAMILIES}
    frame_engines: dict[str, Engine] = {
        family: e for family, e in built.items() if isinstance(e, DiffusersEngine)
    }
    assert frame_engines.keys() == built.keys()
    return frame_engines


def _spec(seconds: int = 1, seed: int = 5, **changes: object) -> GenerationSpec:
    values: dict[str, object] = {
        "prompt": "a red fox walking in a snowy forest",
        "model": "tiny",
        "width": 320,
        "height": 192,
        "seconds": seconds,
        "seed": seed,
        "style": "cinematic",
        "motion": MotionVector(x=2, r=-3),
    }
    values.update(changes)
    return GenerationSpec(**values)  # type: ignore[arg-type]


def _image() -> Frame:
    rng = np.random.default_rng(9)
    return rng.integers(0, 256, (300, 400, 3), np.uint8)


@pytest.mark.parametrize("family", FAMILIES)
def test_progress_rises_per_step_then_through_decode_and_frames(
    engines: dict[str, Engine], family: str
) -> None:
    ctx = _Ctx()
    frames = list(engines[family].generate(_spec(seconds=2), ctx))
    assert len(frames) == 48
    assert {f.shape for f in frames} == {(192, 320, 3)}
    assert ctx.reports == sorted(ctx.reports), "progress went backwards"
    steps = [round(0.8 * (i + 1) / STEPS, 6) for i in range(STEPS)]
    reported = [round(r, 6) for r in ctx.reports]
    assert [r for r in reported if r in steps] == steps  # one report per denoising step
    decode = [r for r in ctx.reports if 0.8 < r <= 0.88]
    assert decode, "no progress during the VAE decode"
    assert len([r for r in ctx.reports if r >= 0.88]) == 48  # one per output frame
    assert max(ctx.reports) < 0.95


@pytest.mark.parametrize("family", FAMILIES)
def test_a_cancel_stops_between_steps_and_the_engine_serves_the_next_task(
    engines: dict[str, Engine], family: str
) -> None:
    ctx = _Ctx(stop_at=2)  # one report as the run starts, one after step 1; cancel at step 2
    with pytest.raises(TaskInterrupted) as stopped:
        list(engines[family].generate(_spec(), ctx))
    assert stopped.value.reason == "cancelled"
    assert ctx.reports == [0.0, pytest.approx(0.8 / STEPS)]
    assert len(list(engines[family].generate(_spec(), _Ctx()))) == 24


@pytest.mark.parametrize("family", FAMILIES)
def test_the_same_seed_repeats_the_frames_and_another_seed_does_not(
    engines: dict[str, Engine], family: str
) -> None:
    engine = engines[family]
    first = np.stack(list(engine.generate(_spec(seed=11), _Ctx())))
    again = np.stack(list(engine.generate(_spec(seed=11), _Ctx())))
    other = np.stack(list(engine.generate(_spec(seed=12), _Ctx())))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("position", ["first", "last"])
def test_image_to_video_starts_from_the_image(
    engines: dict[str, Engine], family: str, position: str
) -> None:
    reference = Reference(_image(), position)
    frames = list(engines[family].generate(_spec(), _Ctx(reference)))
    text = list(engines[family].generate(_spec(), _Ctx()))
    assert len(frames) == 24
    assert {f.shape for f in frames} == {(192, 320, 3)}
    assert not np.array_equal(np.stack(frames), np.stack(text))


def test_text_only_weights_refuse_an_image_and_say_what_to_set(tiny_models: Path) -> None:
    text = entry("t2v", "cogvideox").replace('image_path = "cogvideox_i2v"\n', "")
    engine = _engine(tiny_models, text, "t2v")
    with pytest.raises(ValueError, match="set image_path"):
        list(engine.generate(_spec(), _Ctx(Reference(_image()))))


def test_image_only_weights_need_an_image(tiny_models: Path) -> None:
    text = entry("i2v", "cogvideox").replace('path = "cogvideox"', 'path = "cogvideox_i2v"')
    text = text.replace('image_path = "cogvideox_i2v"\n', "")
    engine = _engine(tiny_models, text, "i2v")
    with pytest.raises(ValueError, match="needs an input image"):
        list(engine.generate(_spec(), _Ctx()))
    assert len(list(engine.generate(_spec(), _Ctx(Reference(_image()))))) == 24


def _engine(folder: Path, text: str, name: str) -> Engine:
    path = folder / f"{name}.toml"
    path.write_text(text)
    entries: tuple[ModelEntry, ...] = load_models_file(path)
    engine = engine_factories(entries)[name]()
    assert isinstance(engine, DiffusersEngine)
    return engine
