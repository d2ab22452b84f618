"""The real application in this process: every router, middleware and error renderer, and
optionally the worker pool and the notifier on its lifespan, called through
`httpx.ASGITransport`.

Most API tests use this instead of a `reelgate serve` subprocess: the answers are the same bytes
(same app, same store code, same renderers), without a process start per module. The
subprocess (tests/support/server.py) stays for what only a process shows: `serve` itself, the
CLI, signals and crashes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import httpx2
from fastapi import FastAPI

from reelgate.runtime import Runtime
from reelgate.server import build_http_app
from reelgate.settings import Settings
from tests.support.server import API_KEY, OTHER_KEY

BASE_URL = "http://testserver"  # signed links point here, so the same client follows them
CLIENT_ADDRESS = ("127.0.0.1", 40000)


class PortalTransport(httpx.BaseTransport):
    """A synchronous transport into an ASGI app running on a portal's event loop, so plain
    `httpx.Client`s (and the `runwayml` SDK built on one) can call it."""

    def __init__(self, app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> None:
        # An unexpected exception is answered as the app answers it (a rendered 500), as a real
        # server would, instead of being raised into the test.
        self._inner = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=CLIENT_ADDRESS
        )
        self._portal = portal

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()  # a sync stream cannot be read on the event loop
        buffered = httpx.Request(request.method, request.url, headers=request.headers, content=body)

        async def call() -> httpx.Response:
            response = await self._inner.handle_async_request(buffered)
            content = await response.aread()
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                content=content,
                extensions=response.extensions,
                request=request,
            )

        return self._portal.call(call)


class Httpx2PortalTransport(httpx2.BaseTransport):
    """The same door for clients built on `httpx2` (the `openai` SDK): each request is handed
    to a `PortalTransport` as an `httpx` request and its answer handed back, bytes unchanged."""

    def __init__(self, inner: PortalTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        sent = httpx.Request(
            request.method, str(request.url), headers=request.headers.raw, content=request.read()
        )
        answer = self._inner.handle_request(sent)
        return httpx2.Response(
            answer.status_code, headers=answer.headers.raw, content=answer.content, request=request
        )


class _TracebackLog(logging.Handler):
    """Keeps every record logged with an exception, as a `serve` process's log would show it."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(self.format(record))


class InProcessServer:
    """`reelgate serve`'s app over a data directory of its own, started in this process.

    `settings` takes the same settings a `serve` process reads from `REELGATE_*`, as `Settings`
    field names in lower case (e.g. `workers=0`, `rate_burst=3`).
    """

    def __init__(self, data_dir: Path, workers: int = 0, **settings: Any) -> None:
        self.data_dir = data_dir
        self.base_url = BASE_URL
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "api_keys": f"{API_KEY},{OTHER_KEY}",
            "outbound_allow": "127.0.0.0/8,localhost",
            "notifier_poll_seconds": 0.2,
            "poll_seconds": 0.2,
            "public_url": BASE_URL,
            "workers": workers,
        }
        values.update(settings)
        self.settings = Settings(**values)
        self.runtime: Runtime | None = None
        self._stack = contextlib.ExitStack()
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._lifespan: AbstractAsyncContextManager[Any] | None = None
        self.app: FastAPI | None = None
        self._tracebacks = _TracebackLog()

    def start(self) -> InProcessServer:
        logging.getLogger().addHandler(self._tracebacks)
        self.runtime = Runtime.build(self.settings, public_url=BASE_URL)
        self.runtime.store.prepare()
        self.app = build_http_app(self.runtime, self.settings.workers)
        self._portal = self._stack.enter_context(anyio.from_thread.start_blocking_portal())
        lifespan = self.app.router.lifespan_context(self.app)
        self._portal.call(lifespan.__aenter__)
        self._lifespan = lifespan
        return self

    def stop(self) -> None:
        if self._portal is not None and self._lifespan is not None:
            self._portal.call(self._lifespan.__aexit__, None, None, None)
            self._lifespan = None
        self._stack.close()
        self._portal = None
        logging.getLogger().removeHandler(self._tracebacks)

    @property
    def webhook_secret(self) -> str:
        """The `whsec_…` secret the notifier signs with (a `Receiver`'s `secret`)."""
        assert self.runtime is not None, "start() first"
        return self.runtime.webhook_secret

    def tracebacks(self) -> str:
        """Every error logged with a traceback in this process while the server ran (what
        "Traceback" in a `serve` log shows): the workers', the notifier's, unexpected 500s'."""
        return "\n".join(self._tracebacks.records)

    def __enter__(self) -> InProcessServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def transport(self) -> PortalTransport:
        assert self.app is not None, "start() first"
        assert self._portal is not None, "start() first"
        return PortalTransport(self.app, self._portal)

    def httpx2_transport(self) -> Httpx2PortalTransport:
        """The transport for an `httpx2.Client` (the `openai` SDK's `http_client=`)."""
        return Httpx2PortalTransport(self.transport())

    def client(
        self, key: str | None = API_KEY, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Client:
        """An `httpx.Client` into the app, authenticated with `key` (None: no header)."""
        sent = {"Authorization": f"Bearer {key}"} if key else {}
        sent.update(headers or {})
        return httpx.Client(
            base_url=BASE_URL, headers=sent, transport=self.transport(), timeout=30, **kwargs
        )


@contextlib.contextmanager
def running(data_dir: Path, workers: int = 0, **settings: Any) -> Iterator[InProcessServer]:
    server = InProcessServer(data_dir, workers, **settings).start()
    try:
        yield server
    finally:
        server.stop()


StartApp = Callable[..., InProcessServer]
"""The `start_app` fixture: `start_app(workers=…, **settings)` (tests/conftest.py)."""
