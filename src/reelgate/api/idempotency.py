"""The `Idempotency-Key` header on create routes (IETF httpapi idempotency-key draft)."""

from __future__ import annotations

import hashlib
from typing import Annotated

import orjson
from fastapi import Header
from pydantic import BaseModel

from reelgate.core.service import Idempotency
from reelgate.errors import invalid

MAX_KEY_CHARS = 255

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="1..255 printable characters; a repeat with the same body returns the same "
        "task, with another body 422, while the first is in flight 409",
        json_schema_extra={"minLength": 1, "maxLength": MAX_KEY_CHARS},
    ),
]


def idempotency(key: str | None, route: str, body: BaseModel) -> Idempotency | None:
    """The key and a fingerprint of the request it was first used with, if a key was sent."""
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_CHARS or not key.isprintable():
        raise invalid("Idempotency-Key", f"must be 1..{MAX_KEY_CHARS} printable characters")
    canonical = orjson.dumps(body.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    fingerprint = hashlib.sha256(route.encode() + b"\n" + canonical).hexdigest()
    return Idempotency(key=key, request_hash=fingerprint)
