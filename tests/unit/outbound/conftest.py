"""Real loopback receivers for the guarded transport tests.

`echo_server` is an HTTP server on 127.0.0.1 in a thread that records every connection it accepts
and the Host header of every request; it stops (threads joined) when the test ends. `tls_files`
makes a throw-away CA and a certificate for `hooks.example.test` with the openssl command line.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CERT_NAME = "hooks.example.test"


@dataclass
class EchoServer:
    port: int
    connections: int = 0
    host_headers: list[str] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        with self.server.echo.lock:
            self.server.echo.host_headers.append(self.headers.get("Host", ""))
        body = b"hello from loopback"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output clean."""


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread
    echo: EchoServer

    def verify_request(self, request: Any, client_address: Any) -> bool:
        with self.echo.lock:
            self.echo.connections += 1
        return True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early is expected here."""


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path
    name: str = CERT_NAME  # the only name the certificate covers

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


def _serve(tls: ssl.SSLContext | None) -> Iterator[EchoServer]:
    server = _Server(("127.0.0.1", 0), _Handler)
    echo = server.echo = EchoServer(port=server.server_address[1])
    if tls is not None:

        def remember_sni(sock: Any, name: str | None, ctx: ssl.SSLContext) -> None:
            echo.server_names.append(name)

        tls.sni_callback = remember_sni
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield echo
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    yield from _serve(None)


@pytest.fixture
def tls_echo_server(tls_files: TlsFiles) -> Iterator[EchoServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files.cert, tls_files.key)
    yield from _serve(context)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    tmp = tmp_path_factory.mktemp("tls")
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    (tmp / "leaf.ext").write_text(
        f"subjectAltName=DNS:{CERT_NAME}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid\n"
    )
    commands = [
        "req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -subj /CN=reelgate-test-ca",
        "req {ec} -keyout leaf.key -out leaf.csr -subj /CN=" + CERT_NAME,
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.pem"
        " -days 2 -extfile leaf.ext",
    ]
    for command in commands:
        argv = ["openssl", *command.format(ec=ec).split()]
        subprocess.run(argv, cwd=tmp, check=True, capture_output=True)
    return TlsFiles(ca=tmp / "ca.pem", cert=tmp / "leaf.pem", key=tmp / "leaf.key")
