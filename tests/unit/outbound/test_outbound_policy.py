"""Creation-time URL checks: what a client may put in `callback_url` and `image`."""

from __future__ import annotations

import base64
import ipaddress

import pytest

from reelgate.outbound import MAX_URL_CHARS, OutboundPolicy, UrlRefused
from reelgate.settings import Settings

STRICT = OutboundPolicy()
PNG_1PX = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(32)).decode()

CALLBACKS_ACCEPTED = [
    "http://baidu.com",  # the seed's own example: accepted without resolving it
    "https://hooks.example.com/reelgate?token=abc",
    "https://hooks.example.com:8443/cb",
    "http://93.184.215.14/cb",
    "http://[2606:4700::6810:84e5]:8080/cb",
    "https://bücher.example/hook",  # internationalised names are fine
    "https://user:pass@hooks.example.com/cb",
    "http://does-not-resolve.invalid/cb",  # names are judged at delivery, not here
]

CALLBACKS_REFUSED = [
    ("http://10.0.0.1/cb", "private"),
    ("http://192.168.1.1/cb", "private"),
    ("http://172.20.0.5:9000/cb", "private"),
    ("http://127.0.0.1:8000/cb", "loopback"),
    ("http://127.1/cb", "loopback"),
    ("http://2130706433/cb", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://100.64.0.1/cb", "carrier-grade NAT"),
    ("http://[::1]/cb", "loopback"),
    ("http://[fc00::1]/cb", "unique-local"),
    ("http://[::ffff:127.0.0.1]/cb", "IPv4-mapped"),
    ("http://[::ffff:10.0.0.1]/cb", "IPv4-mapped"),
    ("http://0.0.0.0:8000/cb", "this network"),
    ("http://224.0.0.1/cb", "multicast"),
    ("http://localhost:8000/cb", "loopback name"),
    ("http://LOCALHOST./cb", "loopback name"),
    ("http://api.localhost/cb", "loopback name"),
    ("ftp://files.example.com/cb", "must start with http:// or https://"),
    ("file:///etc/passwd", "must start with http:// or https://"),
    ("javascript:alert(1)", "must start with http:// or https://"),
    ("/relative/path", "absolute URL"),
    ("hooks.example.com/cb", "absolute URL"),
    ("", "absolute URL"),
    ("http:///cb", "no host"),
    ("http://", "no host"),
    ("http://exa mple.com/cb", "spaces or control characters"),
    ("http://example.com/\r\nX-Injected: 1", "spaces or control characters"),
    ("https://example.com/" + "a" * MAX_URL_CHARS, f"longer than {MAX_URL_CHARS}"),
]

IMAGES_ACCEPTED = [
    "https://images.example.com/cat.png",
    "https://93.184.215.14/cat.jpg",
    f"data:image/png;base64,{PNG_1PX}",
    f"DATA:IMAGE/JPEG;BASE64,{PNG_1PX}",
    f"data:image/webp;base64,{PNG_1PX}",
]

IMAGES_REFUSED = [
    ("http://images.example.com/cat.png", "must start with https://"),
    ("https://10.0.0.1/cat.png", "private"),
    ("https://[::1]/cat.png", "loopback"),
    ("https://localhost/cat.png", "loopback name"),
    ("https://169.254.169.254/cat.png", "link-local"),
    ("ftp://images.example.com/cat.png", "must start with https://"),
    ("cat.png", "absolute URL"),
    (f"data:text/plain;base64,{PNG_1PX}", "data:image/<type>;base64,"),
    ("data:image/png,rawbytes", "data:image/<type>;base64,"),
    ("data:image/png;base64,***not base64***", "not valid base64"),
    ("data:image/png;base64,", "empty"),
]


@pytest.mark.parametrize("url", CALLBACKS_ACCEPTED)
def test_callback_urls_accepted(url: str) -> None:
    STRICT.check_callback_url(url)


@pytest.mark.parametrize(("url", "why"), CALLBACKS_REFUSED)
def test_callback_urls_refused_with_a_reason(url: str, why: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        STRICT.check_callback_url(url)
    assert why in str(refused.value)


@pytest.mark.parametrize("url", IMAGES_ACCEPTED)
def test_image_urls_accepted(url: str) -> None:
    STRICT.check_image_url(url)


@pytest.mark.parametrize(("url", "why"), IMAGES_REFUSED)
def test_image_urls_refused_with_a_reason(url: str, why: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        STRICT.check_image_url(url)
    assert why in str(refused.value)


def test_a_refusal_tells_the_operator_how_to_allow_it() -> None:
    with pytest.raises(UrlRefused, match="REELGATE_OUTBOUND_ALLOW"):
        STRICT.check_callback_url("http://127.0.0.1:9000/cb")


def test_allow_list_by_cidr_lets_loopback_and_its_mapped_form_through() -> None:
    policy = OutboundPolicy(allow_nets=(ipaddress.ip_network("127.0.0.0/8"),))

    policy.check_callback_url("http://127.0.0.1:9000/cb")
    policy.check_callback_url("http://127.3.4.5/cb")
    policy.check_callback_url("http://[::ffff:127.0.0.1]:9000/cb")
    with pytest.raises(UrlRefused, match="private"):
        policy.check_callback_url("http://10.0.0.1/cb")
    with pytest.raises(UrlRefused, match="loopback"):
        policy.check_callback_url("http://[::1]/cb")


def test_allow_list_by_host_name_is_exact() -> None:
    policy = OutboundPolicy(allow_hosts=frozenset({"localhost"}))

    policy.check_callback_url("http://localhost:8000/cb")
    policy.check_image_url("https://LocalHost./cat.png")
    with pytest.raises(UrlRefused, match="loopback name"):
        policy.check_callback_url("http://api.localhost/cb")
    with pytest.raises(UrlRefused, match="loopback"):
        policy.check_callback_url("http://127.0.0.1/cb")


def test_policy_from_settings_reads_reelgate_outbound_allow() -> None:
    settings = Settings(outbound_allow="localhost, 127.0.0.0/8, 10.1.2.3, fd00::/8")

    policy = OutboundPolicy.from_settings(settings)

    assert policy.allow_hosts == frozenset({"localhost"})
    policy.check_callback_url("http://localhost/cb")
    policy.check_callback_url("http://127.0.0.1/cb")
    policy.check_callback_url("http://10.1.2.3/cb")
    policy.check_callback_url("http://[fd00::5]/cb")
    with pytest.raises(UrlRefused):
        policy.check_callback_url("http://10.1.2.4/cb")


@pytest.mark.parametrize(
    "url", ["https://a.com:99999/", "https://a.com:0/hook", "https://a.com%00/", "https://a%2ecom/"]
)
def test_impossible_ports_and_escaped_hosts_are_refused(url: str) -> None:
    with pytest.raises(UrlRefused):
        OutboundPolicy().check_callback_url(url)
