"""When to try a callback delivery again (CONTRACT.md 1.3).

The schedule is the one Standard Webhooks recommends: the first attempt goes out immediately, and
after each failure the next one waits 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h. Ten
attempts over about 75 hours (272,105 s without jitter), then the delivery is marked failed.

Why this shape:

* The early retries (5 s, 5 min) absorb the common failures: a receiver restarting during a deploy,
  a dropped connection, a load balancer that was briefly out of backends.
* The long tail covers a receiver that is down for a weekend: three days is enough for a person to
  notice and fix it, and Stripe keeps retrying for about as long.
* Nothing is lost by giving up: the task's result never depends on its callback and stays readable
  through the feed (and the delivery log shows every attempt), so an endless retry would only keep
  hitting a receiver that is gone.

Jitter: each wait is multiplied by a random factor in [0.8, 1.2]. When a receiver goes down, every
delivery pending for it fails within the same seconds; without jitter all of them would retry at
the same instant, again and again, and the first retry after it comes back would meet the whole
backlog at once. The spread is symmetric so the total stays about 75 h, and a factor of at least
0.8 can never make a wait negative. The immediate first attempt is not jittered.

`Retry-After`: a receiver that answers 429 or 503 with `Retry-After` knows when it will cope, so a
longer value replaces the scheduled wait. It is capped at 24 h so that a hostile or broken header
cannot park a delivery for months, and it never shortens the schedule (a receiver cannot make us
retry faster than the back-off).
"""

from __future__ import annotations

import random

RETRY_DELAYS_SECONDS: tuple[float, ...] = (
    0.0,  # first attempt, immediately
    5.0,
    5 * 60.0,
    30 * 60.0,
    2 * 3600.0,
    5 * 3600.0,
    10 * 3600.0,
    14 * 3600.0,
    20 * 3600.0,
    24 * 3600.0,
)
"""Wait before attempt n+1, indexed by the number of attempts already made (n)."""

MAX_ATTEMPTS = len(RETRY_DELAYS_SECONDS)
JITTER_FRACTION = 0.2  # each wait is scaled by a factor in [1 - 0.2, 1 + 0.2]
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


def next_delay(
    attempts_made: int,
    *,
    retry_after: float | None = None,
    rng: random.Random,
    delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
) -> float | None:
    """Seconds to wait before the next attempt, or None when the delivery has failed for good.

    `attempts_made` counts the attempts already sent for this event (0 before the first);
    `retry_after` is the receiver's `Retry-After` from the last reply, in seconds, if it sent one.
    `delays` replaces the standard schedule (an operator's `REELGATE_WEBHOOK_RETRY_SCHEDULE`).
    """
    if attempts_made < 0:
        raise ValueError(f"attempts_made must be >= 0, got {attempts_made}")
    if attempts_made >= len(delays):
        return None
    scheduled = delays[attempts_made]
    if scheduled > 0:
        scheduled *= rng.uniform(1 - JITTER_FRACTION, 1 + JITTER_FRACTION)
    if attempts_made > 0 and retry_after is not None and retry_after > scheduled:
        return max(scheduled, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return scheduled


def total_schedule_seconds() -> float:
    """The span from the first attempt to the last one, without jitter (about 75.6 h)."""
    return sum(RETRY_DELAYS_SECONDS)
