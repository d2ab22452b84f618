"""Give every request an id, echo it as `X-Request-Id`, and note when the request began.

The id is bound to the log context for the request's duration, so every line logged on its
behalf carries it (reelgate.observability.logs).
"""

from __future__ import annotations

import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelgate.observability import log_context


def request_id(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


def request_started(scope: Scope) -> float:
    return float(scope.get("state", {}).get("started", time.perf_counter()))


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = secrets.token_hex(12)
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        state["started"] = time.perf_counter()
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        with log_context(request_id=rid):
            await self.app(scope, receive, send_with_id)
