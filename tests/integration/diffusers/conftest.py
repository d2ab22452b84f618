"""Tiny random-weight pipelines of every family saved to disk, and a registry pointing at them.

torch, diffusers and transformers come with the dev extras; without them these tests skip,
except under CI=true, where they fail.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

FAMILIES = ("wan", "ltx", "cogvideox")
STEPS = 6  # denoising steps of the tiny models: enough progress reports to watch
# A run long enough to watch its progress (written at most twice a second) and cancel it,
# even on an idle machine where a tiny model takes a few milliseconds a step.
SLOW_STEPS = 1000  # the registry's maximum
SLOW_FRAMES = 33  # more frames per step than the tiny entries' 8 (frames are 4k+1 or 8k+1)


def _require_extra() -> None:
    missing = [m for m in ("torch", "diffusers", "transformers") if not importlib.util.find_spec(m)]
    if not missing:
        return
    message = f"the diffusers engine's tests need {', '.join(missing)} (pip install -e '.[dev]')"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with `wan/`, `ltx/`, `cogvideox/` and `cogvideox_i2v/` pipeline directories."""
    _require_extra()
    from tests.integration.diffusers.tiny import save_tiny

    root = tmp_path_factory.mktemp("tiny-models")
    for family in FAMILIES:
        save_tiny(family, root / family)
    save_tiny("cogvideox", root / "cogvideox_i2v", image=True)
    return root


def entry(name: str, family: str, steps: int = STEPS, **keys: str) -> str:
    """A registry entry for the tiny model of `family`: 32x32 at 8 fps on the CPU."""
    lines = [
        f"[models.{name}]",
        'engine = "diffusers"',
        f'family = "{family}"',
        f'path = "{family}"',
        'device = "cpu"',
        'dtype = "float32"',
        f"steps = {steps}",
        "guidance = 4.0",
        "width = 32",
        "height = 32",
        "fps = 8",
        *(f"{key} = {value}" for key, value in keys.items()),
    ]
    if family == "cogvideox":
        lines.append('image_path = "cogvideox_i2v"')
    if family == "wan":  # the text encoder reads 32 tokens, not Wan's 512: faster, same code
        lines.append("call = { max_sequence_length = 32 }")
    return "\n".join(lines) + "\n\n"


@pytest.fixture(scope="session")
def models_file(tiny_models: Path) -> Path:
    """`tiny-<family>` (6 steps) and `slow-<family>` (1000 steps of 33 frames) for each family."""
    text = "".join(
        entry(f"tiny-{family}", family)
        + entry(f"slow-{family}", family, SLOW_STEPS, min_frames=str(SLOW_FRAMES))
        for family in FAMILIES
    )
    path = tiny_models / "models.toml"
    path.write_text(text)
    return path
