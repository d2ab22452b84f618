"""Connection limits of a real `reelgate serve` (reelgate/http.py on uvicorn), driven with raw
sockets on loopback: oversized heads, stalled and trickled requests, idle keep-alive, the
connection cap and which peers may speak for a client through X-Forwarded-For."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

LIMITS = {
    "REELGATE_WORKERS": "0",
    "REELGATE_HTTP_MAX_HEADER_BYTES": "8192",
    "REELGATE_HTTP_HEADER_TIMEOUT_SECONDS": "1",
    "REELGATE_HTTP_BODY_IDLE_TIMEOUT_SECONDS": "1",
    "REELGATE_HTTP_BODY_TIMEOUT_SECONDS": "3",
    "REELGATE_HTTP_KEEPALIVE_SECONDS": "1",
}
# How long a test waits for the server to act on a 1-3 s limit: generous for a loaded machine,
# and short of "never", which is what each test rules out.
PATIENCE_SECONDS = 60.0


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("limited"), env=LIMITS).start()
    yield server
    server.stop()


def connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE_SECONDS)


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a timeout fails the test)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


def test_a_head_larger_than_the_limit_gets_431_and_the_connection_is_closed(
    limited: ServerProcess,
) -> None:
    with connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 16384 + b"\r\n")
        response = read_until_closed(sock)

    assert status_of(response) == 431
    assert response.endswith(b"request head larger than 8192 bytes")


def test_a_whole_head_larger_than_the_limit_in_one_write_gets_431(
    limited: ServerProcess,
) -> None:
    with connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 9000 + b"\r\n\r\n")
        response = read_until_closed(sock)

    assert status_of(response) == 431
    assert response.count(b"HTTP/1.1 ") == 1  # the request itself was never served


def test_a_head_within_the_limit_is_served(limited: ServerProcess) -> None:
    with connect(limited) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: "
            + b"a" * 6000
            + b"\r\nConnection: close\r\n\r\n"
        )
        assert status_of(read_until_closed(sock)) == 200


def test_a_head_that_stops_arriving_gets_408_and_is_closed(limited: ServerProcess) -> None:
    with connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never the blank line
        response = read_until_closed(sock)

    assert status_of(response) == 408
    assert response.endswith(b"request head not received in time")


def test_a_connection_that_sends_nothing_is_closed(limited: ServerProcess) -> None:
    with connect(limited) as sock:
        response = read_until_closed(sock)

    assert status_of(response) == 408


def test_a_body_that_stops_arriving_gets_408_and_is_closed(limited: ServerProcess) -> None:
    with connect(limited) as sock:
        sock.sendall(
            b"POST /runway/pro/generate HTTP/1.1\r\nHost: x\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"prompt": "'
        )
        response = read_until_closed(sock)

    assert status_of(response) == 408
    assert response.endswith(b"request body not received in time")


def test_a_body_trickled_past_the_total_limit_is_cut_off(limited: ServerProcess) -> None:
    """One byte every 0.3 s never trips the 1 s pause limit; the 3 s total limit ends it."""
    with connect(limited) as sock:
        sock.sendall(
            b"POST /runway/pro/generate HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        )
        started = time.monotonic()
        sock.settimeout(0.3)
        response = b""
        while time.monotonic() - started < PATIENCE_SECONDS:
            try:
                sock.sendall(b" ")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue  # still open and silent: keep trickling
            except (BrokenPipeError, ConnectionResetError):
                break
            if not chunk:
                break
            response += chunk
        else:
            pytest.fail("the server kept reading a trickled body")

    assert status_of(response) == 408


def test_an_idle_keep_alive_connection_is_closed(limited: ServerProcess) -> None:
    with connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        response = read_until_closed(sock)  # returns once the idle connection is closed

    assert status_of(response) == 200
    assert response.count(b"HTTP/1.1 ") == 1


def test_connections_beyond_the_cap_get_503(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, env={**LIMITS, "REELGATE_HTTP_MAX_CONNECTIONS": "2"}).start()
    try:
        holders = [connect(server) for _ in range(2)]
        try:
            with connect(server) as third:
                third.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert status_of(read_until_closed(third)) == 503
        finally:
            for sock in holders:
                sock.close()
        # The held connections gone (each closed on its own when the server sees it), the next
        # request is served again.
        wait_until(
            lambda: httpx.get(f"{server.base_url}/healthz", timeout=30).status_code == 200,
            PATIENCE_SECONDS,
            interval=0.1,
            what="the cap to free up",
        )
    finally:
        server.stop()


def _wrong_keys(server: ServerProcess, forwarded_for: list[str]) -> list[int]:
    statuses = []
    for address in forwarded_for:
        headers = {"Authorization": "Bearer rg_wrong", "X-Forwarded-For": address}
        statuses.append(httpx.get(f"{server.base_url}/admin/tasks", headers=headers).status_code)
    return statuses


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(tmp_path: Path) -> None:
    env = {"REELGATE_WORKERS": "0", "REELGATE_AUTH_FAILURES_PER_MINUTE": "2"}
    server = ServerProcess(tmp_path, env=env).start()
    try:
        # Loopback is not trusted by default: every guess counts against the real peer.
        statuses = _wrong_keys(server, ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
        assert statuses == [401, 401, 429]
        # ... and the peer's valid key still gets in.
        good = httpx.get(f"{server.base_url}/admin/tasks", headers=_bearer(server))
        assert good.status_code == 200
    finally:
        server.stop()


def test_a_trusted_proxy_speaks_for_its_clients(tmp_path: Path) -> None:
    env = {
        "REELGATE_WORKERS": "0",
        "REELGATE_AUTH_FAILURES_PER_MINUTE": "2",
        "REELGATE_TRUSTED_PROXIES": "127.0.0.0/8",
    }
    server = ServerProcess(tmp_path, env=env).start()
    try:
        spread = _wrong_keys(server, ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
        same = _wrong_keys(server, ["198.51.100.9"] * 3)
    finally:
        server.stop()

    assert spread == [401, 401, 401]  # each forwarded client has its own budget
    assert same == [401, 401, 429]


def test_a_malformed_trusted_proxy_list_stops_start_up(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, env={"REELGATE_TRUSTED_PROXIES": "10.0.0.0/33"})
    with pytest.raises(RuntimeError, match="serve exited early") as failed:
        server.start()

    assert "REELGATE_TRUSTED_PROXIES: '10.0.0.0/33' is not an IP address or CIDR network" in str(
        failed.value
    )


def _bearer(server: ServerProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.env['REELGATE_API_KEYS'].split(',')[0]}"}
