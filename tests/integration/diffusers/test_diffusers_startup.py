"""The registry at start-up: a bad entry stops `reelgate serve` with a message naming it; an
install without torch, diffusers and transformers runs everything else and says how to get
them; `reelgate models` and `/readyz` list the registry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.diffusers.conftest import entry
from tests.support.server import ServerProcess, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

# Makes torch, diffusers and transformers impossible to import, as on a plain install.
WITHOUT_EXTRA = """
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"torch", "diffusers", "transformers"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def _reelgate(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelgate", *args],
        env={**os.environ, "REELGATE_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _without_extra(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(WITHOUT_EXTRA)
    return {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (entry("gen4", "ltx").replace('path = "ltx"', 'path = "wan"'), "holds a WanPipeline"),
        (entry("gen4", "wan").replace('path = "wan"', 'path = "gone"'), "gone does not exist"),
        (entry("gen4", "wan", steps=0), "steps: Input should be greater than or equal to 1"),
        (entry("gen4", "wan", guidence="2.0"), "guidence: unknown key"),
        (entry("gen4", "wan", attention='"flash"'), "attention: 'flash' needs a CUDA GPU"),
    ],
)
def test_a_broken_entry_stops_serve_at_start_up_naming_it(
    tiny_models: Path, tmp_path: Path, text: str, problem: str
) -> None:
    models = tiny_models / "broken.toml"
    models.write_text('[models.gen3]\nengine = "synthetic"\n\n' + text)
    port = str(free_port())
    result = _reelgate(tmp_path, "serve", "--port", port, env={"REELGATE_MODELS_FILE": str(models)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "[models.gen4]" in result.stderr
    assert problem in result.stderr
    assert "Traceback" not in result.stderr


def test_without_the_extra_a_diffusers_entry_says_how_to_install_it(
    models_file: Path, tmp_path: Path
) -> None:
    env = {"REELGATE_MODELS_FILE": str(models_file), **_without_extra(tmp_path)}
    result = _reelgate(tmp_path, "serve", "--port", str(free_port()), env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "[models.tiny-wan] engine diffusers needs torch, diffusers, transformers" in result.stderr
    )
    assert "pip install 'reelgate[diffusers]'" in result.stderr


def test_without_the_extra_everything_else_still_serves(tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text(
        '[models.gen4]\nengine = "synthetic"\n[models."gen4.5"]\nengine = "synthetic"\n'
    )
    env = {"REELGATE_MODELS_FILE": str(models), **_without_extra(tmp_path)}
    server = ServerProcess(tmp_path / "serve", env=env).start()
    try:
        with server.client() as client:
            assert client.get("/readyz").json()["models"] == ["gen4", "gen4.5"]
            body = {"prompt": "a cat", "model": "gen4.5", "ratio": "1:1", "seconds": 1}
            task = client.post("/admin/tasks", json=body).json()

            def ended() -> dict[str, object] | None:
                shown: dict[str, object] = client.get(f"/admin/tasks/{task['id']}").json()
                return shown if shown["status"] not in ("queued", "running") else None

            shown = wait_until(ended, 60, interval=0.1, what="the task to end")
            assert shown["status"] == "succeeded", shown
    finally:
        server.stop()
    assert "No module named 'torch'" not in server.logs()


def test_reelgate_models_lists_the_registry(models_file: Path, tmp_path: Path) -> None:
    result = _reelgate(tmp_path, "models", env={"REELGATE_MODELS_FILE": str(models_file)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "NAME\tENGINE\tSETTINGS"
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert set(rows) == {
        f"{kind}-{f}" for kind in ("tiny", "slow") for f in ("wan", "ltx", "cogvideox")
    } | {"tuned-wan"}
    assert rows["tuned-wan"][2].endswith(
        "attention=_native_flash cache=first_block cache_threshold=0.05 vae_tiling=true"
    )
    assert rows["tiny-ltx"][1] == "diffusers"
    assert "family=ltx device=cpu dtype=float32 steps=6 native=32x32@8" in rows["tiny-ltx"][2]
    assert f"path={models_file.parent / 'ltx'}" in rows["tiny-ltx"][2]
    default = _reelgate(tmp_path, "models", env={})
    assert "gen4_turbo\tsynthetic" in default.stdout
