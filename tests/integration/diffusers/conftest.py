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
# and more pixels than their 32x32: LTX's VAE packs 32x32 pixels into one latent, the others' 8x8
SLOW_SIZE = {"wan": 128, "ltx": 512, "cogvideox": 128}


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
    """A folder with `wan/`, `ltx/`, `cogvideox/` and `cogvideox_i2v/` pipeline directories, and
    `wan2/`: Wan with two transformer blocks, which the first-block cache needs."""
    _require_extra()
    from tests.integration.diffusers.tiny import save_tiny

    root = tmp_path_factory.mktemp("tiny-models")
    for family in FAMILIES:
        save_tiny(family, root / family)
    save_tiny("cogvideox", root / "cogvideox_i2v", image=True)
    save_tiny("wan", root / "wan2", layers=2)
    return root


def entry(name: str, family: str, steps: int = STEPS, **keys: str) -> str:
    """A registry entry for the tiny model of `family`: 32x32 at 8 fps on the CPU; `keys` (TOML
    values) add settings or replace these."""
    values = {
        "engine": '"diffusers"',
        "family": f'"{family}"',
        "path": f'"{family}"',
        "device": '"cpu"',
        "dtype": '"float32"',
        "steps": str(steps),
        "guidance": "4.0",
        "width": "32",
        "height": "32",
        "fps": "8",
    }
    if family == "cogvideox":
        values["image_path"] = '"cogvideox_i2v"'
    if family == "wan":  # the text encoder reads 32 tokens, not Wan's 512: faster, same code
        values["call"] = "{ max_sequence_length = 32 }"
    values.update(keys)
    return f"[models.{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items()) + "\n"


@pytest.fixture(scope="session")
def models_file(tiny_models: Path) -> Path:
    """`tiny-<family>` (6 steps) and `slow-<family>` (1000 steps of 33 frames at SLOW_SIZE) for
    each family, and `tuned-wan`: two-block Wan with the speed settings that need no compiling."""
    text = "".join(
        entry(f"tiny-{family}", family)
        + entry(
            f"slow-{family}",
            family,
            SLOW_STEPS,
            min_frames=str(SLOW_FRAMES),
            width=str(SLOW_SIZE[family]),
            height=str(SLOW_SIZE[family]),
        )
        for family in FAMILIES
    )
    text += entry(
        "tuned-wan",
        "wan",
        path='"wan2"',
        cache='"first_block"',
        attention='"_native_flash"',
        vae_tiling="true",
    )
    path = tiny_models / "models.toml"
    path.write_text(text)
    return path
