"""Signatures a receiver can check with any Standard Webhooks library."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook

from reelgate.notifier.signing import generate_secret, headers, secret_key, sign

BODY = b'{"task_id":"3d957031-9a2a-45e2-9dc7-bc8513059c50","status":"SUCCESS"}'


def test_generated_secrets_are_whsec_and_32_random_bytes() -> None:
    secrets = {generate_secret() for _ in range(20)}

    assert len(secrets) == 20
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_headers_verify_with_the_standard_webhooks_package() -> None:
    secret = generate_secret()
    now = int(time.time())

    sent = headers(secret, "msg_2Lq", now, BODY)

    assert Webhook(secret).verify(BODY, sent) == {
        "task_id": "3d957031-9a2a-45e2-9dc7-bc8513059c50",
        "status": "SUCCESS",
    }
    assert sent["webhook-id"] == "msg_2Lq"
    assert sent["webhook-timestamp"] == str(now)
    assert sent["Content-Type"] == "application/json"
    assert sent["User-Agent"].startswith("reelgate/")


def test_the_signature_matches_the_specification_example() -> None:
    # The worked example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'

    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)

    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize(
    ("changed", "value"),
    [("webhook-id", "msg_other"), ("webhook-timestamp", None)],
)
def test_id_and_timestamp_are_covered_by_the_signature(changed: str, value: str | None) -> None:
    secret = generate_secret()
    now = int(time.time())
    sent = headers(secret, "msg_1", now, BODY)
    sent[changed] = value or str(now - 1)

    with pytest.raises(Exception, match="No matching signature found"):
        Webhook(secret).verify(BODY, sent)


def test_a_different_secret_does_not_verify() -> None:
    sent = headers(generate_secret(), "msg_1", int(time.time()), BODY)

    with pytest.raises(Exception, match="No matching signature found"):
        Webhook(generate_secret()).verify(BODY, sent)


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "must start with 'whsec_'"),
        ("whsec_not*base64!", "followed by base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "at least 24 bytes"),
    ],
)
def test_malformed_secrets_are_rejected_with_a_reason(secret: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        secret_key(secret)
