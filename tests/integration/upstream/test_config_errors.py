"""A bad `engine = "upstream"` entry stops `reelgate serve` at start-up, exit status 2, with one
line naming the entry and the problem, and never repeating a key pasted where it does not
belong. The cases start at once (each start is mostly imports) and are checked one by one; every
other refusal of the same parser is in tests/unit/engines/upstream/test_upstream_config.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.upstream.helpers import KEY_ENV, upstream_entry, write_models
from tests.support.server import free_port

pytestmark = pytest.mark.slow

PASTED_KEY = "sk-live-9f8e7d6c5b4a39281706"  # what an operator might paste by mistake
BASE = upstream_entry("runway", ["http://127.0.0.1:9"], "gen4")
CASES: dict[str, tuple[dict[str, object], str]] = {
    "protocol": (
        {**BASE, "protocol": "grpc"},
        "protocol: Input should be 'runway', 'cometapi' or 'openai' (got 'grpc')",
    ),
    "credentials": (
        {**BASE, "endpoints": [f"http://user:{PASTED_KEY}@127.0.0.1:9"]},
        "endpoints: a base URL holds no credentials; name the key's variable in api_key_env",
    ),
    "key-pasted": (
        {**BASE, "api_key_env": PASTED_KEY},
        "api_key_env: must be the NAME of an environment variable",
    ),
    "key-unset": (
        {**BASE, "api_key_env": "REELGATE_TEST_NOT_SET"},
        "the environment variable REELGATE_TEST_NOT_SET (api_key_env) is not set",
    ),
    "unknown-key": ({**BASE, "colour": "red"}, "colour: unknown key"),
    "sizes-for-runway": (
        {**BASE, "sizes": ["1280x720"]},
        "entry: sizes: only for protocol openai (runway takes ratios)",
    ),
}


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """Each case's exit status and stderr, from one `reelgate serve` per case, run together."""
    root = tmp_path_factory.mktemp("bad-config")
    procs: dict[str, subprocess.Popen[str]] = {}
    for name, (entry, _) in CASES.items():
        models = write_models(root / f"{name}.toml", {"bad": entry})
        env = {
            "PATH": "/usr/bin:/bin",
            "REELGATE_DATA_DIR": str(root / name),
            "REELGATE_MODELS_FILE": str(models),
            KEY_ENV: "a-key",
        }
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "reelgate", "serve", "--port", str(free_port())],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    try:
        for name, proc in procs.items():
            _, stderr = proc.communicate(timeout=120)
            results[name] = (proc.returncode, stderr)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_entry_stops_serve_naming_it(case: str, started: dict[str, tuple[int, str]]) -> None:
    status, stderr = started[case]
    assert status == 2, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("reelgate: "), last
    assert "[models.bad] " in last, last
    assert CASES[case][1] in last, last
    assert PASTED_KEY not in stderr


def test_models_lists_an_entry_whose_key_is_not_set(tmp_path: Path) -> None:
    """Listing reads no key (only a process that runs tasks needs it), and shows the variable."""
    entry, _ = CASES["key-unset"]
    models = write_models(tmp_path / "models.toml", {"bad": entry})
    env = {
        "PATH": "/usr/bin:/bin",
        "REELGATE_DATA_DIR": str(tmp_path / "data"),
        "REELGATE_MODELS_FILE": str(models),
    }
    listed = subprocess.run(
        [sys.executable, "-m", "reelgate", "models"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert "key=$REELGATE_TEST_NOT_SET" in listed.stdout
