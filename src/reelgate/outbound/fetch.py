"""Fetching a client's input image for image-to-video (CONTRACT.md 5).

An image URL is either a `data:image/<type>;base64,` URI, decoded here without any network, or an
`https` URL, fetched once through a guarded client (`guarded_client`): resolve once, refuse
non-global addresses, connect to the checked address. Rules, each with its reason:

* Only a 2xx is an image. A 3xx is an error and is never followed: the policy checked the URL the
  client gave, not wherever its server would like to send us next.
* One total deadline (15 s) covers resolving, connecting and reading, so a server that trickles
  the body cannot hold a worker for longer.
* At most 16 MiB is read: a `Content-Length` over the cap is refused before the body, and reading
  stops as soon as the body passes the cap. The body is asked for and read uncompressed: image
  formats are already compressed, and decompressing would let a small body grow past the cap.
* The bytes must start like a PNG, JPEG, WebP or GIF file, whatever `Content-Type` says: the
  decoder behind us should only ever see the formats it is meant to read.
* Error messages name the host, never the whole URL: query strings often carry signed tokens.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
import ssl
from collections.abc import AsyncGenerator
from typing import cast

import httpx

from reelgate.errors import ImageFetchError, UrlRefused
from reelgate.outbound.policy import OutboundPolicy
from reelgate.outbound.transport import OutboundRefused, Resolver, guarded_client

MAX_IMAGE_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 15.0
IMAGE_FORMATS = "a PNG, JPEG, WebP or GIF image"

_DATA_IMAGE = re.compile(r"data:image/([a-z0-9.+-]+);base64,", re.IGNORECASE)
_REQUEST_HEADERS = {
    "Accept": "image/png, image/jpeg, image/webp, image/gif",
    "Accept-Encoding": "identity",
}


def image_format(data: bytes) -> str | None:
    """`png`, `jpeg`, `webp` or `gif` judging by the file's magic number, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


async def fetch_image(
    client: httpx.AsyncClient,
    url: str,
    policy: OutboundPolicy,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> bytes:
    """The bytes of the image at `url` (https or a data URI), or raise `ImageFetchError`.

    `client` must come from `guarded_client(policy, ...)`: the address rule is enforced by its
    transport on the connection itself; this function adds the URL check, the status, size,
    deadline and format rules of the module docstring.
    """
    if _is_data_uri(url):
        return decode_data_image(url, max_bytes=max_bytes)
    try:
        policy.check_image_url(url)
    except UrlRefused as exc:
        raise ImageFetchError(str(exc)) from None
    host = httpx.URL(url).host
    try:
        async with asyncio.timeout(timeout_seconds):
            data, content_type = await _get_capped(client, url, host, max_bytes, timeout_seconds)
    except (TimeoutError, httpx.TimeoutException):
        raise ImageFetchError(
            f"fetching the image from {host} timed out after {timeout_seconds:g} s"
        ) from None
    except OutboundRefused as exc:
        raise ImageFetchError(f"the image host {host} was {exc}") from None
    except httpx.HTTPError as exc:
        raise ImageFetchError(f"could not fetch the image from {host}: {_describe(exc)}") from None
    if image_format(data) is None:
        sent = f" ({content_type.split(';')[0].strip()[:60]})" if content_type else ""
        raise ImageFetchError(f"the file at {host}{sent} is not {IMAGE_FORMATS}")
    return data


def fetch_image_sync(
    url: str,
    policy: OutboundPolicy,
    *,
    max_bytes: int = MAX_IMAGE_BYTES,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | bool = True,
) -> bytes:
    """`fetch_image` for a thread without an event loop (the workers).

    Runs on a private event loop with its own guarded client, closed before returning. A data URI
    is decoded without either. `resolver` and `verify` are passed to `guarded_client`.
    """
    if _is_data_uri(url):
        return decode_data_image(url, max_bytes=max_bytes)

    async def fetch() -> bytes:
        async with guarded_client(
            policy, timeout_seconds=timeout_seconds, resolver=resolver, verify=verify
        ) as client:
            return await fetch_image(
                client, url, policy, max_bytes=max_bytes, timeout_seconds=timeout_seconds
            )

    return asyncio.run(fetch())


def decode_data_image(url: str, *, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """The image inside a `data:image/<type>;base64,` URI, or raise `ImageFetchError`.

    The cap applies to the decoded bytes; a payload whose length alone shows it is over the cap
    is refused without decoding it.
    """
    match = _DATA_IMAGE.match(url)
    if match is None:
        raise ImageFetchError("a data URI image must start with data:image/<type>;base64,")
    payload = url[match.end() :]
    if len(payload) // 4 * 3 - 2 > max_bytes:
        raise ImageFetchError(f"the data URI image is larger than {_size(max_bytes)}")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageFetchError("the data URI image is not valid base64") from None
    if not data:
        raise ImageFetchError("the data URI image is empty")
    if len(data) > max_bytes:
        raise ImageFetchError(f"the data URI image is larger than {_size(max_bytes)}")
    if image_format(data) is None:
        raise ImageFetchError(f"the data URI image is not {IMAGE_FORMATS}")
    return data


async def _get_capped(
    client: httpx.AsyncClient, url: str, host: str, max_bytes: int, timeout_seconds: float
) -> tuple[bytes, str | None]:
    """GET `url` and return its body (at most `max_bytes`) and its Content-Type."""
    too_large = f"the image at {host} is larger than {_size(max_bytes)}"
    async with client.stream(
        "GET", url, headers=_REQUEST_HEADERS, follow_redirects=False, timeout=timeout_seconds
    ) as response:
        _check_status(response, host)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            raise ImageFetchError(
                f"the image at {host} was sent compressed ({encoding[:40]}), which is not accepted"
            )
        declared = response.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
            raise ImageFetchError(too_large)
        body = bytearray()
        # aiter_raw is an async generator; closing it at once releases the connection.
        chunks = cast(AsyncGenerator[bytes, None], response.aiter_raw())
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                body += chunk
                if len(body) > max_bytes:
                    raise ImageFetchError(too_large)
        return bytes(body), response.headers.get("content-type")


def _check_status(response: httpx.Response, host: str) -> None:
    status = response.status_code
    if response.is_success:
        return
    reason = f"{status} {response.reason_phrase}".strip()
    if 300 <= status < 400:
        target = _redirect_host(response.headers.get("location"))
        target = f" to {target}" if target else ""
        raise ImageFetchError(
            f"the image URL at {host} answered {reason} (a redirect{target}, not followed)"
        )
    raise ImageFetchError(f"the image URL at {host} answered {reason}")


def _redirect_host(location: str | None) -> str | None:
    """The host a redirect points at, for the message; None for a relative or unreadable one."""
    if not location:
        return None
    try:
        return httpx.URL(location).host or None
    except httpx.InvalidURL:
        return None


def _is_data_uri(url: str) -> bool:
    return url[:5].lower() == "data:"


def _size(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


def _describe(exc: httpx.HTTPError) -> str:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect: {detail}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP protocol: {detail}"
    return f"{type(exc).__name__}: {detail}"
