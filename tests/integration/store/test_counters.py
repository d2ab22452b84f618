"""The per-owner counts behind the quota and the running cap stay exact through every status
change: each step is checked against the owner's tasks as the store lists them."""

from __future__ import annotations

import time

import pytest

from reelgate.core.tasks import FailureCode, Outputs, TaskStatus, UpstreamRef
from reelgate.errors import QuotaExceededError
from reelgate.store.base import Claim, Store
from tests.integration.store.conftest import FakeClock
from tests.integration.store.factory import add_task, new_task

A, B = "owner_a", "owner_b"


def _assert_counts(store: Store, owner: str, active: int, running: int) -> None:
    tasks = store.tasks.list_for_owner(owner, after=None, limit=1000, newest_first=False)
    listed_active = sum(t.status in (TaskStatus.QUEUED, TaskStatus.RUNNING) for t in tasks)
    listed_running = sum(t.status is TaskStatus.RUNNING for t in tasks)
    assert (listed_active, listed_running) == (active, running)
    assert (store.tasks.count_active(owner), store.tasks.count_running(owner)) == (
        active,
        running,
    )


def _claim(store: Store, owner: str) -> Claim:
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert claim.task.owner_id == owner
    return claim


def test_counts_follow_every_transition(timed_store: Store, clock: FakeClock) -> None:
    store = timed_store
    now = time.time()
    ids = [add_task(store, owner=A, created_at=now + i) for i in range(6)]
    add_task(store, owner=B, created_at=now + 10)
    _assert_counts(store, A, 6, 0)
    with pytest.raises(QuotaExceededError):
        store.tasks.create(new_task(owner=A), max_active=6)
    _assert_counts(store, A, 6, 0)

    assert store.tasks.request_cancel(ids[0], A) is not None  # queued: cancelled at once
    _assert_counts(store, A, 5, 0)

    succeeded, failed, released, flagged, abandoned = (_claim(store, A) for _ in range(5))
    _assert_counts(store, A, 5, 5)
    assert store.tasks.report_progress(succeeded, 0.5).held
    assert store.tasks.record_upstream(succeeded, UpstreamRef("https://upstream.example", "job_1"))
    _assert_counts(store, A, 5, 5)

    assert store.tasks.succeed(succeeded, Outputs("v", "p"), {"engine": 1.0})
    assert store.tasks.fail(failed, "boom", FailureCode.INTERNAL)
    _assert_counts(store, A, 3, 3)
    assert not store.tasks.succeed(succeeded, Outputs("v", "p"))  # a second finish: no change
    _assert_counts(store, A, 3, 3)

    assert store.tasks.release(released)
    _assert_counts(store, A, 3, 2)
    assert store.tasks.request_cancel(flagged.task.id, A) is not None  # running: only flagged
    _assert_counts(store, A, 3, 2)
    assert store.tasks.cancelled(flagged)
    _assert_counts(store, A, 2, 1)

    again = _claim(store, A)  # the released task
    assert again.task.id == released.task.id
    _assert_counts(store, A, 2, 2)
    clock.advance(31)
    assert store.tasks.reap_expired(max_attempts=2).requeued == 2
    _assert_counts(store, A, 2, 0)

    doomed, to_cancel = _claim(store, A), _claim(store, A)
    assert (doomed.task.id, to_cancel.task.id) == (released.task.id, abandoned.task.id)
    _assert_counts(store, A, 2, 2)
    assert store.tasks.request_cancel(to_cancel.task.id, A) is not None
    clock.advance(31)
    reaped = store.tasks.reap_expired(max_attempts=2)
    assert (reaped.failed, reaped.cancelled) == ([doomed.task.id], [to_cancel.task.id])
    _assert_counts(store, A, 0, 0)

    for task_id in ids:
        store.tasks.delete(task_id, A)
    store.tasks.mark_outputs_expired(succeeded.task.id)
    _assert_counts(store, A, 0, 0)
    _assert_counts(store, B, 1, 0)
    store.tasks.create(new_task(owner=A), max_active=1)
    _assert_counts(store, A, 1, 0)
