"""What the metrics' store gauges read: queue depth per model and status with each model's
oldest queued task, and the webhook backlog, the same on every backend."""

from __future__ import annotations

import time

from reelgate.core.tasks import FailureCode
from reelgate.store.base import AttemptRecord, EventState, Store
from tests.integration.store.factory import HOOK, add_task


def test_depth_counts_queued_and_running_per_model(store: Store) -> None:
    assert store.tasks.depth().counts == {}
    now = time.time()
    add_task(store, model="gen4", created_at=now - 30)
    add_task(store, model="gen4", created_at=now - 10)
    add_task(store, model="gen3", created_at=now - 5)
    claim = store.tasks.claim("w", 30, ["gen4"])
    assert claim is not None
    done = add_task(store, model="gen2")
    finished = store.tasks.claim("w", 30, ["gen2"])
    assert finished is not None
    assert finished.task.id == done
    assert store.tasks.fail(finished, "x", FailureCode.INTERNAL)

    depth = store.tasks.depth()
    assert depth.counts == {("gen4", "queued"): 1, ("gen4", "running"): 1, ("gen3", "queued"): 1}
    assert depth.oldest_queued_at["gen4"] == now - 10  # the older one is running now
    assert depth.oldest_queued_at["gen3"] == now - 5
    assert "gen2" not in depth.oldest_queued_at


def test_backlog_counts_pending_events_until_they_are_delivered(store: Store) -> None:
    assert store.outbox.backlog().pending == 0
    assert store.outbox.backlog().oldest_created_at is None
    add_task(store, callback=HOOK)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    before = time.time()
    assert store.tasks.fail(claim, "x", FailureCode.INTERNAL)
    backlog = store.outbox.backlog()
    assert backlog.pending == 1
    assert backlog.oldest_created_at is not None
    assert before - 5 <= backlog.oldest_created_at <= time.time() + 5

    [event] = store.outbox.claim_due(10, 30)
    attempt = AttemptRecord(1, time.time(), 204, 3.0, None)
    store.outbox.record(event.id, attempt, EventState.DELIVERED, None)
    assert store.outbox.backlog().pending == 0
