"""What a dialect hands the service: a create request in the service's terms, and who asks.

A dialect parses its wire format (JSON syntax, types, ranges, its own spellings) into these; the
service then applies every rule that is not wire syntax, once for all dialects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from reelgate.core.tasks import MotionVector


class Caller(Protocol):
    """Who is asking: their owner id and their cap on queued + running tasks."""

    @property
    def owner_id(self) -> str: ...

    @property
    def max_active_tasks(self) -> int: ...


@dataclass(frozen=True, slots=True)
class ImageUrl:
    """A reference image the client named: an https URL or a `data:image/…` URI."""

    url: str
    position: str = "first"


@dataclass(frozen=True, slots=True)
class ImageUpload:
    """A reference image the client uploaded with the request, already checked to be a PNG,
    JPEG, WebP or GIF of an accepted size."""

    data: bytes
    extension: str
    content_type: str
    position: str = "first"


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """An `Idempotency-Key` and a fingerprint of the request it came with."""

    key: str
    request_hash: str


@dataclass(frozen=True, slots=True)
class CreateTask:
    """A text- or image-to-video request. `ratio` is any spelling of CONTRACT.md 4.1; `seed`
    None means a random one; `dialect` and `api_version` are recorded on the task as given."""

    dialect: str
    api_version: str
    prompt: str
    model: str
    ratio: str
    seconds: int
    seed: int | None = None
    style: str = "none"
    motion: MotionVector = field(default_factory=MotionVector)
    image: ImageUrl | ImageUpload | None = None
    callback_url: str | None = None
    idempotency: IdempotencyKey | None = None
    request_id: str | None = None
    trace_context: dict[str, str] | None = None
