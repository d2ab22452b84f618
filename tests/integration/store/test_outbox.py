"""The webhook outbox's contract: events written with terminal transitions, locked by one
notifier at a time, retried on the store's clock, and read only by their task's owner."""

from __future__ import annotations

import time

from reelgate.core.tasks import FailureCode, Outputs
from reelgate.store.base import AttemptRecord, EventState, Store
from tests.integration.store.conftest import FakeClock
from tests.integration.store.factory import HOOK, OWNER, add_task


def _finished_task(store: Store, owner: str = OWNER, callback: str | None = HOOK) -> str:
    task_id = add_task(store, owner=owner, callback=callback)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert claim.task.id == task_id
    assert store.tasks.fail(claim, "x", FailureCode.INTERNAL)
    return task_id


def _attempt(number: int, status: int | None) -> AttemptRecord:
    return AttemptRecord(
        attempt=number,
        started_at=time.time(),
        status_code=status,
        latency_ms=12.5,
        error=None if status == 204 else "HTTP 503",
    )


def test_terminal_transition_writes_one_outbox_event(store: Store) -> None:
    task_id = add_task(store, callback=HOOK)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert store.tasks.succeed(claim, Outputs(video_key="a/video.mp4", poster_key="a/poster.jpg"))
    assert not store.tasks.succeed(claim, Outputs("a/video.mp4", "a/poster.jpg"))  # no match
    events = store.outbox.events_for_task(task_id, OWNER)
    assert len(events) == 1
    event = events[0]
    assert (event.event_type, event.state, event.url) == ("task.succeeded", "pending", HOOK)
    assert event.id.startswith("msg_")
    assert event.attempts == 0


def test_no_outbox_event_without_callback(store: Store) -> None:
    task_id = _finished_task(store, callback=None)
    assert store.outbox.events_for_task(task_id, OWNER) == []
    assert store.outbox.claim_due(10, lock_seconds=60) == []


def test_a_new_event_is_due_at_once_and_locked_by_one_notifier(store: Store) -> None:
    task_id = _finished_task(store)
    first = store.outbox.claim_due(10, lock_seconds=60)
    assert [e.task_id for e in first] == [task_id]
    assert store.outbox.claim_due(10, lock_seconds=60) == []  # locked by the first notifier


def test_a_lapsed_lock_frees_the_event(timed_store: Store, clock: FakeClock) -> None:
    store = timed_store
    task_id = _finished_task(store)
    assert [e.task_id for e in store.outbox.claim_due(10, lock_seconds=60)] == [task_id]
    clock.advance(30)
    assert store.outbox.claim_due(10, lock_seconds=60) == []
    clock.advance(31)  # the first notifier died mid-send
    assert [e.task_id for e in store.outbox.claim_due(10, lock_seconds=60)] == [task_id]


def test_a_failed_attempt_is_retried_after_its_delay(timed_store: Store, clock: FakeClock) -> None:
    store = timed_store
    task_id = _finished_task(store)
    (event,) = store.outbox.claim_due(10, lock_seconds=60)
    store.outbox.record(event.id, _attempt(1, 503), EventState.PENDING, retry_in_seconds=300)
    assert store.outbox.claim_due(10, lock_seconds=60) == []
    clock.advance(299)
    assert store.outbox.claim_due(10, lock_seconds=60) == []
    clock.advance(2)
    (again,) = store.outbox.claim_due(10, lock_seconds=60)
    assert (again.id, again.attempts) == (event.id, 1)
    store.outbox.record(event.id, _attempt(2, 204), EventState.DELIVERED, retry_in_seconds=None)
    (done,) = store.outbox.events_for_task(task_id, OWNER)
    assert (done.state, done.attempts, done.next_attempt_at) == (EventState.DELIVERED, 2, None)
    assert [(a.attempt, a.status_code) for a in store.outbox.attempts(event.id)] == [
        (1, 503),
        (2, 204),
    ]
    clock.advance(3600)
    assert store.outbox.claim_due(10, lock_seconds=60) == []


def test_redeliver_makes_a_finished_event_due_now(store: Store) -> None:
    task_id = _finished_task(store)
    (event,) = store.outbox.claim_due(10, lock_seconds=60)
    store.outbox.record(event.id, _attempt(1, 410), EventState.FAILED, retry_in_seconds=None)
    assert store.outbox.claim_due(10, lock_seconds=60) == []
    assert store.outbox.redeliver(event.id, task_id, OWNER)
    (pending,) = store.outbox.events_for_task(task_id, OWNER)
    assert pending.state is EventState.PENDING
    (again,) = store.outbox.claim_due(10, lock_seconds=60)
    assert (again.id, again.attempts) == (event.id, 1)  # attempt numbers carry on


def test_another_owner_can_neither_read_nor_redeliver_events(store: Store) -> None:
    task_id = _finished_task(store)
    (event,) = store.outbox.events_for_task(task_id, OWNER)
    store.outbox.record(event.id, _attempt(1, 410), EventState.FAILED, retry_in_seconds=None)
    assert store.outbox.events_for_task(task_id, "intruder") == []
    assert not store.outbox.redeliver(event.id, task_id, "intruder")
    other_task = _finished_task(store, owner="intruder")
    assert not store.outbox.redeliver(event.id, other_task, "intruder")  # not that task's event
    (unchanged,) = store.outbox.events_for_task(task_id, OWNER)
    assert unchanged.state is EventState.FAILED
    assert store.outbox.redeliver(event.id, task_id, OWNER)


def test_events_of_a_deleted_task_are_no_one_s(store: Store) -> None:
    task_id = _finished_task(store)
    (event,) = store.outbox.events_for_task(task_id, OWNER)
    assert store.tasks.delete(task_id, OWNER) is not None
    assert store.outbox.events_for_task(task_id, OWNER) == []
    assert not store.outbox.redeliver(event.id, task_id, OWNER)


def test_an_event_names_its_destination(store: Store) -> None:
    task_id = _finished_task(store, callback="HTTPS://Hooks.Example.com/reelgate?x=1")
    (event,) = store.outbox.events_for_task(task_id, OWNER)
    assert event.destination == "https://hooks.example.com:443"


def test_claims_skip_the_destinations_asked_and_release_unlocks(store: Store) -> None:
    slow = _finished_task(store, callback="http://127.0.0.1:9/slow")
    other = _finished_task(store, callback="http://127.0.0.2:9/hook")

    claimed = store.outbox.claim_due(10, lock_seconds=60, skip={"http://127.0.0.1:9"})
    assert [e.task_id for e in claimed] == [other]

    store.outbox.release([e.id for e in claimed])
    again = store.outbox.claim_due(10, lock_seconds=60)
    assert sorted(e.task_id for e in again) == sorted([slow, other])  # released: due again
    assert store.outbox.claim_due(10, lock_seconds=60) == []
