"""`loopback_receiver`: the shared webhook receiver (tests/support/receiver.py) playing one kind
of receiver per path. Each test gets a fresh secret in `loopback_receiver.secret`; deliveries
signed with it are verified as they arrive."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.support.receiver import Receiver, Reply

from reelgate.notifier import generate_secret

HUGE_REPLY_BYTES = 64 * 1024 * 1024
SLEEPY_SECONDS = 10.0  # longer than any client timeout in the tests

OK = Reply(200, b'{"received": true}', {"Content-Type": "application/json"})


@pytest.fixture
def loopback_receiver() -> Iterator[Receiver]:
    receiver = Receiver(
        secret=generate_secret(),
        routes={
            "/ok": OK,
            "/accepted": Reply(202, b""),
            "/broken": Reply(500, b"Internal Server Error"),
            "/gone": Reply(410, b"this endpoint was removed"),
            "/target": OK,
            "/throttled": Reply(429, b"slow down", {"Retry-After": "120"}),
            "/sleepy": Reply(200, b"", delay_seconds=SLEEPY_SECONDS),
            "/huge": Reply(200, stream_bytes=HUGE_REPLY_BYTES),
        },
    )
    receiver.routes["/redirect"] = Reply(302, b"", {"Location": receiver.url_for("/target")})
    with receiver.running():
        yield receiver
