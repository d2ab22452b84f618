"""An httpx transport that only connects where the outbound policy allows.

Checking a URL and then letting the HTTP stack connect to it is not enough: the stack resolves the
name again, and a hostile DNS server can answer the check with a public address and the connection
with 127.0.0.1 (DNS rebinding). `GuardedTransport` therefore owns resolution:

1. resolve the host once, through an injectable resolver;
2. refuse unless *every* address it returned is allowed (a name that mixes public and private
   records is exactly what a rebinding attacker serves, and the system could pick either one);
3. hand the request to an ordinary httpx transport with the URL rewritten to the first checked
   address, keeping the original `Host` header and passing the original name as the TLS server
   name (httpcore's `sni_hostname` request extension), so certificates are still verified
   against the name the client gave.

It never follows redirects (transports never do; clients must also pass `follow_redirects=False`,
as `guarded_client` does), and it keeps no idle connections: pooled connections are keyed by
address, so a connection opened and verified for one name could otherwise be reused for another
name on the same address without its certificate ever being checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence

import httpx

from reelgate.errors import UrlRefused
from reelgate.outbound.addresses import IPAddress, literal_ip
from reelgate.outbound.policy import OutboundPolicy

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""An async function mapping (host name, port) to IP address strings, best first."""

DEFAULT_TIMEOUT_SECONDS = 15.0
_DEFAULT_PORTS = {"http": 80, "https": 443}


class OutboundRefused(httpx.TransportError, UrlRefused):
    """The outbound policy refused the connection before any byte was sent; the message says why.
    It is an httpx transport error (a failed request to httpx) and a `UrlRefused` (a policy
    decision, never worth repeating, to reelgate)."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Resolve `host` with the operating system's resolver (getaddrinfo), in its order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedTransport(httpx.AsyncBaseTransport):
    """Resolve once, check every address, connect to the checked address (see module docstring).

    `verify` is passed to the inner transport (an `ssl.SSLContext` for a private CA in tests);
    `inner` replaces the inner transport entirely and then receives the pinned requests.
    """

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._policy = policy
        self._resolver: Resolver = resolver or system_resolver
        self._inner = inner or httpx.AsyncHTTPTransport(
            verify=verify,
            trust_env=False,
            http2=False,
            retries=0,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=0),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` to the address its host was checked at, or raise `OutboundRefused`."""
        scheme = request.url.scheme
        if scheme not in _DEFAULT_PORTS:
            raise OutboundRefused(
                f"refused: scheme {scheme or '(none)'}:// is not allowed", request=request
            )
        host = request.url.raw_host.decode("ascii").lower().rstrip(".")
        if not host:
            raise OutboundRefused("refused: the URL has no host", request=request)
        ip = literal_ip(host)
        if ip is not None:
            reason = self._policy.address_refusal(ip)
            if reason is not None:
                raise OutboundRefused(f"refused: {ip} is {reason}", request=request)
            return await self._inner.handle_async_request(_pinned(request, ip, server_name=None))
        reason = self._policy.name_refusal(host)
        if reason is not None:
            raise OutboundRefused(f"refused: {host} is {reason}", request=request)
        ip = await self._resolve_checked(host, request)
        return await self._inner.handle_async_request(_pinned(request, ip, server_name=host))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def _resolve_checked(self, host: str, request: httpx.Request) -> IPAddress:
        """Resolve `host` exactly once and return the address to connect to, or refuse."""
        port = request.url.port or _DEFAULT_PORTS[request.url.scheme]
        timeouts = request.extensions.get("timeout", {})
        limit = timeouts.get("connect") if isinstance(timeouts, dict) else None
        try:
            async with asyncio.timeout(limit):
                answers = await self._resolver(host, port)
        except TimeoutError:
            raise httpx.ConnectTimeout(f"resolving {host} timed out", request=request) from None
        except OSError as exc:
            raise httpx.ConnectError(f"could not resolve {host}: {exc}", request=request) from None
        addresses = [_parse_answer(host, answer, request) for answer in answers]
        if not addresses:
            raise httpx.ConnectError(f"{host} resolved to no address", request=request)
        if not self._policy.host_allowed(host):
            for ip in addresses:
                reason = self._policy.address_refusal(ip)
                if reason is not None:
                    raise OutboundRefused(
                        f"refused: {host} resolves to {ip}, {reason}", request=request
                    )
        return addresses[0]


def guarded_client(
    policy: OutboundPolicy,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | bool = True,
) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` for client-chosen URLs: guarded transport, no redirects, no env.

    `trust_env=False` keeps `HTTP(S)_PROXY` and `.netrc` out of it: a proxy would do the
    connecting (and its own resolving) for us, undoing the address check.
    """
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, resolver=resolver, verify=verify),
        follow_redirects=False,
        trust_env=False,
        timeout=timeout_seconds,
    )


def _parse_answer(host: str, answer: str, request: httpx.Request) -> IPAddress:
    try:
        return ipaddress.ip_address(answer)
    except ValueError:
        raise OutboundRefused(
            f"refused: resolving {host} gave {answer!r}, which is not an IP address",
            request=request,
        ) from None


def _pinned(request: httpx.Request, ip: IPAddress, *, server_name: str | None) -> httpx.Request:
    """A copy of `request` aimed at `ip`, still presenting the original host name.

    The `Host` header (set by httpx from the original URL) travels unchanged; `server_name`, when
    given, becomes the TLS SNI and the name the certificate is verified against.
    """
    headers = request.headers.copy()
    if "host" not in headers:
        headers["Host"] = request.url.netloc.decode("ascii")
    extensions = dict(request.extensions)
    if server_name is not None:
        extensions["sni_hostname"] = server_name
    return httpx.Request(
        request.method,
        request.url.copy_with(host=str(ip)),
        headers=headers,
        stream=request.stream,
        extensions=extensions,
    )
