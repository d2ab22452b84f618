"""The test command needs no database server of its own: when the configured PostgreSQL does not
answer, the tests start a throwaway one (tests/support/postgres.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.postgres import reachable

ROOT = Path(__file__).resolve().parents[3]


def test_an_unreachable_configured_server_is_replaced_by_a_throwaway_one() -> None:
    unreachable = "postgresql://postgres@127.0.0.1:1/test"
    assert not reachable(unreachable)
    script = (
        "from tests.support.postgres import server_url, reachable\n"
        "url = server_url()\n"
        "print(url, reachable(url))\n"
    )
    env = {**os.environ, "REELGATE_TEST_PG_URL": unreachable}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    url, answered = result.stdout.split()
    assert url != unreachable
    assert url.startswith("postgresql://postgres@127.0.0.1:")
    assert answered == "True"
    # The cluster is removed when the process that started it ends.
    assert not reachable(url)
