"""The HTTP server's limits: how much of a request a client may hold and for how long.

uvicorn's httptools protocol with what it lacks added on top:

- a request head (request line and headers) larger than `max_header_bytes` is answered 431 and
  its connection closed, once that many bytes have arrived without the head ending, so a client
  cannot make the parser buffer an unbounded header;
- the head of every request (from the connection's first byte, or the end of the previous
  response) must arrive within `header_timeout`;
- a request's body may pause at most `body_idle_timeout` between reads, and must be complete
  within `body_timeout` of its head.

A request that misses a deadline is answered 408 (unless its response has begun) and its
connection closed, which frees the application's read. Idle keep-alive connections and the cap on
concurrent connections are uvicorn's own settings (`timeout_keep_alive`, `limit_concurrency`).
httptools rather than h11: on this project's API benchmark h11 served half the requests a second.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int
    header_timeout: float
    body_idle_timeout: float
    body_timeout: float


def protocol_class(limits: HttpLimits) -> type[HttpToolsProtocol]:
    """uvicorn's `http=` protocol class, holding every connection to `limits`."""
    return type("LimitedHttpProtocol", (_LimitedHttpProtocol,), {"limits": limits})


class _LimitedHttpProtocol(HttpToolsProtocol):
    limits: HttpLimits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None  # the head's, or the body's pause
        self._body_deadline: asyncio.TimerHandle | None = None
        self._in_head = True  # bytes arriving now belong to a request head
        self._head_bytes = 0
        self._reading_body = False
        self._refused = False

    # Deadlines are armed only when a read ends in the middle of a head or a body, so a request
    # that arrives whole (nearly all of them) costs no timer at all.
    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._refused or self.transport.is_closing():
            return
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, f"request head larger than {self.limits.max_header_bytes} bytes")
        elif self._reading_body:
            self._arm(self.limits.body_idle_timeout, "request body")
            if self._body_deadline is None:
                self._body_deadline = self.loop.call_later(
                    self.limits.body_timeout, self._expired, "request body"
                )
        elif self._in_head and self._head_bytes and self._deadline is None:
            self._arm(self.limits.header_timeout, "request head")

    def on_headers_complete(self) -> None:
        self._disarm()
        self._in_head = False
        self._head_bytes = 0
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:  # a whole head that arrived in one read
            self._refuse(431, f"request head larger than {self.limits.max_header_bytes} bytes")
            return
        self._reading_body = True
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._disarm()
        self._reading_body = False
        self._in_head = True
        super().on_message_complete()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout, "request head")  # a peer that sends nothing

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- deadlines ---------------------------------------------------------------------------
    def _arm(self, seconds: float, what: str) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(seconds, self._expired, what)

    def _disarm(self) -> None:
        for handle in (self._deadline, self._body_deadline):
            if handle is not None:
                handle.cancel()
        self._deadline = self._body_deadline = None

    def _expired(self, what: str) -> None:
        self._disarm()
        cycle = self.cycle
        if self._reading_body and cycle is not None and cycle.response_started:
            cycle.disconnected = True
            self.transport.close()
            return
        self._refuse(408, f"{what} not received in time")

    # -- refusals ----------------------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        if not self._refused:
            super().send_400_response(msg)

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` and close, whatever state the request is in (the head may be
        half-read); the application's own response, if any, goes nowhere."""
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        self._disarm()
        if self.cycle is not None:
            self.cycle.disconnected = True
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        body = message.encode("ascii")
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (status, reason, len(body), body)
        )
        self.transport.close()
