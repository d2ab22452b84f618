"""fetch_image: data URIs decoded here, https images from a real TLS server on loopback.

The server plays one kind of image host per path (see `_Handler.ROUTES`) and presents a
certificate for `hooks.example.test` from the throw-away CA of `tls_files`; the client resolves
that name to 127.0.0.1, which `LOOPBACK_ALLOWED` exempts from the address rule.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, ClassVar

import cv2
import numpy as np
import pytest

from reelgate.outbound import (
    MAX_IMAGE_BYTES,
    ImageFetchError,
    OutboundPolicy,
    fetch_image,
    fetch_image_sync,
    guarded_client,
    image_format,
)

if TYPE_CHECKING:
    from tests.unit.outbound.conftest import TlsFiles

LOOPBACK_ALLOWED = OutboundPolicy(allow_nets=(ipaddress.ip_network("127.0.0.0/8"),))
NAME = "hooks.example.test"
ENDLESS_LIMIT_BYTES = 4 * MAX_IMAGE_BYTES  # /endless.png gives up after this much
HANDLER_WAIT_SECONDS = 5.0  # the longest a stalling handler holds on if nobody releases it


def _encoded(ext: str, shape: tuple[int, int] = (24, 32)) -> bytes:
    rows, cols = shape
    pixels = np.zeros((rows, cols, 3), np.uint8)
    pixels[..., 0] = np.arange(cols, dtype=np.uint8) * 7
    pixels[..., 1] = np.arange(rows, dtype=np.uint8)[:, None] * 9
    ok, buffer = cv2.imencode(ext, pixels)
    assert ok
    return buffer.tobytes()


PNG = _encoded(".png")
JPEG = _encoded(".jpg")
WEBP = _encoded(".webp")
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def data_uri(data: bytes, kind: str = "png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode("ascii")


@dataclass
class ImageServer:
    port: int
    redirect_to: str = ""
    connections: int = 0
    paths: list[str] = field(default_factory=list)
    streamed_bytes: int = 0
    hung_up: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"https://{NAME}:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    ROUTES: ClassVar[dict[str, str]] = {
        "/photo.png": "photo",
        "/photo.jpg": "jpeg_as_octets",
        "/missing.png": "missing",
        "/moved.png": "moved",
        "/huge-declared.png": "huge_declared",
        "/endless.png": "endless",
        "/page.html": "page",
        "/gzip.png": "gzipped",
        "/slow.png": "slow",
        "/trickle.png": "trickle",
    }

    def do_GET(self) -> None:
        state = self.server.state
        with state.lock:
            state.paths.append(self.path)
        getattr(self, self.ROUTES[self.path])()

    def photo(self) -> None:
        self._reply(200, PNG, "image/png")

    def jpeg_as_octets(self) -> None:
        self._reply(200, JPEG, "application/octet-stream")

    def missing(self) -> None:
        self._reply(404, b"no such image", "text/plain")

    def moved(self) -> None:
        self._reply(302, b"", "text/plain", Location=self.server.state.redirect_to)

    def page(self) -> None:
        self._reply(200, b"<!doctype html><title>Photo</title><img src=photo.png>", "text/html")

    def gzipped(self) -> None:
        self._reply(200, gzip.compress(PNG), "image/png", **{"Content-Encoding": "gzip"})

    def huge_declared(self) -> None:
        # Promises 64 MiB, sends 8 bytes, then stalls: only a client that trusts the header and
        # hangs up at once finishes quickly.
        self._head(200, "image/png", **{"Content-Length": str(ENDLESS_LIMIT_BYTES)})
        self.wfile.write(PNG[:8])
        self.server.state.release.wait(HANDLER_WAIT_SECONDS)

    def endless(self) -> None:
        # No Content-Length (the body ends when the connection closes) and far more than the cap.
        self._head(200, "image/png")
        chunk = PNG[:8] + bytes(64 * 1024 - 8)
        state = self.server.state
        try:
            while state.streamed_bytes < ENDLESS_LIMIT_BYTES:
                self.wfile.write(chunk)
                state.streamed_bytes += len(chunk)
        except OSError:
            state.hung_up.set()

    def slow(self) -> None:
        self.server.state.release.wait(HANDLER_WAIT_SECONDS)

    def trickle(self) -> None:
        # Each byte comes quickly enough for a per-read timeout; only a total deadline stops it.
        self._head(200, "image/png", **{"Content-Length": "1000"})
        try:
            for byte in PNG[:1000]:
                if self.server.state.release.wait(0.05):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        except OSError:
            self.server.state.hung_up.set()

    def _reply(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self._head(status, content_type, **{"Content-Length": str(len(body)), **headers})
        self.wfile.write(body)

    def _head(self, status: int, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread
    state: ImageServer

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.state.lock:
            self.state.connections += 1
        return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early is what several tests are about."""


def _serve(tls_files: TlsFiles) -> Iterator[ImageServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files.cert, tls_files.key)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state = server.state = ImageServer(port=server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def image_server(tls_files: TlsFiles) -> Iterator[ImageServer]:
    yield from _serve(tls_files)


@pytest.fixture
def other_server(tls_files: TlsFiles) -> Iterator[ImageServer]:
    yield from _serve(tls_files)


class LoopbackResolver:
    """Resolves every name to 127.0.0.1 and remembers what it was asked."""

    def __init__(self) -> None:
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append(host)
        return ["127.0.0.1"]


Fetch = Callable[..., bytes]


@pytest.fixture
def resolver() -> LoopbackResolver:
    return LoopbackResolver()


@pytest.fixture
def fetch(tls_files: TlsFiles, resolver: LoopbackResolver) -> Fetch:
    """`fetch_image` through a guarded client that trusts the test CA, run to completion."""
    verify = tls_files.client_context()

    def run(url: str, policy: OutboundPolicy = LOOPBACK_ALLOWED, **options: Any) -> bytes:
        async def go() -> bytes:
            async with guarded_client(policy, resolver=resolver, verify=verify) as client:
                return await fetch_image(client, url, policy, **options)

        return asyncio.run(go())

    return run


def _pixels(data: bytes) -> np.ndarray[Any, Any]:
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    return np.asarray(decoded)


# data: URIs


@pytest.mark.parametrize(
    ("data", "kind", "fmt"),
    [(PNG, "png", "png"), (JPEG, "jpeg", "jpeg"), (WEBP, "webp", "webp"), (GIF, "gif", "gif")],
)
def test_data_uri_images_are_decoded_locally(
    data: bytes, kind: str, fmt: str, fetch: Fetch, resolver: LoopbackResolver
) -> None:
    fetched = fetch(data_uri(data, kind), OutboundPolicy())

    assert fetched == data
    assert image_format(fetched) == fmt
    assert _pixels(fetched).size > 0
    assert resolver.lookups == []


def test_data_uri_with_bad_base64_is_refused(fetch: Fetch) -> None:
    with pytest.raises(ImageFetchError, match="not valid base64"):
        fetch("data:image/png;base64,iVBORw0KGgo*not-base64*")


def test_data_uri_cap_applies_to_the_decoded_bytes(fetch: Fetch) -> None:
    uri = data_uri(PNG)

    assert fetch(uri, max_bytes=len(PNG)) == PNG
    with pytest.raises(ImageFetchError, match=f"larger than {len(PNG) - 1} bytes"):
        fetch(uri, max_bytes=len(PNG) - 1)


def test_data_uri_over_16_mib_is_refused() -> None:
    uri = data_uri(PNG + bytes(MAX_IMAGE_BYTES))

    with pytest.raises(ImageFetchError, match="larger than 16 MiB"):
        fetch_image_sync(uri, OutboundPolicy())


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        (data_uri(b"<svg xmlns='http://www.w3.org/2000/svg'/>", "svg+xml"), "not a PNG, JPEG"),
        (data_uri(b"hello, world"), "not a PNG, JPEG, WebP or GIF image"),
        ("data:text/plain;base64,aGVsbG8=", "must start with data:image/"),
        ("data:image/png;base64,", "empty"),
    ],
)
def test_data_uri_that_is_not_an_image_is_refused(uri: str, why: str) -> None:
    with pytest.raises(ImageFetchError, match=why):
        fetch_image_sync(uri, OutboundPolicy())


# https


def test_https_image_is_fetched_from_the_checked_address(
    image_server: ImageServer, fetch: Fetch, resolver: LoopbackResolver
) -> None:
    fetched = fetch(image_server.url("/photo.png"))

    assert fetched == PNG
    assert np.array_equal(_pixels(fetched), _pixels(PNG))
    assert resolver.lookups == [NAME]
    assert image_server.paths == ["/photo.png"]


def test_format_is_judged_by_the_bytes_not_the_content_type(
    image_server: ImageServer, fetch: Fetch
) -> None:
    assert fetch(image_server.url("/photo.jpg")) == JPEG


def test_sync_fetch_runs_on_its_own_loop(
    image_server: ImageServer, tls_files: TlsFiles, resolver: LoopbackResolver
) -> None:
    results: list[bytes] = []
    worker = threading.Thread(
        target=lambda: results.append(
            fetch_image_sync(
                image_server.url("/photo.png"),
                LOOPBACK_ALLOWED,
                resolver=resolver,
                verify=tls_files.client_context(),
            )
        )
    )
    worker.start()
    worker.join()

    assert results == [PNG]


def test_not_found_is_an_error(image_server: ImageServer, fetch: Fetch) -> None:
    with pytest.raises(ImageFetchError, match=f"{NAME} answered 404 Not Found"):
        fetch(image_server.url("/missing.png"))


def test_redirect_is_an_error_and_never_followed(
    image_server: ImageServer, other_server: ImageServer, fetch: Fetch
) -> None:
    image_server.redirect_to = other_server.url("/photo.png")

    with pytest.raises(ImageFetchError, match=f"302 Found \\(a redirect to {NAME}, not followed"):
        fetch(image_server.url("/moved.png"))

    assert other_server.connections == 0


def test_declared_length_over_the_cap_is_refused_before_the_body(
    image_server: ImageServer, fetch: Fetch
) -> None:
    started = time.monotonic()

    with pytest.raises(ImageFetchError, match=f"{NAME} is larger than 16 MiB"):
        fetch(image_server.url("/huge-declared.png"))

    assert time.monotonic() - started < HANDLER_WAIT_SECONDS / 2


def test_undeclared_body_over_the_cap_is_cut_off(image_server: ImageServer, fetch: Fetch) -> None:
    with pytest.raises(ImageFetchError, match=f"{NAME} is larger than 16 MiB"):
        fetch(image_server.url("/endless.png"))

    assert image_server.hung_up.wait(HANDLER_WAIT_SECONDS)
    assert image_server.streamed_bytes < ENDLESS_LIMIT_BYTES


def test_cap_is_exact(image_server: ImageServer, fetch: Fetch) -> None:
    url = image_server.url("/photo.png")

    assert fetch(url, max_bytes=len(PNG)) == PNG
    with pytest.raises(ImageFetchError, match=f"larger than {len(PNG) - 1} bytes"):
        fetch(url, max_bytes=len(PNG) - 1)


def test_html_page_is_not_an_image(image_server: ImageServer, fetch: Fetch) -> None:
    with pytest.raises(
        ImageFetchError, match=r"\(text/html\) is not a PNG, JPEG, WebP or GIF image"
    ):
        fetch(image_server.url("/page.html"))


def test_compressed_body_is_refused(image_server: ImageServer, fetch: Fetch) -> None:
    with pytest.raises(ImageFetchError, match=r"sent compressed \(gzip\)"):
        fetch(image_server.url("/gzip.png"))


def test_literal_loopback_is_refused_without_connecting(
    image_server: ImageServer, fetch: Fetch
) -> None:
    url = f"https://127.0.0.1:{image_server.port}/photo.png"

    with pytest.raises(ImageFetchError, match=r"127\.0\.0\.1 is a loopback address"):
        fetch(url, OutboundPolicy())

    assert image_server.connections == 0


def test_name_resolving_to_loopback_is_refused_without_connecting(
    image_server: ImageServer, fetch: Fetch, resolver: LoopbackResolver
) -> None:
    with pytest.raises(ImageFetchError, match=f"{NAME} resolves to 127.0.0.1, a loopback"):
        fetch(image_server.url("/photo.png"), OutboundPolicy())

    assert resolver.lookups == [NAME]
    assert image_server.connections == 0


def test_plain_http_is_refused_for_images(image_server: ImageServer, fetch: Fetch) -> None:
    with pytest.raises(ImageFetchError, match="must start with https://"):
        fetch(f"http://{NAME}:{image_server.port}/photo.png")

    assert image_server.connections == 0


def test_server_that_never_answers_times_out(image_server: ImageServer, fetch: Fetch) -> None:
    started = time.monotonic()

    with pytest.raises(ImageFetchError, match=f"from {NAME} timed out after 0.3 s"):
        fetch(image_server.url("/slow.png"), timeout_seconds=0.3)

    assert time.monotonic() - started < 2.0


def test_trickled_body_hits_the_total_deadline(image_server: ImageServer, fetch: Fetch) -> None:
    started = time.monotonic()

    with pytest.raises(ImageFetchError, match=r"timed out after 0\.5 s"):
        fetch(image_server.url("/trickle.png"), timeout_seconds=0.5)

    assert time.monotonic() - started < 2.0


def test_connection_failure_is_described() -> None:
    closed_port = _unused_port()

    with pytest.raises(ImageFetchError, match="could not connect"):
        fetch_image_sync(
            f"https://{NAME}:{closed_port}/photo.png",
            LOOPBACK_ALLOWED,
            resolver=LoopbackResolver(),
        )


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
