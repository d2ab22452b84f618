"""The outbound URL policy: which callback and image URLs a client may give us (CONTRACT.md 5).

Two moments, two checks:

* At creation (`check_callback_url`, `check_image_url`) the URL's shape is checked and a host that
  is a literal address (or `localhost`) is judged by the address rule. Host names are *not*
  resolved: DNS can change before delivery, a name that does not resolve today may tomorrow, and a
  request must not wait on a resolver (the seed's own `http://baidu.com` is accepted anywhere).
* At connection time `GuardedTransport` (transport.py) resolves the name once, judges every address
  and connects to the one it judged. That is the check that actually protects the network; the
  creation check exists so that a client hears about an obviously bad URL at once, as a 400.

The operator's allow list (`REELGATE_OUTBOUND_ALLOW`) exempts host names and CIDR blocks from the
address rule, for development machines and tests that run receivers on loopback.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from reelgate.errors import UrlRefused
from reelgate.outbound.addresses import IPAddress, IPNetwork, blocked_reason, literal_ip, unwrap

if TYPE_CHECKING:
    from reelgate.settings import Settings

MAX_URL_CHARS = 2048
_DATA_IMAGE = re.compile(r"data:image/([a-z0-9.+-]+);base64,", re.IGNORECASE)
_ALLOW_HINT = "an operator can allow it with REELGATE_OUTBOUND_ALLOW"


@dataclass(frozen=True)
class OutboundPolicy:
    """Which hosts reelgate may contact on a client's behalf.

    `allow_hosts` are host names (lower case, no trailing dot) and `allow_nets` address blocks that
    are exempt from the address rule; everything else must be globally routable.
    """

    allow_hosts: frozenset[str] = field(default_factory=frozenset)
    allow_nets: tuple[IPNetwork, ...] = ()

    def __post_init__(self) -> None:
        normalised = frozenset(_normalise_host(h) for h in self.allow_hosts)
        object.__setattr__(self, "allow_hosts", normalised)

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        """The policy configured by `REELGATE_OUTBOUND_ALLOW`."""
        hosts, nets = settings.outbound_allow_rules()
        return cls(allow_hosts=hosts, allow_nets=nets)

    def host_allowed(self, host: str) -> bool:
        """True when the operator exempted this host name from the address rule."""
        return _normalise_host(host) in self.allow_hosts

    def address_refusal(self, ip: IPAddress) -> str | None:
        """Why `ip` may not be contacted (a phrase), or None when it may.

        An address inside an allowed block passes, and so does an IPv6 form wrapping an IPv4
        address inside one (`::ffff:127.0.0.1` with `127.0.0.0/8` allowed), since both reach the
        same host.
        """
        for candidate in {ip, unwrap(ip)}:
            if any(
                candidate.version == net.version and candidate in net for net in self.allow_nets
            ):
                return None
        return blocked_reason(ip)

    def name_refusal(self, host: str) -> str | None:
        """Why the host *name* may not be contacted before any resolution (a phrase), or None.

        `localhost` and `*.localhost` are loopback by definition (RFC 6761), whatever a resolver
        says, so they are refused by name unless the operator allowed that exact name.
        """
        name = _normalise_host(host)
        if self.host_allowed(name):
            return None
        if name == "localhost" or name.endswith(".localhost"):
            return "a loopback name"
        return None

    def host_refusal(self, host: str) -> str | None:
        """Why a URL host may not be contacted judging by its text alone (a phrase), or None.

        A literal address is judged by the address rule; a name only by `name_refusal`, since its
        addresses are known only when it is resolved at connection time.
        """
        ip = literal_ip(host)
        if ip is None:
            return self.name_refusal(host)
        return self.address_refusal(ip)

    def check_callback_url(self, url: str) -> None:
        """Accept an absolute http(s) callback URL or raise `UrlRefused`. Resolves nothing."""
        self._check_web_url(url, schemes=("http", "https"), what="callback URL")

    def check_image_url(self, url: str) -> None:
        """Accept an https image URL or a `data:image/...;base64,` URI, or raise `UrlRefused`.

        Plain http is refused for images: the bytes become the first frame of the client's video,
        and on the open internet anyone on the path could swap them.
        """
        if url[:5].lower() == "data:":
            _check_data_image(url)
            return
        self._check_web_url(url, schemes=("https",), what="image URL")

    def _check_web_url(self, url: str, *, schemes: tuple[str, ...], what: str) -> None:
        wanted = " or ".join(f"{s}://" for s in schemes)
        if len(url) > MAX_URL_CHARS:
            raise UrlRefused(f"the {what} is longer than {MAX_URL_CHARS} characters")
        if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
            raise UrlRefused(f"the {what} contains spaces or control characters")
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise UrlRefused(f"the {what} is not a valid URL ({exc})") from None
        if not parsed.scheme:
            raise UrlRefused(f"the {what} must be an absolute URL starting with {wanted}")
        if parsed.scheme not in schemes:
            raise UrlRefused(f"the {what} must start with {wanted}, not {parsed.scheme}://")
        host = _normalise_host(parsed.raw_host.decode("ascii"))
        if not host:
            raise UrlRefused(f"the {what} has no host")
        if "%" in host and not host.startswith("["):
            raise UrlRefused(f"the {what} host {host} is not a valid host name")
        if parsed.port is not None and not 1 <= parsed.port <= 65535:
            raise UrlRefused(f"the {what} port {parsed.port} is not between 1 and 65535")
        reason = self.host_refusal(host)
        if reason is not None:
            raise UrlRefused(f"the {what} host {host} is {reason}; {_ALLOW_HINT}")


def _normalise_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _check_data_image(url: str) -> None:
    """A data URI must declare an image type and carry well-formed base64 that is not empty."""
    match = _DATA_IMAGE.match(url)
    if match is None:
        raise UrlRefused("a data URI image must start with data:image/<type>;base64,")
    payload = url[match.end() :]
    try:
        decoded = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UrlRefused("the data URI image is not valid base64") from None
    if not decoded:
        raise UrlRefused("the data URI image is empty")
