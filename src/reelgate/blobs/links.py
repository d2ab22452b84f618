"""Signed, expiring download links served by reelgate itself.

A link is `<public url>/files/<key>?expires=<unix s>&sig=<hex>`, where `sig` is an HMAC-SHA256
over the key and the expiry with a secret kept in the data directory. Nothing is stored per link,
so any replica with the same secret can serve any link, and a link cannot be stretched or pointed
at another file without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote


class LinkSigner:
    def __init__(self, secret: bytes, public_url: str, ttl_seconds: int) -> None:
        self._secret = secret
        self.public_url = public_url.rstrip("/")
        self.ttl_seconds = ttl_seconds

    def _sig(self, key: str, expires: int) -> str:
        message = f"{key}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def url(self, key: str, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + self.ttl_seconds)
        signature = self._sig(key, expires)
        return f"{self.public_url}/files/{quote(key)}?expires={expires}&sig={signature}"

    def verify(self, key: str, expires: str, sig: str, now: float | None = None) -> bool:
        """True when the link is authentic and unexpired."""
        try:
            expiry = int(expires)
        except ValueError:
            return False
        if expiry < (now if now is not None else time.time()):
            return False
        return hmac.compare_digest(self._sig(key, expiry).encode(), sig.encode())
