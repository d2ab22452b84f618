"""Waiting for a condition, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None],
    timeout: float,
    interval: float = 0.05,
    what: str | Callable[[], str] = "",
) -> T:
    """`probe()`'s first truthy value, asked every `interval` seconds; AssertionError naming
    `what` (and the last value seen) when none came within `timeout` seconds. `what` may be a
    function, asked only then, to say what was last seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {said or probe} (last: {value!r})"
            )
        time.sleep(interval)
