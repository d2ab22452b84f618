"""What every upstream protocol client does, in reelgate's terms.

A client turns a `JobRequest` into the upstream's create call and the upstream's task into a
`JobStatus`; it raises `UpstreamError` (retryable or not, with the upstream's `Retry-After`)
for anything else. It never retries by itself: the engine decides (engine.py), because only it
knows whether a call is safe to repeat.

Connections: polls reuse up to `keepalive` open connections per endpoint (the entry's
`concurrency`), with no cap on how many may be open at once, since each job has at most one call
in flight; a create always goes over a fresh connection, because a kept-alive one can be closed
by the server just as the create is sent, and a create whose answer is lost is never repeated.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from types import ModuleType
from typing import Any, Protocol

import httpx

from reelgate.core.tasks import UPSTREAM_ENDED, MotionVector
from reelgate.engines.base import ImageBytes
from reelgate.errors import UpstreamError

VIDEO_TYPES = frozenset(
    {"video/mp4", "video/quicktime", "application/octet-stream", "binary/octet-stream"}
)
MAX_ERROR_TEXT = 300  # characters of an upstream's error body kept in a message


class JobState(StrEnum):
    QUEUED = "QUEUED"
    THROTTLED = "THROTTLED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def terminal(self) -> bool:
        return self.value in UPSTREAM_ENDED


@dataclass(frozen=True, slots=True)
class JobRequest:
    """One task as an upstream create call needs it (already mapped to what it accepts)."""

    model: str
    prompt: str
    width: int
    height: int
    seconds: int
    seed: int
    style: str = "none"  # sent as a field only where the protocol has one (CometAPI)
    motion: MotionVector = field(default_factory=MotionVector)  # likewise
    image_url: str | None = None  # an https URL or data URI the upstream may fetch itself
    image: ImageBytes | None = None  # the image's bytes, for multipart uploads
    extra: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str = ""  # our task id: a repeated create maps to the same upstream job

    def image_uri(self) -> str | None:
        """The image as a URI: the client's https URL as given, else a data URI of its bytes."""
        if self.image_url is not None and self.image_url.startswith("https://"):
            return self.image_url
        if self.image is None:
            return self.image_url
        encoded = base64.b64encode(self.image.data).decode("ascii")
        return f"data:{self.image.content_type};base64,{encoded}"


@dataclass(frozen=True, slots=True)
class JobStatus:
    state: JobState
    progress: float | None = None  # 0..1 when the upstream says
    output_url: str | None = None  # where the finished video is, when the upstream gives a URL
    failure: str | None = None
    failure_code: str | None = None


def pool_limits(keepalive: int) -> httpx.Limits:
    """Connection limits of one endpoint's client (`keepalive` 0: a fresh connection per call)."""
    return httpx.Limits(max_connections=None, max_keepalive_connections=keepalive)


class UpstreamClient(Protocol):
    """One protocol, spoken to any of an entry's endpoints."""

    async def submit(self, endpoint: str, request: JobRequest) -> str:
        """Create the job; returns the upstream's id for it."""

    async def status(self, endpoint: str, job_id: str) -> JobStatus: ...

    async def cancel(self, endpoint: str, job_id: str) -> None: ...

    def content_url(self, endpoint: str, job_id: str, status: JobStatus) -> str:
        """Where to download the finished video from."""

    async def check(self, endpoint: str) -> None:
        """Prove the endpoint answers and takes the key, creating nothing; UpstreamError if not."""

    async def aclose(self) -> None: ...


def retry_after(headers: httpx.Headers | Any) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds only), or None."""
    value = headers.get("retry-after") if headers is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return max(0.0, seconds) if seconds == seconds else None


def status_error(what: str, status: int, text: str, headers: Any = None) -> UpstreamError:
    """The error for an HTTP status: 429 and 5xx may be retried, 401/403 are the key."""
    detail = " ".join(text.split())[:MAX_ERROR_TEXT]
    if status in (401, 403):
        return UpstreamError(
            f"{what}: the upstream refused the key (HTTP {status}): {detail}", status=status
        )
    retryable = status == 429 or status >= 500
    return UpstreamError(
        f"{what}: HTTP {status}: {detail}",
        retryable=retryable,
        retry_after_seconds=retry_after(headers),
        status=status,
    )


def transport_error(what: str, exc: BaseException) -> UpstreamError:
    """The error for a failed connection: none made (refused, or timed out connecting: nothing
    was sent, so even a create may be repeated) or broken mid-call. httpx and httpx2 (the
    `openai` SDK's client) name their exceptions alike."""
    kind = type(exc).__name__
    if kind in ("ConnectError", "ConnectTimeout"):
        reason = "connection refused" if kind == "ConnectError" else "connect timeout"
        return UpstreamError(f"{what}: {reason}: {exc}"[:400], retryable=True, refused=True)
    return UpstreamError(f"{what}: {kind}: {exc}"[:400], retryable=True)


@contextlib.asynccontextmanager
async def sdk_errors(what: str, sdk: ModuleType) -> AsyncIterator[None]:
    """An official SDK's exceptions (`runwayml`, `openai`: both name them alike) as
    UpstreamError; the key never appears in them."""
    try:
        yield
    except UpstreamError:
        raise
    except sdk.APIStatusError as exc:
        raise status_error(what, exc.status_code, exc.response.text, exc.response.headers) from None
    except sdk.APIConnectionError as exc:
        raise transport_error(what, exc.__cause__ or exc) from None
    except (sdk.APIResponseValidationError, ValueError, httpx.DecodingError) as exc:
        raise UpstreamError(f"{what}: the answer is not valid: {exc}"[:400]) from None
