"""The webhook receiver every test uses: a real HTTP server on 127.0.0.1 in a thread.

It records each request and answers as the test programs it. Given the webhook secret, it
checks the Standard Webhooks signature the moment a delivery arrives and records the outcome,
because the signed timestamp is only accepted for 5 minutes: a check made at the end of a long
test would reject deliveries that were valid when they came.

    with Receiver(secret=secret).running() as receiver:
        ...  # deliveries to receiver.url (http://127.0.0.1:<port>/hook)
        [hook] = receiver.wait_for(1)
        assert hook.verified, hook.error
        assert hook.payload["status"] == "SUCCESS"

How it answers:
- by default `200 ok`; `statuses=[500, 200]` answers the first requests with those statuses in
  order, then 200;
- `routes={"/path": Reply(...)}` gives a path its own answer: a `Reply` (status, body, headers,
  an answer `delay_seconds` late, or a `stream_bytes` long body) or a function of the request
  that returns one. A routed path does not use up `statuses`.

Stopping it wakes any answer still waiting out its delay or streaming, and joins every handler
thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

HOST = "127.0.0.1"  # loopback only: nothing off this machine can post to a test
HOOK_PATH = "/hook"
HANDLER_TIMEOUT_SECONDS = 10.0  # a client that stops sending mid-request cannot hold up stop()
STREAM_BLOCK = b"x" * 65536


@dataclass(frozen=True)
class Received:
    """One request as it arrived, with the signature check made at that moment.

    `verified` is None when the receiver had no secret, else whether the signature (and its
    timestamp tolerance) held; `error` says why not. `payload` is the JSON object of the body,
    or None when the body is not one.
    """

    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    verified: bool | None = None
    error: str | None = None
    payload: dict[str, Any] | None = None
    arrived_at: float = 0.0  # time.time()


@dataclass(frozen=True)
class Reply:
    """What the receiver answers to one request."""

    status: int = 200
    body: bytes = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0  # answer this late (cut short when the receiver stops)
    stream_bytes: int = 0  # send a body this long instead of `body`, until the client hangs up


Route = Reply | Callable[[Received], Reply]


class Receiver:
    def __init__(
        self,
        statuses: Sequence[int] | None = None,
        port: int = 0,
        *,
        secret: str | None = None,
        routes: Mapping[str, Route] | None = None,
    ) -> None:
        self.requests: list[Received] = []
        # The secret deliveries are checked against; set it before the deliveries arrive when
        # the server that signs them only makes it at start-up.
        self.secret = secret
        self.routes: dict[str, Route] = dict(routes or {})
        self._statuses = list(statuses or [])
        self._lock = threading.Lock()
        self.arrived = threading.Condition(self._lock)
        self.stopping = threading.Event()
        self._server = _Server((HOST, port), _Handler)
        self._server.receiver = self
        self.port: int = self._server.server_address[1]
        self.url = self.url_for(HOOK_PATH)

    def url_for(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def paths(self) -> list[str]:
        with self._lock:
            return [r.path for r in self.requests]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Every request so far, once there are at least `count`; AssertionError (naming what
        did arrive) when `timeout` seconds pass first."""
        with self.arrived:
            arrived = self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
            got = list(self.requests)
        assert arrived, f"{count} requests expected within {timeout} s, got {len(got)}: " + str(
            [r.path for r in got]
        )
        return got

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            self.stopping.set()
            self._server.shutdown()
            self._server.server_close()  # joins the handler threads
            thread.join()

    def record(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Check and keep one request; return the answer it gets (called by the handler)."""
        received = _check(path, headers, body, self.secret)
        with self.arrived:
            self.requests.append(received)
            route = self.routes.get(path)
            status = self._statuses.pop(0) if route is None and self._statuses else 200
            self.arrived.notify_all()
        if route is None:
            return Reply(status)
        return route if isinstance(route, Reply) else route(received)


def _check(path: str, headers: dict[str, str], body: bytes, secret: str | None) -> Received:
    arrived_at = time.time()
    if secret is None:
        return Received(path, headers, body, payload=_json_object(body), arrived_at=arrived_at)
    try:
        parsed = Webhook(secret).verify(body, headers)
    except Exception as exc:  # any failure is "not verified": the test asserts on it, with why
        return Received(
            path,
            headers,
            body,
            verified=False,
            error=f"{type(exc).__name__}: {exc}",
            payload=_json_object(body),
            arrived_at=arrived_at,
        )
    payload = parsed if isinstance(parsed, dict) else None
    return Received(path, headers, body, verified=True, payload=payload, arrived_at=arrived_at)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = HANDLER_TIMEOUT_SECONDS

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        receiver = self.server.receiver
        reply = receiver.record(self.path, headers, body)
        if reply.delay_seconds and receiver.stopping.wait(reply.delay_seconds):
            return  # stopping: hang up without an answer, as a receiver going down does
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(reply.stream_bytes or len(reply.body)))
        self.end_headers()
        if not reply.stream_bytes:
            self.wfile.write(reply.body)
            return
        for _ in range(reply.stream_bytes // len(STREAM_BLOCK)):
            if receiver.stopping.is_set():
                return
            self.wfile.write(STREAM_BLOCK)  # raises once the client hangs up

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-answer (timeouts, a read cap) are expected here."""
