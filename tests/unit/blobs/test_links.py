from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from reelgate.blobs.links import LinkSigner

SIGNER = LinkSigner(b"k" * 32, "http://127.0.0.1:8000/", ttl_seconds=3600)


def _parts(url: str) -> tuple[str, str, str]:
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path.removeprefix("/files/"), query["expires"][0], query["sig"][0]


def test_link_verifies_until_it_expires() -> None:
    url = SIGNER.url("tasks/a/1/video.mp4", now=1_000_000)
    assert url.startswith("http://127.0.0.1:8000/files/tasks/a/1/video.mp4?expires=1003600&")
    key, expires, sig = _parts(url)
    assert SIGNER.verify(key, expires, sig, now=1_003_600)
    assert not SIGNER.verify(key, expires, sig, now=1_003_601)


def test_tampering_breaks_the_signature() -> None:
    key, expires, sig = _parts(SIGNER.url("tasks/a/1/video.mp4", now=1_000_000))
    assert not SIGNER.verify("tasks/b/1/video.mp4", expires, sig, now=1_000_000)
    assert not SIGNER.verify(key, str(int(expires) + 1), sig, now=1_000_000)
    assert not SIGNER.verify(key, "soon", sig, now=1_000_000)
    other = LinkSigner(b"x" * 32, "http://h", 3600)
    assert not other.verify(key, expires, sig, now=1_000_000)
