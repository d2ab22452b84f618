"""One delivery attempt against a real receiver on loopback, as the task's owner would see it."""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import socket
import time

import pytest
from standardwebhooks import Webhook
from tests.support.receiver import Received, Receiver, Reply

import reelgate
import reelgate.notifier
from reelgate.notifier import AttemptResult, Outcome, deliver, generate_secret
from reelgate.notifier.delivery import MAX_REPLY_BYTES, parse_retry_after
from reelgate.outbound import OutboundPolicy, guarded_client

LOOPBACK_ALLOWED = OutboundPolicy(allow_nets=(ipaddress.ip_network("127.0.0.0/8"),))
RETRY_AFTER_DATE_SECONDS = 90  # how far ahead /unavailable-until puts its Retry-After date
TASK = {"task_id": "3d957031-9a2a-45e2-9dc7-bc8513059c50", "status": "SUCCESS", "progress": "100%"}
BODY = json.dumps(TASK).encode()


def send(
    url: str,
    secret: str,
    *,
    policy: OutboundPolicy = LOOPBACK_ALLOWED,
    timeout_seconds: float = 5.0,
    msg_id: str = "msg_3d957031",
) -> AttemptResult:
    """One delivery of `BODY` to `url`, signed with `secret`."""

    async def go() -> AttemptResult:
        async with guarded_client(policy) as client:
            return await deliver(client, url, msg_id, BODY, secret, timeout_seconds=timeout_seconds)

    return asyncio.run(go())


def attempt(
    receiver: Receiver,
    path: str,
    *,
    policy: OutboundPolicy = LOOPBACK_ALLOWED,
    timeout_seconds: float = 5.0,
    msg_id: str = "msg_3d957031",
) -> AttemptResult:
    """One delivery to `path` on `receiver`, signed with the secret it verifies against."""
    assert receiver.secret is not None
    return send(
        receiver.url_for(path),
        receiver.secret,
        policy=policy,
        timeout_seconds=timeout_seconds,
        msg_id=msg_id,
    )


@pytest.mark.parametrize(("path", "status"), [("/ok", 200), ("/accepted", 202)])
def test_a_2xx_is_delivered(loopback_receiver: Receiver, path: str, status: int) -> None:
    result = attempt(loopback_receiver, path)

    assert result.outcome is Outcome.DELIVERED
    assert result.status_code == status
    assert result.error is None
    assert 0 < result.latency_ms < 5000


def test_the_receiver_can_verify_the_delivery_with_a_standard_webhooks_library(
    loopback_receiver: Receiver,
) -> None:
    attempt(loopback_receiver, "/ok", msg_id="msg_event_1")

    (received,) = loopback_receiver.requests
    assert received.verified, received.error  # by the standardwebhooks package, on arrival
    assert received.payload == TASK
    assert received.headers["webhook-id"] == "msg_event_1"
    assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 60
    assert received.headers["content-type"] == "application/json"
    assert received.headers["user-agent"] == f"reelgate/{reelgate.__version__}"
    assert received.body == BODY


def test_a_tampered_body_fails_verification(loopback_receiver: Receiver) -> None:
    attempt(loopback_receiver, "/ok")

    (received,) = loopback_receiver.requests
    assert received.verified, received.error
    assert loopback_receiver.secret is not None
    tampered = received.body.replace(b"SUCCESS", b"FAILURE")
    with pytest.raises(Exception, match="No matching signature found"):
        Webhook(loopback_receiver.secret).verify(tampered, received.headers)


def test_a_500_is_retried_under_the_same_webhook_id(loopback_receiver: Receiver) -> None:
    first = attempt(loopback_receiver, "/broken", msg_id="msg_same")
    second = attempt(loopback_receiver, "/broken", msg_id="msg_same")

    for result in (first, second):
        assert result.outcome is Outcome.RETRY
        assert result.status_code == 500
        assert result.error == "receiver answered 500"
    ids = {r.headers["webhook-id"] for r in loopback_receiver.requests}
    assert ids == {"msg_same"}  # receivers deduplicate on it
    assert [r.verified for r in loopback_receiver.requests] == [True, True]


def test_a_410_stops_retries(loopback_receiver: Receiver) -> None:
    result = attempt(loopback_receiver, "/gone")

    assert result.outcome is Outcome.GONE
    assert result.status_code == 410
    assert result.error is not None
    assert "410" in result.error


def test_a_redirect_is_a_failure_and_its_target_is_never_contacted(
    loopback_receiver: Receiver,
) -> None:
    result = attempt(loopback_receiver, "/redirect")

    assert result.outcome is Outcome.RETRY
    assert result.status_code == 302
    assert result.error is not None
    assert "not followed" in result.error
    assert loopback_receiver.paths() == ["/redirect"]


def test_a_429_retry_after_in_seconds_is_reported(loopback_receiver: Receiver) -> None:
    result = attempt(loopback_receiver, "/throttled")

    assert result.outcome is Outcome.RETRY
    assert result.status_code == 429
    assert result.retry_after_seconds == 120.0


def _unavailable_until(received: Received) -> Reply:
    when = email.utils.formatdate(time.time() + RETRY_AFTER_DATE_SECONDS, usegmt=True)
    return Reply(503, b"", {"Retry-After": when})


def test_a_503_retry_after_as_an_http_date_is_reported(loopback_receiver: Receiver) -> None:
    loopback_receiver.routes["/unavailable-until"] = _unavailable_until
    result = attempt(loopback_receiver, "/unavailable-until")

    assert result.outcome is Outcome.RETRY
    assert result.status_code == 503
    assert result.retry_after_seconds is not None
    ahead = RETRY_AFTER_DATE_SECONDS
    assert ahead - 3 <= result.retry_after_seconds <= ahead


def test_a_receiver_slower_than_the_timeout_is_retried(loopback_receiver: Receiver) -> None:
    started = time.perf_counter()
    result = attempt(loopback_receiver, "/sleepy", timeout_seconds=0.3)

    assert time.perf_counter() - started < 3
    assert result.outcome is Outcome.RETRY
    assert result.status_code is None
    assert result.error == "timed out after 0.3 s waiting for the reply"
    assert 250 < result.latency_ms < 3000


def test_a_huge_reply_is_cut_at_64_kib_and_still_delivered(loopback_receiver: Receiver) -> None:
    started = time.perf_counter()
    result = attempt(loopback_receiver, "/huge")

    assert time.perf_counter() - started < 3
    assert result.outcome is Outcome.DELIVERED
    assert result.status_code == 200
    assert result.reply_bytes == MAX_REPLY_BYTES == 64 * 1024


def test_a_closed_port_is_retried_with_the_reason() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # released on exit: nothing listens there

    result = send(f"http://127.0.0.1:{port}/hook", generate_secret())

    assert result.outcome is Outcome.RETRY
    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith("could not connect")


def test_a_refused_address_is_retried_and_nothing_is_sent(loopback_receiver: Receiver) -> None:
    result = attempt(loopback_receiver, "/ok", policy=OutboundPolicy())

    assert result.outcome is Outcome.RETRY
    assert result.status_code is None
    assert result.error == "refused: 127.0.0.1 is a loopback address"
    assert loopback_receiver.requests == []


NOW = 1_773_366_766.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("999999999", 86400.0),  # capped at 24 h
        (email.utils.formatdate(NOW + 1800, usegmt=True), 1800.0),
        (email.utils.formatdate(NOW - 60, usegmt=True), 0.0),  # already past
        (email.utils.formatdate(NOW + 40 * 86400, usegmt=True), 86400.0),  # far ahead: capped
        ("Fri, 13 Mar 2026 02:22:46 -0000", 1800.0),  # the obsolete "unknown zone" form
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_header_forms(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_public_names_are_pinned() -> None:
    assert sorted(reelgate.notifier.__all__) == sorted(
        [
            "MAX_ATTEMPTS",
            "AttemptResult",
            "Outcome",
            "deliver",
            "generate_secret",
            "next_delay",
            "sign",
        ]
    )
