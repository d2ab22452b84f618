"""How one call to an upstream is labelled for `reelgate_upstream_calls_total`, whatever way
it ended, and that a report outside a worker's binding goes nowhere."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from reelgate.engines.upstream.calls import call_status, counted
from reelgate.engines.upstream.protocol import status_error, transport_error
from reelgate.errors import UpstreamError, UrlRefused
from reelgate.observability import Metrics, meter


def _converted(cause: BaseException) -> UpstreamError:
    """What a protocol client raises for `cause`: transport_error, raised while handling it."""
    try:
        raise cause
    except BaseException as exc:
        try:
            raise transport_error("poll", exc) from None
        except UpstreamError as error:
            return error


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (None, None, "2xx"),  # a client call that returned
        (None, 302, "3xx"),  # a redirect of the download
        (status_error("poll", 503, "busy"), None, "5xx"),
        (status_error("create", 429, "slow down"), None, "429"),
        (status_error("create", 401, "bad key"), None, "4xx"),
        (UpstreamError("create: the answer is not JSON"), None, "2xx"),  # answered, unusable
        (UpstreamError("download: the output exceeds 10 bytes"), 200, "2xx"),
        (_converted(httpx.ReadTimeout("slow")), None, "timeout"),
        (_converted(httpx.ConnectTimeout("slow")), None, "timeout"),
        (_converted(httpx.ConnectError("refused")), None, "error"),
        (_converted(httpx.RemoteProtocolError("closed")), None, "error"),
        (httpx.ReadError("reset mid-body"), 200, "error"),  # the answer broke off
        (asyncio.CancelledError(), 200, "timeout"),  # the job's deadline cut the download
        (UrlRefused("a private address"), None, None),  # the guard refused: no call was made
    ],
)
def test_each_ending_has_one_bounded_status(
    error: BaseException | None, code: int | None, status: str | None
) -> None:
    assert call_status(error, code) == status


def test_status_codes_become_their_class_and_429_stays_itself() -> None:
    labels = {meter.status_label(code) for code in range(100, 600)}
    assert labels == {"1xx", "2xx", "3xx", "4xx", "5xx", "429"}
    assert meter.status_label(999) == "other"


def test_calls_count_only_inside_a_workers_binding() -> None:
    metrics = Metrics()
    with counted("poll"):
        pass  # no binding: nowhere
    with meter.metering(metrics, "relay"):
        with counted("poll"):
            pass
        with pytest.raises(UpstreamError), counted("create"):
            raise status_error("create", 500, "oops")
        with meter.metering(None, "relay"), counted("poll"):
            pass  # metrics off
    sample = metrics.registry.get_sample_value
    calls = "reelgate_upstream_calls_total"
    assert sample(calls, {"model": "relay", "endpoint": "poll", "status": "2xx"}) == 1
    assert sample(calls, {"model": "relay", "endpoint": "create", "status": "5xx"}) == 1
