"""Processes whose clocks disagree share one database: deadlines must follow the database's
clock, not theirs. Each store below stands for a process on another machine; `clock` is that
machine's clock, minutes off the others."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reelgate.core.tasks import FailureCode, Outputs, TaskStatus
from reelgate.store import db
from reelgate.store.base import AttemptRecord, EventState, WorkerInfo
from reelgate.store.store import SqlStore
from tests.integration.store.conftest import SQL_BACKENDS, sql_url
from tests.integration.store.factory import HOOK, OWNER, add_task
from tests.support.waiting import wait_until

SKEW_SECONDS = 300.0


def _ahead() -> float:
    return time.time() + SKEW_SECONDS


def _behind() -> float:
    return time.time() - SKEW_SECONDS


@pytest.fixture(params=SQL_BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with sql_url(request.param, tmp_path) as url:
        engine = db.create_engine(url)
        db.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture
def on_time(url: str) -> Iterator[SqlStore]:
    store = SqlStore.open(url)
    yield store
    store.close()


@pytest.fixture
def ahead(url: str) -> Iterator[SqlStore]:
    store = SqlStore.open(url, clock=_ahead)
    yield store
    store.close()


@pytest.fixture
def behind(url: str) -> Iterator[SqlStore]:
    store = SqlStore.open(url, clock=_behind)
    yield store
    store.close()


def test_a_reaper_whose_clock_runs_ahead_leaves_live_leases_alone(
    on_time: SqlStore, ahead: SqlStore
) -> None:
    task_id = add_task(on_time)
    claim = on_time.tasks.claim("w", lease_seconds=30)
    assert claim is not None
    reaped = ahead.tasks.reap_expired(max_attempts=3)
    assert (reaped.requeued, reaped.finished) == (0, [])
    assert on_time.tasks.heartbeat(claim, 30).held
    reaped = ahead.tasks.reap_expired(max_attempts=1)
    assert (reaped.requeued, reaped.finished) == (0, [])
    assert on_time.tasks.succeed(claim, Outputs("v", "p"))
    task = ahead.tasks.get(task_id, OWNER)
    assert task is not None
    assert task.status is TaskStatus.SUCCEEDED


def test_a_worker_whose_clock_runs_behind_keeps_its_lease(
    behind: SqlStore, on_time: SqlStore
) -> None:
    add_task(on_time)
    claim = behind.tasks.claim("w", lease_seconds=30)
    assert claim is not None
    assert on_time.tasks.reap_expired(max_attempts=1).finished == []
    assert behind.tasks.heartbeat(claim, 30).held
    assert on_time.tasks.reap_expired(max_attempts=1).finished == []
    assert behind.tasks.report_progress(claim, 0.5).held


def test_a_lease_that_really_lapsed_is_reaped_whatever_the_clocks(
    behind: SqlStore, ahead: SqlStore
) -> None:
    task_id = add_task(behind)
    claim = behind.tasks.claim("w", lease_seconds=0.05)
    assert claim is not None
    requeued = wait_until(
        lambda: ahead.tasks.reap_expired(max_attempts=3).requeued,
        10,
        interval=0.02,
        what="the reaper on the clock ahead to requeue the lapsed lease",
    )
    assert requeued == 1
    assert not behind.tasks.heartbeat(claim, 30).held
    task = behind.tasks.get(task_id, OWNER)
    assert task is not None
    assert task.status is TaskStatus.QUEUED


def test_webhook_events_are_due_by_the_database_s_clock(
    ahead: SqlStore, behind: SqlStore, on_time: SqlStore
) -> None:
    add_task(ahead, callback=HOOK)
    claim = ahead.tasks.claim("w", 30)
    assert claim is not None
    assert ahead.tasks.fail(claim, "x", FailureCode.INTERNAL)
    (event,) = on_time.outbox.claim_due(10, lock_seconds=60)  # due at once, not in 5 minutes
    attempt = AttemptRecord(1, time.time(), 503, 10.0, "HTTP 503")
    behind.outbox.record(event.id, attempt, EventState.PENDING, retry_in_seconds=60)
    assert on_time.outbox.claim_due(10, lock_seconds=60) == []  # not retried 4 minutes early
    assert ahead.outbox.claim_due(10, lock_seconds=60) == []


def test_a_worker_that_just_beat_is_live_to_every_machine(
    behind: SqlStore, ahead: SqlStore
) -> None:
    now = _behind()
    info = WorkerInfo("w-1", "gpu-1", 7, ("gen4",), "cuda:0", now, now, None)
    behind.workers.beat([info])
    (live,) = ahead.workers.live(window_seconds=30)
    assert live.id == "w-1"
    assert abs(live.heartbeat_at - time.time()) < 5  # the database's time, not the worker's
    assert ahead.workers.prune(older_than_seconds=60) == 0
