"""GuardedTransport against real loopback receivers: what it refuses, where it connects."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx
import pytest

from reelgate.outbound import GuardedTransport, OutboundPolicy, OutboundRefused, guarded_client

if TYPE_CHECKING:
    from tests.unit.outbound.conftest import EchoServer, TlsFiles

LOOPBACK_ALLOWED = OutboundPolicy(allow_nets=(ipaddress.ip_network("127.0.0.0/8"),))


class ScriptedResolver:
    """Answers each lookup with the next scripted answer and counts the lookups."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.lookups: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append((host, port))
        return self.answers[min(len(self.lookups), len(self.answers)) - 1]


async def _get(client: httpx.AsyncClient, url: str) -> httpx.Response:
    async with client:
        return await client.get(url)


def test_literal_loopback_is_refused_without_connecting(echo_server: EchoServer) -> None:
    resolver = ScriptedResolver(["127.0.0.1"])
    client = guarded_client(OutboundPolicy(), resolver=resolver)

    with pytest.raises(OutboundRefused, match=r"127\.0\.0\.1 is a loopback address"):
        asyncio.run(_get(client, f"http://127.0.0.1:{echo_server.port}/hook"))

    assert echo_server.connections == 0
    assert resolver.lookups == []


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (["10.0.0.7"], "private"),
        (["169.254.169.254"], "link-local"),
        (["::ffff:127.0.0.1"], "IPv4-mapped"),
        (["93.184.215.14", "192.168.1.20"], "private"),  # one bad record spoils the answer
    ],
)
def test_a_name_resolving_to_a_non_public_address_is_refused(answer: list[str], why: str) -> None:
    resolver = ScriptedResolver(answer)
    client = guarded_client(OutboundPolicy(), resolver=resolver)

    with pytest.raises(OutboundRefused, match=why) as refused:
        asyncio.run(_get(client, "https://hooks.example.test/hook"))

    assert "hooks.example.test resolves to" in str(refused.value)
    assert resolver.lookups == [("hooks.example.test", 443)]


def test_localhost_is_refused_by_name_without_a_lookup() -> None:
    resolver = ScriptedResolver(["93.184.215.14"])
    client = guarded_client(OutboundPolicy(), resolver=resolver)

    with pytest.raises(OutboundRefused, match="loopback name"):
        asyncio.run(_get(client, "http://api.localhost/hook"))
    assert resolver.lookups == []


def test_allowed_name_reaches_loopback_with_original_host_and_one_lookup(
    echo_server: EchoServer,
) -> None:
    resolver = ScriptedResolver(["127.0.0.1"])
    client = guarded_client(LOOPBACK_ALLOWED, resolver=resolver)

    response = asyncio.run(_get(client, f"http://hooks.example.test:{echo_server.port}/hook"))

    assert response.status_code == 200
    assert response.text == "hello from loopback"
    assert echo_server.host_headers == [f"hooks.example.test:{echo_server.port}"]
    assert resolver.lookups == [("hooks.example.test", echo_server.port)]


def test_allow_list_by_host_name_skips_the_address_rule(echo_server: EchoServer) -> None:
    resolver = ScriptedResolver(["127.0.0.1"])
    policy = OutboundPolicy(allow_hosts=frozenset({"Receiver.Internal."}))
    client = guarded_client(policy, resolver=resolver)

    response = asyncio.run(_get(client, f"http://receiver.internal:{echo_server.port}/"))

    assert response.status_code == 200
    assert echo_server.host_headers == [f"receiver.internal:{echo_server.port}"]


def test_rebinding_each_request_is_checked_at_the_address_it_connects_to(
    echo_server: EchoServer,
) -> None:
    # The attacker's DNS answers the first lookup with an allowed address and the next with the
    # cloud metadata address. Each request looks up once and connects to what it checked.
    resolver = ScriptedResolver(["127.0.0.1"], ["169.254.169.254"])
    url = f"http://rebind.example.test:{echo_server.port}/hook"

    async def twice() -> tuple[int, str]:
        async with guarded_client(LOOPBACK_ALLOWED, resolver=resolver) as client:
            first = await client.get(url)
            try:
                await client.get(url)
            except OutboundRefused as exc:
                return first.status_code, str(exc)
        raise AssertionError("the second request was not refused")

    status, refusal = asyncio.run(twice())

    assert status == 200
    assert "169.254.169.254" in refusal
    assert len(resolver.lookups) == 2  # exactly one lookup per request
    assert echo_server.connections == 1


def test_the_checked_address_is_pinned_and_the_name_kept_for_tls() -> None:
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    transport = GuardedTransport(
        OutboundPolicy(),
        resolver=ScriptedResolver(["2606:4700::6810:84e5", "104.16.132.229"]),
        inner=httpx.MockTransport(receiver),
    )

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport) as client:
            return await client.post("https://hooks.example.test/cb?x=1", content=b"{}")

    assert asyncio.run(send()).status_code == 204
    (pinned,) = seen
    assert pinned.url.host == "2606:4700::6810:84e5"
    assert pinned.url.raw_path == b"/cb?x=1"
    assert pinned.headers["host"] == "hooks.example.test"
    assert pinned.extensions["sni_hostname"] == "hooks.example.test"


def test_tls_is_verified_against_the_original_name(
    tls_echo_server: EchoServer, tls_files: TlsFiles
) -> None:
    resolver = ScriptedResolver(["127.0.0.1"])
    client = guarded_client(LOOPBACK_ALLOWED, resolver=resolver, verify=tls_files.client_context())

    name = tls_files.name
    response = asyncio.run(_get(client, f"https://{name}:{tls_echo_server.port}/"))

    assert response.status_code == 200
    assert tls_echo_server.server_names == [name]
    assert tls_echo_server.host_headers == [f"{name}:{tls_echo_server.port}"]


def test_tls_to_a_name_the_certificate_does_not_cover_fails(
    tls_echo_server: EchoServer, tls_files: TlsFiles
) -> None:
    resolver = ScriptedResolver(["127.0.0.1"])
    client = guarded_client(LOOPBACK_ALLOWED, resolver=resolver, verify=tls_files.client_context())

    with pytest.raises(httpx.ConnectError, match="certificate"):
        asyncio.run(_get(client, f"https://other.example.test:{tls_echo_server.port}/"))
    assert tls_echo_server.host_headers == []


def test_only_http_and_https_are_sent() -> None:
    client = guarded_client(OutboundPolicy(), resolver=ScriptedResolver(["93.184.215.14"]))

    with pytest.raises(OutboundRefused, match="scheme ftp"):
        asyncio.run(_get(client, "ftp://files.example.test/x"))


def test_resolution_failure_is_a_connect_error() -> None:
    async def broken(host: str, port: int) -> Sequence[str]:
        raise OSError("Name or service not known")

    client = guarded_client(OutboundPolicy(), resolver=broken)

    with pytest.raises(httpx.ConnectError, match=r"could not resolve nowhere\.example\.test"):
        asyncio.run(_get(client, "https://nowhere.example.test/"))
