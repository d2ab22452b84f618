"""The address rule: which addresses reelgate refuses to contact, and why it says so."""

from __future__ import annotations

import ipaddress

import pytest

import reelgate.outbound
from reelgate.outbound import blocked_reason, is_global
from reelgate.outbound.addresses import literal_ip

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.255.0.9", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.0.10", "private"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("0.0.0.0", "this network"),
    ("0.1.2.3", "this network"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.5", "documentation"),
    ("198.51.100.5", "documentation"),
    ("203.0.113.5", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fc00::1", "unique-local"),
    ("fd12:3456::1", "unique-local"),
    ("fe80::1", "link-local"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("2001::1", "IETF"),  # Teredo
    ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1"),
    ("::ffff:10.0.0.1", "IPv4-mapped form of 10.0.0.1"),
    ("::ffff:169.254.169.254", "link-local"),
    ("::127.0.0.1", "IPv4-compatible form of 127.0.0.1"),
    ("64:ff9b::a00:1", "NAT64 form of 10.0.0.1"),
    ("2002:7f00:1::1", "6to4 form of 127.0.0.1"),
    ("2002:a9fe:a9fe::1", "6to4 form of 169.254.169.254"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("100::1", "discard"),
    ("4000::1", "reserved"),
]

ALLOWED = [
    "93.184.215.14",
    "8.8.8.8",
    "1.1.1.1",
    "172.32.0.1",  # just outside 172.16/12
    "100.128.0.1",  # just outside 100.64/10
    "2606:4700::6810:84e5",
    "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",  # IPv4-mapped, but of a public address
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8: real traffic on IPv6-only networks
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_non_public_addresses_are_refused_with_a_reason(address: str, why: str) -> None:
    ip = ipaddress.ip_address(address)

    assert not is_global(ip)
    reason = blocked_reason(ip)
    assert reason is not None
    assert why in reason


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    ip = ipaddress.ip_address(address)

    assert is_global(ip)
    assert blocked_reason(ip) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("127.1", "127.0.0.1"),  # legacy short form
        ("2130706433", "127.0.0.1"),  # one decimal number
        ("0x7f.0.0.1", "127.0.0.1"),  # hexadecimal part
        ("0177.0.0.1", "127.0.0.1"),  # octal part
        ("example.com", None),
        ("cafe.be", None),  # hex-looking letters are still a name
        ("1e100.net", None),
    ],
)
def test_literal_hosts_are_read_like_the_system_resolver_reads_them(
    host: str, address: str | None
) -> None:
    expected = None if address is None else ipaddress.ip_address(address)

    assert literal_ip(host) == expected


def test_public_names_are_pinned() -> None:
    assert sorted(reelgate.outbound.__all__) == sorted(
        [
            "MAX_IMAGE_BYTES",
            "MAX_URL_CHARS",
            "GuardedTransport",
            "ImageFetchError",
            "IPAddress",
            "IPNetwork",
            "OutboundPolicy",
            "OutboundRefused",
            "Resolver",
            "UrlRefused",
            "blocked_reason",
            "decode_data_image",
            "fetch_image",
            "fetch_image_sync",
            "guarded_client",
            "image_format",
            "is_global",
            "system_resolver",
        ]
    )
