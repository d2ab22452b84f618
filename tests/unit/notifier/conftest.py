"""A real webhook receiver on 127.0.0.1 for the delivery tests.

`loopback_receiver` is an HTTP server in a thread. Each path plays one kind of receiver (see
`_ROUTES`); every request is recorded with its headers and body. At the end of the test the server
is shut down, sleeping handlers are woken, and every handler thread is joined.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

HUGE_REPLY_BYTES = 64 * 1024 * 1024
RETRY_AFTER_DATE_SECONDS = 90  # how far ahead /unavailable-until puts its Retry-After date


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    retry_after_date_seconds: int = RETRY_AFTER_DATE_SECONDS
    stop: threading.Event = field(default_factory=threading.Event)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        received = Received(
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length),
        )
        receiver = self.server.receiver
        with receiver.lock:
            receiver.requests.append(received)
        _ROUTES.get(self.path, _not_found)(self, receiver)

    def answer(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""


def _ok(handler: _Handler, receiver: Receiver) -> None:
    handler.answer(200, b'{"received": true}', Content_Type="application/json")


def _accepted(handler: _Handler, receiver: Receiver) -> None:
    handler.answer(202)


def _broken(handler: _Handler, receiver: Receiver) -> None:
    handler.answer(500, b"Internal Server Error")


def _gone(handler: _Handler, receiver: Receiver) -> None:
    handler.answer(410, b"this endpoint was removed")


def _not_found(handler: _Handler, receiver: Receiver) -> None:
    handler.answer(404)


def _redirect(handler: _Handler, receiver: Receiver) -> None:
    handler.answer(302, Location=receiver.url("/target"))


def _throttled(handler: _Handler, receiver: Receiver) -> None:
    handler.answer(429, b"slow down", Retry_After="120")


def _unavailable_until(handler: _Handler, receiver: Receiver) -> None:
    when = email.utils.formatdate(time.time() + RETRY_AFTER_DATE_SECONDS, usegmt=True)
    handler.answer(503, Retry_After=when)


def _sleepy(handler: _Handler, receiver: Receiver) -> None:
    receiver.stop.wait(timeout=10)  # longer than any client timeout in the tests
    handler.answer(200)


def _huge(handler: _Handler, receiver: Receiver) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(HUGE_REPLY_BYTES))
    handler.end_headers()
    block = b"x" * 65536
    for _ in range(HUGE_REPLY_BYTES // len(block)):
        if receiver.stop.is_set():
            return
        handler.wfile.write(block)  # raises once the client hangs up


_ROUTES: dict[str, Callable[[_Handler, Receiver], None]] = {
    "/ok": _ok,
    "/accepted": _accepted,
    "/broken": _broken,
    "/gone": _gone,
    "/redirect": _redirect,
    "/target": _ok,
    "/throttled": _throttled,
    "/unavailable-until": _unavailable_until,
    "/sleepy": _sleepy,
    "/huge": _huge,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-reply (timeouts, the read cap) are expected here."""


@pytest.fixture
def loopback_receiver() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = Receiver(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.receiver
    finally:
        server.receiver.stop.set()
        server.shutdown()
        server.server_close()
        thread.join()
