"""Standard Webhooks signatures for callback deliveries (CONTRACT.md 1.3).

Each delivery carries `webhook-id` (the event id, the same on every retry, so receivers can drop
duplicates), `webhook-timestamp` (unix seconds, so receivers can refuse replays older than a few
minutes) and `webhook-signature`, `v1,<base64 HMAC-SHA256>` over `"{id}.{timestamp}.{body}"`. The
id and timestamp are inside the signed text so neither can be swapped without breaking the
signature. Any Standard Webhooks library verifies these headers with the same `whsec_` secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from reelgate import __version__

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24  # the specification's lower bound for a signing key
USER_AGENT = f"reelgate/{__version__}"


def generate_secret() -> str:
    """A new signing secret: `whsec_` followed by the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_...` secret; `ValueError` naming the problem if malformed.

    Called at start-up on `REELGATE_WEBHOOK_SECRET` so a bad secret stops the server instead of
    producing signatures no receiver can verify.
    """
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret must start with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"a webhook secret must be {SECRET_PREFIX} followed by base64") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(
            f"a webhook secret must hold at least {MIN_SECRET_BYTES} bytes (got {len(key)})"
        )
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one message: `v1,<base64 HMAC-SHA256>`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(
    secret: str,
    msg_id: str,
    timestamp: int,
    body: bytes,
    user_agent: str = USER_AGENT,
) -> dict[str, str]:
    """Every header a callback POST carries, signature included."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
        "Content-Type": "application/json",
        "User-Agent": user_agent,
    }
