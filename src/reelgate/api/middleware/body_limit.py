"""Refuse request bodies over a byte limit with 413, whether or not they declare a length.

Starlette caps multipart parts but not JSON bodies, so without this a client could make the
server buffer any amount of memory. A declared `Content-Length` over the limit is refused
before reading; a chunked body is counted as it streams.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TooLarge = Callable[[Scope, int], Response]  # the scope and the limit it exceeded


class BodyLimitMiddleware:
    """`max_bytes` for every body, except multipart uploads to the paths in `upload_paths`,
    which may carry an image file of up to `max_upload_bytes`."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        too_large: TooLarge,
        *,
        upload_paths: frozenset[str] = frozenset(),
        max_upload_bytes: int = 0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.too_large = too_large
        self.upload_paths = upload_paths
        self.max_upload_bytes = max_upload_bytes

    def _limit(self, scope: Scope) -> int:
        if scope["path"] in self.upload_paths:
            for name, value in scope["headers"]:
                if name == b"content-type" and value.startswith(b"multipart/form-data"):
                    return max(self.max_bytes, self.max_upload_bytes)
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = limit + 1
                if declared > limit:
                    await self.too_large(scope, limit)(scope, receive, send)
                    return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    # Hand the app an empty end of body; its answer is replaced by the 413.
                    exceeded = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)
        if exceeded:
            await self.too_large(scope, limit)(scope, receive, send)
