"""Strict JSON request bodies (RFC 8259 as networked JSON should be).

FastAPI parses bodies with `json.loads(bytes)`, which guesses UTF-16 and UTF-32, skips a UTF-8
byte order mark, accepts `NaN` and `Infinity`, turns `1e400` into infinity and keeps the last of
two members with the same name. Each is a way for one request to mean different things to
different readers (a proxy, a log, the idempotency fingerprint), so a route built with
`StrictJsonRoute` refuses them all as malformed JSON: 400 `invalid_request` in the dialect's
shape. Nesting is bounded by the interpreter's recursion limit, reported the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise ValueError(f"the member name {name[:64]!r} appears twice in one object")
            seen.add(name)
    return members


def loads(body: bytes) -> Any:
    """Parse a request body; `json.JSONDecodeError` (with the reason) when it is not strict JSON."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("the body is not UTF-8", "", exc.start) from None
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("the body starts with a byte order mark", "", 0)
    try:
        return json.loads(
            text, object_pairs_hook=_unique, parse_constant=_constant, parse_float=_finite
        )
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError("the body is nested too deeply", "", 0) from None
    except ValueError as exc:  # our hooks, and integers over Python's 4300-digit limit
        raise json.JSONDecodeError(str(exc), "", 0) from None


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """An APIRoute whose JSON bodies are parsed by `loads`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
