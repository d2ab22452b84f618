"""Idempotency reservations: the contract on every store."""

from __future__ import annotations

from reelgate.store.base import Reservation, Store
from reelgate.store.rules import KEY_TTL_SECONDS, STALE_RESERVATION_SECONDS
from tests.integration.store.conftest import FakeClock
from tests.integration.store.factory import OWNER, new_task


def test_first_use_reserves_then_in_flight_then_mismatch(store: Store) -> None:
    repo = store.idempotency
    assert repo.reserve("o", "k1", "h1").outcome is Reservation.NEW
    assert repo.reserve("o", "k1", "h1").outcome is Reservation.IN_FLIGHT
    assert repo.reserve("o", "k1", "h2").outcome is Reservation.MISMATCH
    assert repo.reserve("other-owner", "k1", "h2").outcome is Reservation.NEW


def test_a_bound_key_replays_its_task(store: Store) -> None:
    assert store.idempotency.reserve(OWNER, "k", "h").outcome is Reservation.NEW
    task = store.tasks.create(new_task(), idempotency_key="k")
    replay = store.idempotency.reserve(OWNER, "k", "h")
    assert (replay.outcome, replay.task_id) == (Reservation.REPLAY, task.id)
    assert store.idempotency.reserve(OWNER, "k", "other").outcome is Reservation.MISMATCH
    store.idempotency.release(OWNER, "k")  # a bound key is not released
    assert store.idempotency.reserve(OWNER, "k", "h").outcome is Reservation.REPLAY


def test_released_reservation_can_be_used_again(store: Store) -> None:
    repo = store.idempotency
    assert repo.reserve("o", "k", "h").outcome is Reservation.NEW
    repo.release("o", "k")
    assert repo.reserve("o", "k", "h2").outcome is Reservation.NEW


def test_stale_reservation_is_taken_over(timed_store: Store, clock: FakeClock) -> None:
    repo = timed_store.idempotency
    assert repo.reserve("o", "k", "h").outcome is Reservation.NEW
    clock.advance(STALE_RESERVATION_SECONDS - 1)
    assert repo.reserve("o", "k", "h").outcome is Reservation.IN_FLIGHT
    clock.advance(2)
    assert repo.reserve("o", "k", "h").outcome is Reservation.NEW
    assert repo.reserve("o", "k", "h").outcome is Reservation.IN_FLIGHT  # taken over anew


def test_keys_expire_after_a_day(timed_store: Store, clock: FakeClock) -> None:
    store = timed_store
    assert store.idempotency.reserve(OWNER, "k", "h").outcome is Reservation.NEW
    store.tasks.create(new_task(), idempotency_key="k")
    assert store.idempotency.purge_expired() == 0
    clock.advance(KEY_TTL_SECONDS + 1)
    assert store.idempotency.reserve(OWNER, "k", "other").outcome is Reservation.NEW
    clock.advance(KEY_TTL_SECONDS + 1)
    assert store.idempotency.purge_expired() == 1
    assert store.idempotency.reserve(OWNER, "k", "h").outcome is Reservation.NEW
