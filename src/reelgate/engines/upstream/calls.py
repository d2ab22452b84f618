"""Counting the HTTP calls the upstream engine makes, for `reelgate_upstream_calls_total`.

Each call is labelled by its operation (`create`, `poll`, `cancel`, `download`: never a URL,
which holds job ids) and its outcome: the answer's status class (`status_label`), or `timeout`
or `error` when no whole answer came. The protocol clients turn every failure into an
`UpstreamError` before the engine sees it; which kind it was is read back from it here: an HTTP
status is kept on it, and a call that got no answer is the retryable kind without one
(`protocol.transport_error`, whose cause names a timeout as such).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import httpx

from reelgate.errors import UpstreamError, UrlRefused
from reelgate.observability import meter

TIMEOUT = "timeout"
NO_ANSWER = "error"


class Call:
    """One call: its operation, its start, and the status it was answered with, if any."""

    __slots__ = ("code", "endpoint", "started")

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.code: int | None = None
        self.started = time.perf_counter()

    def answered(self, code: int) -> None:
        self.code = code


@contextlib.contextmanager
def counted(endpoint: str) -> Iterator[Call]:
    """Time the call made inside the block and count it when the block ends. A client call
    that returns was answered 2xx (the clients raise on anything else) unless the block says
    otherwise (`Call.answered`)."""
    call = Call(endpoint)
    try:
        yield call
    except BaseException as exc:
        _report(call, call_status(exc, call.code))
        raise
    _report(call, call_status(None, call.code))


def _report(call: Call, status: str | None) -> None:
    if status is not None:
        meter.upstream_call(call.endpoint, status, time.perf_counter() - call.started)


def call_status(error: BaseException | None, code: int | None = None) -> str | None:
    """The `status` label of a call that ended with `error` (None: it returned) after an answer
    with `code` (None: none seen); None when no call was made (the outbound guard refused the
    link). An answer that came but could not be used (not JSON, not a video) keeps its status:
    the upstream did answer."""
    if isinstance(error, UrlRefused):
        return None
    if isinstance(error, UpstreamError) and error.status is not None:
        return meter.status_label(error.status)
    if error is not None and _no_answer(error):
        return TIMEOUT if _timed_out(error) else NO_ANSWER
    return meter.status_label(code) if code is not None else "2xx"


def _no_answer(error: BaseException) -> bool:
    if isinstance(error, UpstreamError):
        return error.retryable and error.status is None  # protocol.transport_error
    # asyncio.CancelledError: the job's deadline cut a download short (engine._download).
    return isinstance(error, httpx.TransportError | TimeoutError | asyncio.CancelledError)


def _timed_out(error: BaseException) -> bool:
    cause = error.__context__ if isinstance(error, UpstreamError) else error
    if isinstance(cause, TimeoutError | asyncio.CancelledError):
        return True
    # httpx's ReadTimeout, ConnectTimeout, PoolTimeout…; httpx2's and the SDKs' alike.
    return cause is not None and "Timeout" in type(cause).__name__
