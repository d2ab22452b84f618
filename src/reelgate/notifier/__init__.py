"""Webhook callbacks: tell a task's owner when it finishes (CONTRACT.md 1.3, DESIGN.md).

- `signing`: Standard Webhooks headers and `whsec_` secrets.
- `delivery`: one signed POST through the guarded client, classified as delivered, gone or retry.
- `schedule`: how long to wait before the next attempt, and when to give up.
- `payload`: the webhook body, the task as CometAPI's feed returns it.
- `dispatcher`: the loop that claims due outbox events, delivers them and records each attempt.
"""

from reelgate.notifier.delivery import AttemptResult, Outcome, deliver
from reelgate.notifier.schedule import MAX_ATTEMPTS, next_delay
from reelgate.notifier.signing import generate_secret, sign

__all__ = [
    "MAX_ATTEMPTS",
    "AttemptResult",
    "Outcome",
    "deliver",
    "generate_secret",
    "next_delay",
    "sign",
]
