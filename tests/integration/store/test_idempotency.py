"""Idempotency reservations on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import sqlalchemy as sa

from reelgate.store.idempotency import STALE_RESERVATION_SECONDS, Reservation
from reelgate.store.schema import idempotency_keys
from reelgate.store.store import Store


def test_first_use_reserves_then_in_flight_then_mismatch(store: Store) -> None:
    repo = store.idempotency
    assert repo.reserve("o", "k1", "h1").outcome is Reservation.NEW
    assert repo.reserve("o", "k1", "h1").outcome is Reservation.IN_FLIGHT
    assert repo.reserve("o", "k1", "h2").outcome is Reservation.MISMATCH
    assert repo.reserve("other-owner", "k1", "h2").outcome is Reservation.NEW


def test_released_reservation_can_be_used_again(store: Store) -> None:
    repo = store.idempotency
    assert repo.reserve("o", "k", "h").outcome is Reservation.NEW
    repo.release("o", "k")
    assert repo.reserve("o", "k", "h2").outcome is Reservation.NEW


def test_stale_reservation_is_taken_over(store: Store) -> None:
    repo = store.idempotency
    assert repo.reserve("o", "k", "h").outcome is Reservation.NEW
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(idempotency_keys).values(
                created_at=time.time() - STALE_RESERVATION_SECONDS - 1
            )
        )
    assert repo.reserve("o", "k", "h").outcome is Reservation.NEW


def test_keys_expire_after_a_day(store: Store) -> None:
    repo = store.idempotency
    assert repo.reserve("o", "k", "h").outcome is Reservation.NEW
    with store.engine.begin() as conn:
        conn.execute(sa.update(idempotency_keys).values(task_id="t", created_at=0.0))
    assert repo.purge_expired() == 1
    assert repo.reserve("o", "k", "other").outcome is Reservation.NEW
