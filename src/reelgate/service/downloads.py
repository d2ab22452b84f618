"""Signed download links (`/files/<key>?expires=…&sig=…`): the signature is the permission.

A tampered or expired link is refused (`link_invalid`); an authentic link to a file that is gone
(the retention sweep, a delete) is `not_found`.
"""

from __future__ import annotations

from pathlib import Path

from reelgate.blobs.base import BlobStore
from reelgate.blobs.links import LinkSigner
from reelgate.errors import ApiError, ErrorKind


class Downloads:
    def __init__(self, signer: LinkSigner, blobs: BlobStore) -> None:
        self._signer = signer
        self._blobs = blobs

    def open(self, key: str, expires: str, sig: str) -> Path:
        """The local file a signed link names."""
        # hmac.compare_digest refuses non-ASCII text: such a signature is simply wrong.
        if not sig.isascii() or not self._signer.verify(key, expires, sig):
            raise ApiError(ErrorKind.LINK_INVALID, "this link is invalid or has expired")
        path = self._blobs.local_path(key)
        if path is None:
            raise ApiError(ErrorKind.NOT_FOUND, "this file no longer exists")
        return path
