"""`MemoryStore`: the whole store in one process's memory, for fast tests and as a plain
statement of the rules that `SqlStore` implements in SQL (both pass one contract suite).

Nothing persists. One lock serialises every call, as SQLite's single writer does; one clock
(injectable, so tests can let leases lapse without sleeping) serves every time, since there is
only one process to agree with. The tasks live in memory_tasks; the outbox, keys, idempotency
reservations and worker registry here.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

from reelgate.core.tasks import Task, TaskStatus
from reelgate.store.base import (
    AbandonedJob,
    ApiKey,
    AttemptRecord,
    EventState,
    Idempotency,
    Keys,
    Listener,
    Outbox,
    OutboxBacklog,
    OutboxEvent,
    Reservation,
    ReserveResult,
    Tasks,
    WorkerInfo,
    WorkerRegistry,
)
from reelgate.store.memory_tasks import MemoryTasks, TaskRow
from reelgate.store.rules import (
    KEY_TTL_SECONDS,
    STALE_RESERVATION_SECONDS,
    destination,
    event_type,
    generate_key,
    hash_key,
    new_event_id,
    new_key_id,
)

Clock = Callable[[], float]


@dataclass(slots=True)
class _Event:
    id: str
    task_id: str
    url: str
    event_type: str
    created_at: float
    next_attempt_at: float | None
    seq: int
    state: EventState = EventState.PENDING
    attempts: int = 0
    locked_until: float | None = None
    finished_at: float | None = None
    history: list[AttemptRecord] = dataclasses.field(default_factory=list)

    def public(self) -> OutboxEvent:
        return OutboxEvent(
            id=self.id,
            task_id=self.task_id,
            url=self.url,
            destination=destination(self.url),
            event_type=self.event_type,
            state=self.state,
            attempts=self.attempts,
            next_attempt_at=self.next_attempt_at,
            created_at=self.created_at,
        )


@dataclass(slots=True)
class _Reservation:
    request_hash: str
    created_at: float
    task_id: str | None = None


class MemoryState:
    """Everything the store holds, and the lock that guards all of it."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.seq = itertools.count()
        self.tasks: dict[str, TaskRow] = {}
        self.events: dict[str, _Event] = {}
        self.keys: dict[str, ApiKey] = {}
        self.reservations: dict[tuple[str, str], _Reservation] = {}
        self.workers: dict[str, WorkerInfo] = {}
        # By task id: each abandoned upstream job, and when it is next due (postponed later).
        self.abandoned: dict[str, tuple[AbandonedJob, float]] = {}

    def owned(self, task_id: str, owner_id: str | None) -> TaskRow | None:
        row = self.tasks.get(task_id)
        if row is None or (owner_id is not None and row.task.owner_id != owner_id):
            return None
        return row

    def ended(self, task: Task, now: float) -> None:
        """What a task's end writes beside it: its webhook event, and its upstream job when it
        ended cancelled or failed while the job may still run (store.tasks `_left_upstream`)."""
        self.enqueue_event(task, now)
        ref = task.upstream
        if task.status is not TaskStatus.SUCCEEDED and ref is not None and ref.live:
            self.abandoned[task.id] = (AbandonedJob(task.id, task.spec.model, ref, now), now)

    def enqueue_event(self, task: Task, now: float) -> None:
        if not task.callback_url:
            return
        event = _Event(
            id=new_event_id(),
            task_id=task.id,
            url=task.callback_url,
            event_type=event_type(task.status),
            created_at=now,
            next_attempt_at=now,
            seq=next(self.seq),
        )
        self.events[event.id] = event


class MemoryOutbox:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def claim_due(
        self, limit: int, lock_seconds: float, skip: Collection[str] = ()
    ) -> list[OutboxEvent]:
        with self._s.lock:
            now = self._s.clock()
            due = [
                event
                for event in self._s.events.values()
                if event.state is EventState.PENDING
                and destination(event.url) not in skip
                and event.next_attempt_at is not None
                and event.next_attempt_at <= now
                and (event.locked_until is None or event.locked_until < now)
            ]
            due.sort(key=lambda event: (event.next_attempt_at or 0.0, event.seq))
            for event in due[:limit]:
                event.locked_until = now + lock_seconds
            return [event.public() for event in due[:limit]]

    def backlog(self) -> OutboxBacklog:
        with self._s.lock:
            events = self._s.events.values()
            pending = [e.created_at for e in events if e.state is EventState.PENDING]
        return OutboxBacklog(pending=len(pending), oldest_created_at=min(pending, default=None))

    def release(self, event_ids: Collection[str]) -> None:
        with self._s.lock:
            for event_id in event_ids:
                event = self._s.events.get(event_id)
                if event is not None and event.state is EventState.PENDING:
                    event.locked_until = None

    def record(
        self,
        event_id: str,
        attempt: AttemptRecord,
        state: EventState,
        retry_in_seconds: float | None,
    ) -> None:
        with self._s.lock:
            event = self._s.events.get(event_id)
            if event is None:
                return
            now = self._s.clock()
            event.history.append(attempt)
            event.attempts = attempt.attempt
            event.state = state
            event.next_attempt_at = None if retry_in_seconds is None else now + retry_in_seconds
            event.locked_until = None
            event.finished_at = None if state is EventState.PENDING else now

    def events_for_task(self, task_id: str, owner_id: str) -> list[OutboxEvent]:
        with self._s.lock:
            if self._s.owned(task_id, owner_id) is None:
                return []
            mine = [event for event in self._s.events.values() if event.task_id == task_id]
            mine.sort(key=lambda event: (event.created_at, event.seq))
            return [event.public() for event in mine]

    def attempts(self, event_id: str) -> list[AttemptRecord]:
        with self._s.lock:
            event = self._s.events.get(event_id)
            return sorted(event.history, key=lambda a: a.attempt) if event else []

    def redeliver(self, event_id: str, task_id: str, owner_id: str) -> bool:
        with self._s.lock:
            event = self._s.events.get(event_id)
            if event is None or event.task_id != task_id:
                return False
            if self._s.owned(task_id, owner_id) is None:
                return False
            event.state = EventState.PENDING
            event.next_attempt_at = self._s.clock()
            event.locked_until = None
            event.finished_at = None
            return True


class MemoryKeys:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def create(
        self,
        name: str,
        max_active_tasks: int | None = None,
        rate_per_minute: float | None = None,
        *,
        admin: bool = False,
    ) -> tuple[ApiKey, str]:
        key = generate_key()
        record = ApiKey(
            id=new_key_id(),
            name=name,
            prefix=key[:10],
            key_hash=hash_key(key),
            created_at=self._s.clock(),
            revoked_at=None,
            max_active_tasks=max_active_tasks,
            rate_per_minute=rate_per_minute,
            admin=admin,
        )
        with self._s.lock:
            self._s.keys[record.id] = record
        return record, key

    def get(self, key_id: str) -> ApiKey | None:
        with self._s.lock:
            return self._s.keys.get(key_id)

    def find_active(self, key_hash: str) -> ApiKey | None:
        with self._s.lock:
            for record in self._s.keys.values():
                if record.key_hash == key_hash and record.revoked_at is None:
                    return record
            return None

    def revoke(self, key_id: str) -> bool:
        with self._s.lock:
            record = self._s.keys.get(key_id)
            if record is None or record.revoked_at is not None:
                return False
            self._s.keys[key_id] = dataclasses.replace(record, revoked_at=self._s.clock())
            return True

    def set_limits(
        self, key_id: str, max_active_tasks: int | None, rate_per_minute: float | None
    ) -> bool:
        with self._s.lock:
            record = self._s.keys.get(key_id)
            if record is None:
                return False
            self._s.keys[key_id] = dataclasses.replace(
                record, max_active_tasks=max_active_tasks, rate_per_minute=rate_per_minute
            )
            return True

    def count_active(self) -> int:
        with self._s.lock:
            return sum(1 for record in self._s.keys.values() if record.revoked_at is None)

    def list(self) -> list[ApiKey]:
        with self._s.lock:
            return sorted(self._s.keys.values(), key=lambda record: record.created_at)


class MemoryIdempotency:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def reserve(self, owner_id: str, key: str, request_hash: str) -> ReserveResult:
        """The rules of store.idempotency: a day's life, a minute before a reservation whose
        request never bound it is taken over."""
        with self._s.lock:
            now = self._s.clock()
            found = self._s.reservations.get((owner_id, key))
            if found is None or found.created_at < now - KEY_TTL_SECONDS:
                self._s.reservations[(owner_id, key)] = _Reservation(request_hash, now)
                return ReserveResult(Reservation.NEW)
            if found.request_hash != request_hash:
                return ReserveResult(Reservation.MISMATCH)
            if found.task_id is not None:
                return ReserveResult(Reservation.REPLAY, found.task_id)
            if found.created_at < now - STALE_RESERVATION_SECONDS:
                found.created_at = now
                return ReserveResult(Reservation.NEW)
            return ReserveResult(Reservation.IN_FLIGHT)

    def release(self, owner_id: str, key: str) -> None:
        with self._s.lock:
            found = self._s.reservations.get((owner_id, key))
            if found is not None and found.task_id is None:
                del self._s.reservations[(owner_id, key)]

    def purge_expired(self) -> int:
        with self._s.lock:
            cutoff = self._s.clock() - KEY_TTL_SECONDS
            old = [name for name, r in self._s.reservations.items() if r.created_at < cutoff]
            for name in old:
                del self._s.reservations[name]
            return len(old)


class MemoryWorkers:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    def beat(self, infos: list[WorkerInfo]) -> None:
        with self._s.lock:
            now = self._s.clock()
            for info in infos:
                known = self._s.workers.get(info.id)
                started_at = known.started_at if known else now
                self._s.workers[info.id] = dataclasses.replace(
                    info, started_at=started_at, heartbeat_at=now
                )

    def remove(self, ids: list[str]) -> None:
        with self._s.lock:
            for worker_id in ids:
                self._s.workers.pop(worker_id, None)

    def live(self, window_seconds: float) -> list[WorkerInfo]:
        with self._s.lock:
            since = self._s.clock() - window_seconds
            live = [info for info in self._s.workers.values() if info.heartbeat_at >= since]
            return sorted(live, key=lambda info: (info.hostname, info.id))

    def prune(self, older_than_seconds: float) -> int:
        with self._s.lock:
            cutoff = self._s.clock() - older_than_seconds
            silent = [info.id for info in self._s.workers.values() if info.heartbeat_at < cutoff]
            for worker_id in silent:
                del self._s.workers[worker_id]
            return len(silent)


class MemoryStore:
    """Every protocol of store.base in memory; `clock` is the one clock of every time."""

    def __init__(self, clock: Clock = time.time) -> None:
        state = MemoryState(clock)
        self.tasks: Tasks = MemoryTasks(state)
        self.outbox: Outbox = MemoryOutbox(state)
        self.keys: Keys = MemoryKeys(state)
        self.idempotency: Idempotency = MemoryIdempotency(state)
        self.workers: WorkerRegistry = MemoryWorkers(state)

    @property
    def inline_reads(self) -> bool:
        return True  # a dict lookup under a lock held for microseconds

    def prepare(self) -> None:
        """Nothing to migrate."""

    def listener(self, wake: Callable[[], None]) -> Listener | None:
        return None  # no other process can queue a task here

    def ping(self) -> None:
        """Always reachable."""

    def close(self) -> None:
        """Nothing to release."""
