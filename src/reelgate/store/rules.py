"""What SqlStore and MemoryStore share besides the protocols: formats, limits and durations.

No SQL here, so the in-memory store can use these without importing the database layer.
"""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import urlsplit

from reelgate.core.tasks import TaskStatus

KEY_PREFIX = "rg_"

# Idempotency keys live a day, as Stripe and the IETF draft suggest; a reservation whose
# request died before making its task is taken over after a minute, so a key is never stuck.
KEY_TTL_SECONDS = 24 * 3600.0
STALE_RESERVATION_SECONDS = 60.0

# Progress reaches 1.0 only when the task succeeds, so "99%" never reads as "done".
MAX_RUNNING_PROGRESS = 0.99

ACTIVE = (TaskStatus.QUEUED, TaskStatus.RUNNING)
TERMINAL = tuple(status for status in TaskStatus if status.terminal)


def destination(url: str) -> str:
    """The receiver a webhook URL reaches, `scheme://host:port`: the unit the notifier caps, so
    a slow receiver delays only its own events."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    except ValueError:
        port = 0
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"[:255]


def hash_key(key: str) -> str:
    """API keys are 32 random bytes: a fast hash suffices, there is nothing to brute-force."""
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def new_event_id() -> str:
    """A webhook event id, the Standard Webhooks `webhook-id`."""
    return "msg_" + secrets.token_hex(16)


def event_type(status: TaskStatus) -> str:
    return f"task.{status.value}"


def abandoned_failure(max_attempts: int) -> str:
    """The failure recorded when every attempt's worker stopped renewing its lease."""
    return f"the worker stopped responding on each of {max_attempts} attempts"
