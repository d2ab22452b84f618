"""The task store's contract: claiming, leases, fencing, progress, outbox, quotas."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from reelgate.core.tasks import (
    Action,
    Dialect,
    FailureCode,
    GenerationSpec,
    NewTask,
    Outputs,
    TaskStatus,
)
from reelgate.store.outbox import EventState
from reelgate.store.schema import tasks as tasks_table
from reelgate.store.store import Store
from reelgate.store.tasks import QuotaExceededError

OWNER = "key_owner"


def _new(store: Store, owner: str = OWNER, model: str = "gen4", callback: str | None = None) -> str:
    task_id = str(uuid.uuid4())
    spec = GenerationSpec(prompt="a cat", model=model, width=1280, height=720, seconds=5, seed=7)
    store.tasks.create(
        NewTask(
            id=task_id,
            owner_id=owner,
            dialect=Dialect.COMETAPI,
            action=Action.TEXT_TO_VIDEO,
            spec=spec,
            callback_url=callback,
            runway_version="2024-11-06",
            created_at=time.time(),
        )
    )
    return task_id


def test_created_task_reads_back_for_its_owner_only(store: Store) -> None:
    task_id = _new(store)
    task = store.tasks.get(task_id, OWNER)
    assert task is not None
    assert task.status is TaskStatus.QUEUED
    assert task.spec.seed == 7
    assert store.tasks.get(task_id, "someone_else") is None


def test_claim_takes_oldest_queued_and_bumps_attempt(store: Store) -> None:
    first = _new(store)
    _new(store)
    claim = store.tasks.claim("w1", lease_seconds=30)
    assert claim is not None
    assert claim.task.id == first
    assert claim.task.status is TaskStatus.RUNNING
    assert claim.task.attempt == 1
    assert claim.task.started_at is not None


def test_claim_respects_models(store: Store) -> None:
    _new(store, model="gen4")
    assert store.tasks.claim("w1", 30, models=["sora-2"]) is None
    claim = store.tasks.claim("w1", 30, models=["gen4"])
    assert claim is not None


def test_concurrent_claims_never_share_a_task(store: Store) -> None:
    ids = {_new(store) for _ in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while True:
            claim = store.tasks.claim(name, 30)
            if claim is None:
                return
            with lock:
                claimed.append(claim.task.id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)


def test_stale_lease_cannot_write_after_reclaim(store: Store) -> None:
    _new(store)
    stale = store.tasks.claim("w1", lease_seconds=0.01)
    assert stale is not None
    time.sleep(0.05)
    reaped = store.tasks.reap_expired(max_attempts=3)
    assert (reaped.requeued, reaped.failed) == (1, [])
    fresh = store.tasks.claim("w2", lease_seconds=30)
    assert fresh is not None
    assert fresh.task.attempt == 2
    outputs = Outputs(video_key="tasks/x/1/video.mp4", poster_key="tasks/x/1/poster.jpg")
    assert not store.tasks.report_progress(stale, 0.5).held
    assert not store.tasks.heartbeat(stale, 30).held
    assert not store.tasks.succeed(stale, outputs)
    assert not store.tasks.fail(stale, "late", FailureCode.INTERNAL)
    assert store.tasks.heartbeat(fresh, 30).held
    assert store.tasks.succeed(fresh, outputs)
    task = store.tasks.get(fresh.task.id, None)
    assert task is not None
    assert task.status is TaskStatus.SUCCEEDED
    assert task.outputs == outputs


def test_reaper_fails_task_after_last_attempt(store: Store) -> None:
    task_id = _new(store, callback="https://example.com/hook")
    for _ in range(2):
        claim = store.tasks.claim("w", lease_seconds=0.01)
        assert claim is not None
        time.sleep(0.03)
        store.tasks.reap_expired(max_attempts=2)
    task = store.tasks.get(task_id, None)
    assert task is not None
    assert task.status is TaskStatus.FAILED
    assert task.failure_code == "INTERNAL"
    assert "2 attempts" in (task.failure or "")
    events = store.outbox.events_for_task(task_id)
    assert [e.event_type for e in events] == ["task.failed"]


def test_progress_never_goes_backwards(store: Store) -> None:
    _new(store)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert store.tasks.report_progress(claim, 0.6).held
    assert store.tasks.report_progress(claim, 0.3).held
    task = store.tasks.get(claim.task.id, None)
    assert task is not None
    assert task.progress == pytest.approx(0.6)


def test_terminal_transition_writes_one_outbox_event(store: Store) -> None:
    task_id = _new(store, callback="https://example.com/hook")
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    outputs = Outputs(video_key="a/video.mp4", poster_key="a/poster.jpg")
    assert store.tasks.succeed(claim, outputs)
    assert not store.tasks.succeed(claim, outputs)  # a second finish matches nothing
    events = store.outbox.events_for_task(task_id)
    assert len(events) == 1
    assert events[0].event_type == "task.succeeded"
    assert events[0].state is EventState.PENDING
    assert events[0].id.startswith("msg_")


def test_no_outbox_event_without_callback(store: Store) -> None:
    task_id = _new(store, callback=None)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert store.tasks.fail(claim, "boom", FailureCode.INTERNAL)
    assert store.outbox.events_for_task(task_id) == []


def test_release_returns_task_without_counting_the_attempt(store: Store) -> None:
    _new(store)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert store.tasks.release(claim)
    again = store.tasks.claim("w2", 30)
    assert again is not None
    assert again.task.attempt == 1


def test_cancel_flag_reaches_heartbeat(store: Store) -> None:
    _new(store)
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    with store.engine.begin() as conn:
        conn.execute(
            tasks_table.update()
            .where(tasks_table.c.id == claim.task.id)
            .values(cancel_requested=True)
        )
    state = store.tasks.heartbeat(claim, 30)
    assert state.held
    assert state.cancel_requested
    assert store.tasks.cancelled(claim)
    task = store.tasks.get(claim.task.id, None)
    assert task is not None
    assert task.status is TaskStatus.CANCELLED


def test_quota_counts_queued_and_running(store: Store) -> None:
    for _ in range(2):
        _new(store)
    assert store.tasks.claim("w", 30) is not None
    with pytest.raises(QuotaExceededError) as over:
        store.tasks.create(
            NewTask(
                id=str(uuid.uuid4()),
                owner_id=OWNER,
                dialect=Dialect.COMETAPI,
                action=Action.TEXT_TO_VIDEO,
                spec=GenerationSpec("x", "gen4", 960, 960, 5, 1),
                callback_url=None,
                runway_version="2024-11-06",
                created_at=time.time(),
            ),
            max_active=2,
        )
    assert over.value.active == 2
    assert store.tasks.count_active("another") == 0


def test_outbox_claim_locks_due_events(store: Store) -> None:
    task_id = _new(store, callback="https://example.com/hook")
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    assert store.tasks.fail(claim, "x", FailureCode.INTERNAL)
    first = store.outbox.claim_due(10, lock_seconds=60)
    assert [e.task_id for e in first] == [task_id]
    assert store.outbox.claim_due(10, lock_seconds=60) == []  # locked by the first notifier


def test_schema_has_expected_tables(store: Store) -> None:
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"tasks", "api_keys", "webhook_events", "webhook_attempts"} <= names


def test_running_cap_skips_owners_at_their_limit(store: Store) -> None:
    first = _new(store, owner="a")
    second = _new(store, owner="a")
    other = _new(store, owner="b")
    claim = store.tasks.claim("w1", 30, max_running_per_owner=1)
    assert claim is not None
    assert claim.task.id == first
    next_claim = store.tasks.claim("w2", 30, max_running_per_owner=1)
    assert next_claim is not None
    assert next_claim.task.id == other  # `second` waits: owner a is at its cap
    assert store.tasks.claim("w3", 30, max_running_per_owner=1) is None
    assert store.tasks.count_running("a") == 1
    store.tasks.succeed(claim, Outputs("v", "p"))
    last = store.tasks.claim("w1", 30, max_running_per_owner=1)
    assert last is not None
    assert last.task.id == second


def test_list_pages_by_cursor_in_both_orders(store: Store) -> None:
    ids = []
    for _ in range(5):
        ids.append(_new(store))
        time.sleep(0.002)
    _new(store, owner="someone-else")
    page = store.tasks.list_for_owner(OWNER, after=None, limit=2, newest_first=False)
    assert [t.id for t in page] == ids[:2]
    page = store.tasks.list_for_owner(OWNER, after=ids[1], limit=10, newest_first=False)
    assert [t.id for t in page] == ids[2:]
    page = store.tasks.list_for_owner(OWNER, after=None, limit=3, newest_first=True)
    assert [t.id for t in page] == ids[::-1][:3]
    page = store.tasks.list_for_owner(OWNER, after=ids[2], limit=10, newest_first=True)
    assert [t.id for t in page] == ids[:2][::-1]
    assert (
        store.tasks.list_for_owner("someone-else", after=ids[0], limit=5, newest_first=True) == []
    )


def test_only_finished_tasks_are_deleted(store: Store) -> None:
    task_id = _new(store)
    assert store.tasks.delete(task_id, OWNER) is None
    claim = store.tasks.claim("w", 30)
    assert claim is not None
    store.tasks.succeed(claim, Outputs("v", "p"))
    assert store.tasks.delete(task_id, "not-the-owner") is None
    deleted = store.tasks.delete(task_id, OWNER)
    assert deleted is not None
    assert deleted.status is TaskStatus.SUCCEEDED
    assert store.tasks.get(task_id, OWNER) is None


def test_reaper_cancels_an_expired_task_whose_cancel_was_asked(store: Store) -> None:
    task_id = _new(store, callback="https://example.com/hook")
    claim = store.tasks.claim("w", lease_seconds=0.01)
    assert claim is not None
    store.tasks.request_cancel(task_id, OWNER)
    time.sleep(0.03)
    reaped = store.tasks.reap_expired(max_attempts=3)
    assert reaped.cancelled == [task_id]
    assert reaped.requeued == 0
    task = store.tasks.get(task_id, OWNER)
    assert task is not None
    assert task.status is TaskStatus.CANCELLED
    assert [e.event_type for e in store.outbox.events_for_task(task_id)] == ["task.cancelled"]
