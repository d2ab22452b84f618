"""The retry schedule a receiver experiences: when attempts come, and when they stop."""

from __future__ import annotations

import random

import pytest

from reelgate.notifier.schedule import (
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER_SECONDS,
    next_delay,
    total_schedule_seconds,
)

MINUTE = 60.0
HOUR = 3600.0
# CONTRACT.md 1.3: immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h
CONTRACT_TABLE = [
    (0, 0.0),
    (1, 5.0),
    (2, 5 * MINUTE),
    (3, 30 * MINUTE),
    (4, 2 * HOUR),
    (5, 5 * HOUR),
    (6, 10 * HOUR),
    (7, 14 * HOUR),
    (8, 20 * HOUR),
    (9, 24 * HOUR),
]


@pytest.mark.parametrize(("attempts_made", "base"), CONTRACT_TABLE)
def test_delays_follow_the_contract_within_jitter(attempts_made: int, base: float) -> None:
    rng = random.Random(attempts_made)
    answers = [next_delay(attempts_made, rng=rng) for _ in range(200)]
    delays = [delay for delay in answers if delay is not None]

    assert len(delays) == len(answers)
    for delay in delays:
        assert 0.8 * base <= delay <= 1.2 * base
    if base > 0:
        assert len(set(delays)) > 100  # spread out, so a backlog does not retry in lock step
        assert 0.9 * base < sum(delays) / len(delays) < 1.1 * base  # centred on the table


def test_the_first_attempt_is_immediate() -> None:
    assert next_delay(0, rng=random.Random(1)) == 0.0
    assert next_delay(0, retry_after=600.0, rng=random.Random(1)) == 0.0


def test_after_the_tenth_attempt_the_delivery_gives_up() -> None:
    assert MAX_ATTEMPTS == 10
    assert next_delay(MAX_ATTEMPTS, rng=random.Random(1)) is None
    assert next_delay(MAX_ATTEMPTS + 5, retry_after=60.0, rng=random.Random(1)) is None


def test_the_whole_schedule_spans_about_75_hours() -> None:
    assert 75 * HOUR < total_schedule_seconds() < 76 * HOUR


def test_a_longer_retry_after_is_honoured() -> None:
    delay = next_delay(1, retry_after=120.0, rng=random.Random(1))  # scheduled: about 5 s

    assert delay == 120.0


def test_a_shorter_retry_after_does_not_speed_up_the_schedule() -> None:
    delay = next_delay(4, retry_after=10.0, rng=random.Random(1))  # scheduled: about 2 h

    assert delay is not None
    assert delay >= 0.8 * 2 * HOUR


def test_retry_after_is_capped_at_24_hours() -> None:
    delay = next_delay(2, retry_after=30 * 24 * HOUR, rng=random.Random(1))

    assert delay == MAX_RETRY_AFTER_SECONDS == 24 * HOUR


def test_negative_attempt_counts_are_a_bug() -> None:
    with pytest.raises(ValueError, match="attempts_made"):
        next_delay(-1, rng=random.Random(1))
