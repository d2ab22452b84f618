"""`reelgate models --check`: does each upstream endpoint answer, and take its key? Nothing is
generated: each protocol client asks for something that does not exist or lists nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from reelgate.engines.upstream.config import UpstreamConfig
from reelgate.engines.upstream.engine import client_for, read_api_key, scrub
from reelgate.errors import SettingsError, UpstreamError


@dataclass(frozen=True, slots=True)
class CheckResult:
    model: str
    endpoint: str
    ok: bool
    outcome: str  # "ok", or what is wrong in words


def check_entries(entries: Iterable[tuple[str, object]]) -> list[CheckResult]:
    """One result per endpoint of every upstream entry among (name, config) pairs, in order."""
    upstream = [(name, c) for name, c in entries if isinstance(c, UpstreamConfig)]
    return asyncio.run(_check_all(upstream))


async def _check_all(entries: list[tuple[str, UpstreamConfig]]) -> list[CheckResult]:
    results: list[CheckResult] = []
    for name, config in entries:
        try:
            key = read_api_key(config)
        except SettingsError as exc:
            results.extend(CheckResult(name, e, False, str(exc)) for e in config.endpoints)
            continue
        client = client_for(config, key)
        try:
            for endpoint in config.endpoints:
                try:
                    await client.check(endpoint)
                except UpstreamError as exc:
                    results.append(CheckResult(name, endpoint, False, scrub(str(exc), key)))
                else:
                    results.append(CheckResult(name, endpoint, True, "ok"))
        finally:
            await client.aclose()
    return results
