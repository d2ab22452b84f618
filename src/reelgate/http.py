"""The HTTP server's limits: how much of a request a client may hold and for how long.

uvicorn parses HTTP/1.1 with h11 here, never httptools, because h11 bounds the bytes it buffers
for a request's head (`max_header_bytes`): a client that sends more gets 431 and is closed. On
top of uvicorn's protocol this module adds the read deadlines uvicorn lacks:

- the head of every request (from the connection's first byte, or the end of the previous
  response) must arrive within `header_timeout`;
- a request's body may pause at most `body_idle_timeout` between reads, and must be complete
  within `body_timeout` of its head.

A request that misses one is answered 408 (unless its response has begun) and its connection
closed, which frees the application's read. Idle keep-alive connections and the cap on
concurrent connections are uvicorn's own settings (`timeout_keep_alive`, `limit_concurrency`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_header_bytes: int
    header_timeout: float
    body_idle_timeout: float
    body_timeout: float


def protocol_class(limits: HttpLimits) -> type[H11Protocol]:
    """uvicorn's `http=` protocol class, holding every connection to `limits`."""
    return type("LimitedH11Protocol", (_LimitedH11Protocol,), {"limits": limits})


class _Connection(h11.Connection):
    """h11's connection that reports each parsed event to its protocol and keeps the last
    parse error, so the protocol can answer 431 where h11 says the head was too large."""

    def __init__(self, protocol: _LimitedH11Protocol, max_header_bytes: int) -> None:
        super().__init__(h11.SERVER, max_incomplete_event_size=max_header_bytes)
        self._protocol = protocol
        self.error: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            self.error = exc
            raise
        self._protocol.parsed(event)
        return event


class _LimitedH11Protocol(H11Protocol):
    limits: HttpLimits

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _Connection(self, self.limits.max_header_bytes)
        self._deadline: asyncio.TimerHandle | None = None
        self._body_deadline: asyncio.TimerHandle | None = None
        self._in_request = False

    # -- the clock ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout, "request head")

    def data_received(self, data: bytes) -> None:
        if not self._in_request and self._deadline is None:
            self._arm(self.limits.header_timeout, "request head")  # the next head on keep-alive
        super().data_received(data)

    def parsed(self, event: Any) -> None:
        if isinstance(event, h11.Request):
            self._in_request = True
            self._arm(self.limits.body_idle_timeout, "request body")
            self._body_deadline = self.loop.call_later(
                self.limits.body_timeout, self._expired, "request body"
            )
        elif isinstance(event, h11.Data):
            self._arm(self.limits.body_idle_timeout, "request body")
        elif isinstance(event, h11.EndOfMessage):
            self._disarm()

    def on_response_complete(self) -> None:
        self._in_request = False
        self._disarm()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

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
        if self.transport.is_closing():
            return
        cycle = self.cycle
        answered = cycle is not None and cycle.response_started
        if cycle is not None:
            cycle.disconnected = True  # the application's own response, if any, goes nowhere
        if not answered:
            self._refuse(408, f"{what} not received in time")
        self.transport.close()

    # -- refusals ----------------------------------------------------------------------------
    def send_400_response(self, msg: str) -> None:
        error = self.conn.error if isinstance(self.conn, _Connection) else None
        if error is not None and error.error_status_hint == 431:
            self._refuse(431, f"request head larger than {self.limits.max_header_bytes} bytes")
            self.transport.close()
            return
        super().send_400_response(msg)

    def _refuse(self, status: int, message: str) -> None:
        """Write a complete plain-text response outside h11's state machine (the request may be
        half-read), closing the connection."""
        reason = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}[status]
        body = message.encode("ascii")
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (status, reason, len(body), body)
        )
