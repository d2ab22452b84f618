"""Which IP addresses reelgate may connect to on a user's behalf.

A callback URL or an input-image URL is chosen by the client, so any connection reelgate makes to it
is a request the client makes through our network position (SSRF, OWASP API7). The rule: only
globally routable unicast addresses. Everything an attacker could use to reach *our* side of the
network is refused: loopback, private and shared (CGNAT) ranges, link-local (which holds the cloud
metadata service at 169.254.169.254), unique-local IPv6, multicast, unspecified, reserved and
documentation ranges. IPv6 forms that carry an IPv4 address inside (IPv4-mapped, IPv4-compatible,
NAT64, 6to4) are unwrapped and judged by the IPv4 address, because a dual-stack socket or a
translator delivers them there.

The tables are written out here rather than taken from `ipaddress.IPv4Address.is_global`: that
property has changed between Python patch releases, and a security rule must not move with the
interpreter.
"""

from __future__ import annotations

import ipaddress
import re
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# IPv4 special-purpose blocks (IANA registry, RFC 6890 and successors) that must never be contacted.
_BLOCKED_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "a 'this network' address"),
    (_V4("10.0.0.0/8"), "a private address"),
    (_V4("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),
    (_V4("127.0.0.0/8"), "a loopback address"),
    (_V4("169.254.0.0/16"), "a link-local address (cloud metadata lives here)"),
    (_V4("172.16.0.0/12"), "a private address"),
    (_V4("192.0.0.0/24"), "an IETF protocol assignment"),
    (_V4("192.0.2.0/24"), "a documentation address"),
    (_V4("192.88.99.0/24"), "a 6to4 relay anycast address"),
    (_V4("192.168.0.0/16"), "a private address"),
    (_V4("198.18.0.0/15"), "a benchmarking address"),
    (_V4("198.51.100.0/24"), "a documentation address"),
    (_V4("203.0.113.0/24"), "a documentation address"),
    (_V4("224.0.0.0/4"), "a multicast address"),
    (_V4("240.0.0.0/4"), "a reserved address"),
)

# IPv6: only 2000::/3 (global unicast) is ever routable on the internet; inside it a few blocks are
# still special. Outside it, these names make the refusal message precise.
_GLOBAL_UNICAST_V6 = _V6("2000::/3")
_BLOCKED_V6_IN_GLOBAL: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("2001::/23"), "an IETF protocol assignment (Teredo, ORCHID, ...)"),
    (_V6("2001:db8::/32"), "a documentation address"),
    (_V6("3fff::/20"), "a documentation address"),
)
_NAMED_V6_OUTSIDE_GLOBAL: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("fc00::/7"), "a unique-local address"),
    (_V6("fe80::/10"), "a link-local address"),
    (_V6("fec0::/10"), "a site-local address"),
    (_V6("ff00::/8"), "a multicast address"),
    (_V6("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (_V6("100::/64"), "a discard-only address"),
)
_NAT64_V6 = _V6("64:ff9b::/96")
_COMPATIBLE_V6 = _V6("::/96")

# Anything inet_aton could read as IPv4: "127.1", "2130706433", "0x7f.0.0.1", "017700000001".
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)


def blocked_reason(ip: IPAddress) -> str | None:
    """Why `ip` may not be contacted, as a phrase ("a loopback address"); None when it may."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_reason(ip)
    if ip == ipaddress.IPv6Address("::"):
        return "the unspecified address"
    if ip == ipaddress.IPv6Address("::1"):
        return "a loopback address"
    embedded = _embedded_v4(ip)
    if embedded is not None:
        form, v4 = embedded
        reason = _v4_reason(v4)
        return None if reason is None else f"{form} of {v4}, {reason}"
    if ip in _GLOBAL_UNICAST_V6:
        for net, reason in _BLOCKED_V6_IN_GLOBAL:
            if ip in net:
                return reason
        return None
    for net, reason in _NAMED_V6_OUTSIDE_GLOBAL:
        if ip in net:
            return reason
    return "a reserved address (outside global unicast 2000::/3)"


def is_global(ip: IPAddress) -> bool:
    """True when `ip` is a globally routable unicast address that reelgate may connect to."""
    return blocked_reason(ip) is None


def unwrap(ip: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped/compatible, NAT64 or 6to4 IPv6 address, else `ip`."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_v4(ip)
        if embedded is not None:
            return embedded[1]
    return ip


def literal_ip(host: str) -> IPAddress | None:
    """The address a URL host names literally, or None for a host name.

    Besides the canonical forms this reads the legacy numeric IPv4 spellings (`127.1`,
    `2130706433`, `0x7f.0.0.1`) the way the system resolver would, so they cannot slip past the
    literal-address rule as "host names".
    """
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(text) is None:
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def _v4_reason(ip: ipaddress.IPv4Address) -> str | None:
    for net, reason in _BLOCKED_V4:
        if ip in net:
            return reason
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    """An IPv4 address carried inside `ip` and the name of the form that carries it."""
    if ip.ipv4_mapped is not None:
        return "an IPv4-mapped form", ip.ipv4_mapped
    if ip in _NAT64_V6:
        return "a NAT64 form", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "a 6to4 form", ip.sixtofour
    if ip in _COMPATIBLE_V6:
        return "an IPv4-compatible form", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None
