"""Downloads.open: a signed link is the permission; a broken one and a missing file differ."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from reelgate.blobs.links import LinkSigner
from reelgate.blobs.local import LocalBlobStore
from reelgate.errors import ApiError, ErrorKind
from reelgate.service import Downloads

KEY = "tasks/3d957031-9a2a-45e2-9dc7-bc8513059c50/1/video.mp4"


def link_parts(url: str) -> tuple[str, str, str]:
    """(key, expires, sig) as the /files route reads them from a link."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return unquote(parts.path.removeprefix("/files/")), query["expires"][0], query["sig"][0]


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner(b"link-secret", "http://testserver", 3600)


@pytest.fixture
def downloads(tmp_path: Path, signer: LinkSigner) -> Downloads:
    blobs = LocalBlobStore(tmp_path)
    blobs.put_bytes(KEY, b"mp4 bytes", "video/mp4")
    return Downloads(signer, blobs)


def refused(call: Callable[[], object]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def test_a_fresh_link_opens_the_file(downloads: Downloads, signer: LinkSigner) -> None:
    path = downloads.open(*link_parts(signer.url(KEY)))

    assert path.read_bytes() == b"mp4 bytes"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda key, expires, sig: (key.replace("video.mp4", "poster.jpg"), expires, sig),
        lambda key, expires, sig: (key, str(int(expires) + 3600), sig),
        lambda key, expires, sig: (key, expires, sig[:-1] + ("0" if sig[-1] != "0" else "1")),
        lambda key, expires, sig: (key, expires, "é" + sig[1:]),
        lambda key, expires, sig: (key, "tomorrow", sig),
    ],
    ids=["other-file", "stretched", "forged", "non-ascii", "bad-expiry"],
)
def test_a_tampered_link_is_invalid(
    downloads: Downloads,
    signer: LinkSigner,
    tamper: Callable[[str, str, str], tuple[str, str, str]],
) -> None:
    error = refused(lambda: downloads.open(*tamper(*link_parts(signer.url(KEY)))))

    assert error.kind is ErrorKind.LINK_INVALID


def test_an_expired_link_is_invalid(downloads: Downloads, signer: LinkSigner) -> None:
    old = signer.url(KEY, now=time.time() - 2 * signer.ttl_seconds)

    assert refused(lambda: downloads.open(*link_parts(old))).kind is ErrorKind.LINK_INVALID


def test_an_authentic_link_to_a_deleted_file_is_not_found(
    tmp_path: Path, signer: LinkSigner
) -> None:
    downloads = Downloads(signer, LocalBlobStore(tmp_path))

    error = refused(lambda: downloads.open(*link_parts(signer.url(KEY))))

    assert error.kind is ErrorKind.NOT_FOUND
