"""The `BlobStore` seam. Keys are relative, slash-separated paths such as
`tasks/<task id>/<attempt>/video.mp4`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from reelgate.core.tasks import Outputs


class BlobStore(Protocol):
    def put_file(self, key: str, source: Path, content_type: str) -> None:
        """Store `source` under `key`, replacing what was there. The store may take the file
        over (move it), so the caller must not use `source` afterwards."""

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing what was there."""

    def get_bytes(self, key: str) -> bytes:
        """The blob's content; FileNotFoundError when there is none."""

    def local_path(self, key: str) -> Path | None:
        """A readable path for `key` when the store is local and the blob exists, else None."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every blob under `prefix`; returns how many were deleted."""

    def ping(self) -> None:
        """Raise when the store cannot be written."""


class Links(Protocol):
    """Download links for blobs: reelgate's own signed `/files/…` URLs (`LinkSigner`) or the
    bucket's presigned URLs (`S3Links`). Either way a link works without an API key and expires."""

    def url(self, key: str) -> str:
        """A link to `key` that stops working after the configured time."""


@dataclass(frozen=True, slots=True)
class OutputLinks:
    """Fresh links to a finished task's files."""

    video: str
    poster: str


def output_links(links: Links, outputs: Outputs | None) -> OutputLinks | None:
    """Links to `outputs`, or None when there are none (not finished, or expired)."""
    if outputs is None:
        return None
    return OutputLinks(video=links.url(outputs.video_key), poster=links.url(outputs.poster_key))


def validate_key(key: str) -> str:
    """Refuse keys that could escape the store's root."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid blob key {key!r}")
    return key
