"""One callback delivery attempt: sign, POST once, classify the reply (CONTRACT.md 1.3).

`deliver` is the only place that talks to a receiver. It never raises for anything the network or
the receiver does; every problem becomes an `AttemptResult` that the dispatcher records and feeds
to the retry schedule. Rules, each with its reason:

* Success is any 2xx. A 3xx is a failure and is not followed: the receiver chose the URL when the
  task was created, and a redirect would let it point us somewhere the policy never checked.
* 410 Gone means the receiver has removed the endpoint on purpose; retrying would be pointless.
* One total deadline (15 s by default) covers resolving, connecting, sending and reading: a
  receiver that trickles its reply a byte at a time cannot hold a dispatcher slot for longer.
* At most 64 KiB of the reply is read, raw (no decompression, so a small gzip bomb stays small),
  then the connection is dropped: the status line is all we need, the rest is for the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import email.utils
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

import httpx

from reelgate.notifier import signing
from reelgate.outbound.transport import OutboundRefused

DEFAULT_TIMEOUT_SECONDS = 15.0
MAX_REPLY_BYTES = 64 * 1024
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0  # the schedule's longest wait; longer values are capped


class Outcome(StrEnum):
    """What the dispatcher should do after an attempt."""

    DELIVERED = "delivered"  # any 2xx: done
    GONE = "gone"  # 410: the receiver removed the endpoint; stop retrying this event
    RETRY = "retry"  # anything else: try again on the schedule


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt did, as recorded in the delivery log and shown to the task's owner.

    `outcome` decides what happens next; `error` only explains. `error` is None for a clean 2xx and
    may be set alongside `delivered` when the status arrived but reading the reply then failed.
    """

    outcome: Outcome
    status_code: int | None
    latency_ms: float
    error: str | None = None
    retry_after_seconds: float | None = None
    reply_bytes: int = 0


async def deliver(
    client: httpx.AsyncClient,
    url: str,
    msg_id: str,
    body: bytes,
    secret: str,
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    now: Callable[[], float] | None = None,
    trace_headers: Mapping[str, str] | None = None,
) -> AttemptResult:
    """POST `body`, signed with `secret` under event id `msg_id`, to `url` once.

    `client` should come from `reelgate.outbound.guarded_client`, so the address policy applies to
    every connection. `now` (unix seconds) stamps `webhook-timestamp` and anchors an HTTP-date
    `Retry-After`; it defaults to `time.time`. `trace_headers` (W3C `traceparent`, sent while
    tracing is on) go out beside the signature, which does not cover them. Network and receiver
    problems never raise.
    """
    clock = now or time.time
    sent_at = clock()
    request_headers = {
        **(trace_headers or {}),
        **signing.headers(secret, msg_id, int(sent_at), body),
    }
    started = time.perf_counter()
    status: int | None = None
    retry_after: float | None = None
    location: str | None = None
    reply_bytes = 0
    error: str | None = None
    try:
        async with (
            asyncio.timeout(timeout_seconds),
            client.stream(
                "POST",
                url,
                content=body,
                headers=request_headers,
                follow_redirects=False,
                timeout=timeout_seconds,
            ) as response,
        ):
            status = response.status_code
            location = response.headers.get("location")
            if not response.is_success:
                retry_after = parse_retry_after(response.headers.get("retry-after"), now=sent_at)
            reply_bytes = await _read_capped(response, MAX_REPLY_BYTES)
    except (TimeoutError, httpx.TimeoutException):
        stage = "waiting for the reply" if status is None else "reading the reply"
        error = f"timed out after {timeout_seconds:g} s {stage}"
    except OutboundRefused as exc:
        error = str(exc)
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        error = _describe(exc)
    latency_ms = round((time.perf_counter() - started) * 1000.0, 1)
    return _classify(status, latency_ms, error, retry_after, reply_bytes, location)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds from `now` that a `Retry-After` header asks for, capped at 24 h; None if unusable.

    Both forms of RFC 9110 are read: delay-seconds (`120`) and an HTTP-date. A date in the past
    means "now" (0 s).
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": HTTP-dates are always UTC
        when = when.replace(tzinfo=datetime.UTC)
    return min(max(when.timestamp() - now, 0.0), MAX_RETRY_AFTER_SECONDS)


async def _read_capped(response: httpx.Response, cap: int) -> int:
    """Read at most `cap` bytes of the raw reply body and return how many were read."""
    read = 0
    # aiter_raw is an async generator; closing it at once releases the connection deterministically.
    chunks = cast(AsyncGenerator[bytes, None], response.aiter_raw())
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            read += len(chunk)
            if read >= cap:
                return cap
    return read


def _classify(
    status: int | None,
    latency_ms: float,
    error: str | None,
    retry_after: float | None,
    reply_bytes: int,
    location: str | None,
) -> AttemptResult:
    if status is None:
        outcome = Outcome.RETRY
    elif 200 <= status < 300:
        outcome = Outcome.DELIVERED
    elif status == 410:
        outcome = Outcome.GONE
        error = error or "receiver answered 410 Gone: no further retries for this event"
    else:
        outcome = Outcome.RETRY
        if 300 <= status < 400:
            target = f" to {location[:200]}" if location else ""
            error = error or f"receiver answered {status} (redirect{target}, not followed)"
        else:
            error = error or f"receiver answered {status}"
    return AttemptResult(
        outcome=outcome,
        status_code=status,
        latency_ms=latency_ms,
        error=error,
        retry_after_seconds=retry_after,
        reply_bytes=reply_bytes,
    )


def _describe(exc: Exception) -> str:
    """A short, human account of a network failure for the delivery log."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect: {detail}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"receiver broke the HTTP protocol: {detail}"
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return f"invalid callback URL: {detail}"
    return f"{type(exc).__name__}: {detail}"
