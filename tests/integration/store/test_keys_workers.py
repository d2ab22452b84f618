"""API keys and the worker registry: the contract on every store."""

from __future__ import annotations

import dataclasses
import time

from reelgate.store.base import Store, WorkerInfo
from reelgate.store.keys import hash_key
from tests.integration.store.conftest import FakeClock


def test_a_key_is_found_by_its_hash_until_revoked(store: Store) -> None:
    record, key = store.keys.create("ci", max_active_tasks=3)
    assert key.startswith("rg_")
    assert record.key_hash == hash_key(key)
    assert key not in repr(record)
    found = store.keys.find_active(hash_key(key))
    assert found == record
    assert store.keys.count_active() == 1
    assert store.keys.revoke(record.id)
    assert not store.keys.revoke(record.id)
    assert store.keys.find_active(hash_key(key)) is None
    assert store.keys.count_active() == 0
    (listed,) = store.keys.list()
    assert listed.revoked_at is not None


def test_a_key_is_made_admin_or_not_and_read_back_by_id(store: Store) -> None:
    admin, admin_key = store.keys.create("operator", admin=True)
    plain, _ = store.keys.create("ci", max_active_tasks=2, rate_per_minute=30.0)

    assert admin.admin
    assert not plain.admin
    found = store.keys.find_active(hash_key(admin_key))
    assert found is not None
    assert found.admin
    assert store.keys.get(plain.id) == plain
    assert store.keys.get("key_unknown") is None
    assert {k.id: k.admin for k in store.keys.list()} == {admin.id: True, plain.id: False}
    store.keys.revoke(admin.id)
    revoked = store.keys.get(admin.id)
    assert revoked is not None
    assert revoked.admin
    assert revoked.revoked_at is not None


def test_key_limits_can_be_set_and_reset(store: Store) -> None:
    record, key = store.keys.create("ci")
    assert store.keys.set_limits(record.id, 5, 60.0)
    found = store.keys.find_active(hash_key(key))
    assert found is not None
    assert (found.max_active_tasks, found.rate_per_minute) == (5, 60.0)
    assert store.keys.set_limits(record.id, None, None)
    found = store.keys.find_active(hash_key(key))
    assert found is not None
    assert (found.max_active_tasks, found.rate_per_minute) == (None, None)
    assert not store.keys.set_limits("key_unknown", 1, 1.0)


def _worker(worker_id: str, host: str = "gpu-1", task: str | None = None) -> WorkerInfo:
    now = time.time()
    return WorkerInfo(
        id=worker_id,
        hostname=host,
        pid=4242,
        models=("gen4", "veo3"),
        device="cuda:0",
        started_at=now,
        heartbeat_at=now,
        current_task_id=task,
    )


def test_workers_are_live_while_they_beat(timed_store: Store, clock: FakeClock) -> None:
    workers = timed_store.workers
    workers.beat([_worker("w-b", host="gpu-2"), _worker("w-a", host="gpu-1")])
    assert [w.id for w in workers.live(30)] == ["w-a", "w-b"]
    assert workers.live(30)[0].models == ("gen4", "veo3")
    clock.advance(20)
    workers.beat([_worker("w-a", task="t-1")])
    clock.advance(20)
    (live,) = workers.live(30)
    assert (live.id, live.current_task_id) == ("w-a", "t-1")
    assert workers.prune(older_than_seconds=3600) == 0
    clock.advance(3570)
    assert workers.prune(older_than_seconds=3600) == 1  # w-b, silent 3610 s; w-a 3590 s
    assert [w.id for w in workers.live(3600)] == ["w-a"]
    workers.remove(["w-a"])
    assert workers.live(3600) == []


def test_a_worker_keeps_its_first_start_time_by_the_stores_clock(
    timed_store: Store, clock: FakeClock
) -> None:
    workers = timed_store.workers
    workers.beat([dataclasses.replace(_worker("w"), started_at=1.0, heartbeat_at=1.0)])
    (first,) = workers.live(60)
    assert first.started_at == first.heartbeat_at != 1.0  # the store's clock, not the worker's
    clock.advance(20)
    workers.beat([_worker("w")])
    (live,) = workers.live(60)
    assert live.started_at == first.started_at
    assert live.heartbeat_at == first.heartbeat_at + 20
