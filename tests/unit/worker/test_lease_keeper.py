"""LeaseKeeper: the heartbeat thread that keeps a claim alive and tells the worker to stop.

The keeper beats every few milliseconds here; each test waits for the event it expects, with a
generous bound, and the store's clock is moved by hand so a lease lapses without sleeping.
"""

from __future__ import annotations

import threading
import uuid
from typing import cast

from reelgate.core.tasks import Action, GenerationSpec, NewTask
from reelgate.store.base import Claim, LeaseState, TaskQueue
from reelgate.store.memory import MemoryStore
from reelgate.worker.lease import LeaseKeeper

OWNER = "key_alice"
LEASE_SECONDS = 30.0
BEAT_SECONDS = 0.005
WAIT_SECONDS = 10.0  # a bound for a slow machine, never a pause


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def running_task(store: MemoryStore) -> Claim:
    spec = GenerationSpec(prompt="a fox", model="tiny", width=64, height=48, seconds=1, seed=1)
    new = NewTask(
        id=str(uuid.uuid4()),
        owner_id=OWNER,
        dialect="native",
        action=Action.TEXT_TO_VIDEO,
        spec=spec,
        callback_url=None,
        api_version="2024-11-06",
        created_at=0.0,
    )
    store.tasks.create(new)
    claim = store.tasks.claim("w1", LEASE_SECONDS)
    assert claim is not None
    return claim


class CountingQueue:
    """The store's heartbeat, counted, so a test can wait for beats made after a point."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.beats = 0
        self.changed = threading.Condition()

    def heartbeat(self, claim: Claim, lease_seconds: float) -> LeaseState:
        state = self._store.tasks.heartbeat(claim, lease_seconds)
        with self.changed:
            self.beats += 1
            self.changed.notify_all()
        return state

    def wait_for_beats(self, count: int) -> bool:
        with self.changed:
            target = self.beats + count
            return self.changed.wait_for(lambda: self.beats >= target, WAIT_SECONDS)


class FlakyQueue:
    """A heartbeat whose first call fails like a dropped database connection."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.calls = 0

    def heartbeat(self, claim: Claim, lease_seconds: float) -> LeaseState:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("server closed the connection unexpectedly")
        return self._store.tasks.heartbeat(claim, lease_seconds)


def test_a_lease_taken_over_by_another_worker_is_reported_lost() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    claim = running_task(store)
    clock.now += LEASE_SECONDS + 1
    store.tasks.reap_expired(max_attempts=3)
    assert store.tasks.claim("w2", LEASE_SECONDS) is not None

    with LeaseKeeper(store.tasks, claim, BEAT_SECONDS, LEASE_SECONDS) as keeper:
        assert keeper.lost.wait(WAIT_SECONDS)

    assert not keeper.cancel_requested.is_set()


def test_a_cancel_asked_by_the_owner_reaches_the_worker() -> None:
    store = MemoryStore(clock=FakeClock())
    claim = running_task(store)

    with LeaseKeeper(store.tasks, claim, BEAT_SECONDS, LEASE_SECONDS) as keeper:
        store.tasks.request_cancel(claim.task.id, OWNER)
        assert keeper.cancel_requested.wait(WAIT_SECONDS)

    assert not keeper.lost.is_set()


def test_beats_keep_a_long_render_from_being_taken_over() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    claim = running_task(store)
    queue = CountingQueue(store)

    with LeaseKeeper(cast(TaskQueue, queue), claim, BEAT_SECONDS, LEASE_SECONDS) as keeper:
        for _ in range(3):  # 60 s of rendering against a 30 s lease
            clock.now += LEASE_SECONDS * 2 / 3
            assert queue.wait_for_beats(2)  # the second surely read the new time
            assert store.tasks.reap_expired(max_attempts=3).requeued == 0
        assert not keeper.lost.is_set()

    beats = queue.beats
    clock.now += LEASE_SECONDS + 1  # after the keeper stopped, the lease lapses
    assert store.tasks.reap_expired(max_attempts=3).requeued == 1
    assert queue.beats == beats


def test_a_failed_heartbeat_is_not_a_lost_lease() -> None:
    store = MemoryStore(clock=FakeClock())
    claim = running_task(store)
    queue = FlakyQueue(store)

    with LeaseKeeper(cast(TaskQueue, queue), claim, BEAT_SECONDS, LEASE_SECONDS) as keeper:
        store.tasks.request_cancel(claim.task.id, OWNER)
        assert keeper.cancel_requested.wait(WAIT_SECONDS)  # learnt on a later beat

    assert queue.calls >= 2
    assert not keeper.lost.is_set()
