"""Waiting for a condition, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None], timeout: float, interval: float = 0.05, what: str = ""
) -> T:
    """`probe()`'s first truthy value, asked every `interval` seconds; AssertionError naming
    `what` (and the last value seen) when none came within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {what or probe} (last: {value!r})"
            )
        time.sleep(interval)
