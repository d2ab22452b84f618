"""The store's seams: what the service, the workers and the notifier may ask of it.

Two implementations stand behind these protocols and pass one contract suite
(tests/integration/store): `SqlStore` (SQLite or PostgreSQL, the only code with SQL) and
`MemoryStore` (one process, no persistence: fast tests, and a reference for the rules).

    Store
    ├── tasks: Tasks = TaskRecords (API side: create, read, list, cancel, delete; owner-scoped)
    │                + TaskQueue   (worker side: claim, lease, progress, finish, reap)
    ├── outbox: Outbox            (webhook events: claimed by notifiers, read by their owner)
    ├── keys: Keys                (API keys, stored as hashes)
    ├── idempotency: Idempotency  (Idempotency-Key reservations)
    └── workers: WorkerRegistry   (live workers, for readiness and operators)

Every read on behalf of a caller takes the caller's owner id and answers another owner's record
exactly as an unknown one; `owner_id=None` is for internal callers (workers, notifier) only.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from reelgate.core.tasks import FailureCode, NewTask, Outputs, Task, UpstreamRef


@dataclass(frozen=True, slots=True)
class Claim:
    """A worker's hold on a task: valid while `token` is the task's current lease token."""

    task: Task
    token: int
    worker_id: str


@dataclass(frozen=True, slots=True)
class LeaseState:
    """What a heartbeat learns: whether the lease is still held, and whether to stop."""

    held: bool
    cancel_requested: bool


@dataclass(frozen=True, slots=True)
class ReapResult:
    requeued: int
    failed: list[str]  # ids of tasks that ran out of attempts
    cancelled: list[str]  # ids of tasks cancelled while their worker was gone

    @property
    def finished(self) -> list[str]:
        return self.failed + self.cancelled


@dataclass(frozen=True, slots=True)
class AbandonedJob:
    """An upstream job whose task ended without it (TaskQueue.abandoned_upstream)."""

    task_id: str
    model: str
    ref: UpstreamRef
    abandoned_at: float  # when its task ended


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """The queue at one moment, for operators' gauges: every replica reads the same rows."""

    counts: dict[tuple[str, str], int]  # (model, status) -> tasks, for queued and running
    oldest_queued_at: dict[str, float]  # model -> created_at of its oldest queued task


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """Webhook events not yet delivered nor given up on."""

    pending: int
    oldest_created_at: float | None


class TaskRecords(Protocol):
    """The API side of the tasks: every call is scoped to one owner."""

    def create(
        self, new: NewTask, max_active: int | None = None, idempotency_key: str | None = None
    ) -> Task:
        """Insert a queued task. With `max_active`, refuse (QuotaExceededError) when the owner
        already holds that many queued or running tasks; with `idempotency_key`, bind the
        owner's reservation of that key to the task, atomically with the insert."""

    def get(self, task_id: str, owner_id: str | None) -> Task | None:
        """The task, or None when it does not exist or belongs to another owner."""

    def get_many(self, task_ids: Collection[str]) -> list[Task]:
        """The tasks among `task_ids` that exist, in any order, whoever owns them: for the one
        internal watcher that follows every open event stream with a single read per tick."""

    def list_for_owner(
        self,
        owner_id: str,
        *,
        after: str | None,
        limit: int,
        newest_first: bool,
        status: str | None = None,
        model: str | None = None,
    ) -> list[Task]:
        """One page of the owner's tasks by creation; `after` is the last id of the page before.
        `status` and `model` keep only the tasks with that status or model."""

    def request_cancel(self, task_id: str, owner_id: str) -> Task | None:
        """Cancel a queued task now; flag a running one for its worker. None if not the owner's."""

    def delete(self, task_id: str, owner_id: str) -> Task | None:
        """Delete a finished task's record; None if unknown, another owner's, or not finished."""

    def count_running(self, owner_id: str) -> int: ...

    def count_active(self, owner_id: str) -> int:
        """Queued and running tasks of one owner (the per-key quota)."""


class TaskQueue(Protocol):
    """The worker side: the tasks table as a queue with leases.

    A claim bumps the task's lease token; every later write by that worker is fenced on it, and
    a write that matches nothing tells the worker it lost the task. Lease deadlines are taken
    from the store's own clock (the database's, for SqlStore), never the worker's, so machines
    whose clocks disagree cannot expire each other's leases.
    """

    def claim(
        self,
        worker_id: str,
        lease_seconds: float,
        models: Sequence[str] | None = None,
        max_running_per_owner: int | None = None,
    ) -> Claim | None:
        """Take the oldest queued task (of `models`, if given), or None. With
        `max_running_per_owner`, skip owners who already have that many running (THROTTLED)."""

    def get(self, task_id: str, owner_id: str | None) -> Task | None: ...

    def heartbeat(self, claim: Claim, lease_seconds: float) -> LeaseState:
        """Extend the lease; say whether it is still held and whether a cancel was asked."""

    def heartbeat_many(
        self, claims: Sequence[Claim], lease_seconds: float
    ) -> dict[str, LeaseState]:
        """`heartbeat` for many claims of one worker in one statement, by task id (a worker
        holding hundreds of upstream jobs beats them all at once)."""

    def report_progress(self, claim: Claim, fraction: float) -> LeaseState:
        """Raise progress to `fraction` (never lower it, never to 1); like a heartbeat, say
        whether the lease is held and whether a cancel was asked."""

    def record_upstream(self, claim: Claim, ref: UpstreamRef) -> bool:
        """Durably note where the task was submitted (another service renders it); fenced."""

    def succeed(
        self, claim: Claim, outputs: Outputs, timings: dict[str, float] | None = None
    ) -> bool:
        """Publish the outputs and finish; the webhook event is written atomically with it."""

    def fail(
        self,
        claim: Claim,
        failure: str,
        code: FailureCode | str,
        timings: dict[str, float] | None = None,
    ) -> bool:
        """Finish as FAILED with `code`: one of ours, or an upstream's own (`SAFETY.INPUT.TEXT`)."""

    def cancelled(self, claim: Claim) -> bool: ...

    def release(self, claim: Claim) -> bool:
        """Give a running task back to the queue untouched (graceful stop); the attempt does not
        count."""

    def reap_expired(self, max_attempts: int) -> ReapResult:
        """Settle running tasks whose lease lapsed: cancel those whose cancel was asked, fail
        those out of attempts, requeue the rest."""

    def abandoned_upstream(self, models: Sequence[str], limit: int) -> list[AbandonedJob]:
        """Upstream jobs of `models` that may still run although their task ended: cancelled
        or failed while no worker held it (queued again after its worker died, or settled by
        the reaper), or failed on our side while the job ran. Each is recorded in the
        transaction that ends its task and stays until `settle_upstream`, even if the task is
        deleted meanwhile. Only those due (not postponed), the longest due first."""

    def postpone_upstream(self, task_id: str, seconds: float) -> None:
        """Leave an abandoned job out of `abandoned_upstream` for `seconds` (its cancel failed)."""

    def settle_upstream(self, task_id: str, ref: UpstreamRef | None) -> None:
        """Forget the task's abandoned job: cancelled upstream (`ref`, with its ended state, is
        then recorded on the task if the task still exists), or given up on (None)."""

    def outputs_to_expire(self, finished_before: float, limit: int) -> list[str]:
        """Ids of finished tasks past the retention period whose files still exist."""

    def mark_outputs_expired(self, task_id: str) -> None: ...

    def depth(self) -> QueueDepth:
        """Queued and running tasks per model, and each model's oldest queued task."""


class Tasks(TaskRecords, TaskQueue, Protocol):
    """Both sides of the tasks, as one store holds them."""


class EventState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    id: str
    task_id: str
    url: str
    destination: str  # the receiver, `scheme://host:port` (rules.destination)
    event_type: str
    state: EventState
    attempts: int
    next_attempt_at: float | None
    created_at: float


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    attempt: int
    started_at: float
    status_code: int | None
    latency_ms: float
    error: str | None


class Outbox(Protocol):
    """Webhook events, written with terminal transitions and drained by the notifier."""

    def claim_due(
        self, limit: int, lock_seconds: float, skip: Collection[str] = ()
    ) -> list[OutboxEvent]:
        """Lock up to `limit` due events for this notifier, oldest due first, none for the
        destinations in `skip`, and return them."""

    def release(self, event_ids: Collection[str]) -> None:
        """Unlock claimed events that were not attempted, so any notifier may claim them."""

    def record(
        self,
        event_id: str,
        attempt: AttemptRecord,
        state: EventState,
        retry_in_seconds: float | None,
    ) -> None:
        """Log an attempt and move the event on: delivered, failed for good, or due again
        `retry_in_seconds` from now (by the store's clock)."""

    def events_for_task(self, task_id: str, owner_id: str) -> list[OutboxEvent]:
        """The owner's task's events, oldest first; empty for another owner's task."""

    def attempts(self, event_id: str) -> list[AttemptRecord]: ...

    def redeliver(self, event_id: str, task_id: str, owner_id: str) -> bool:
        """Make the owner's event due now, whatever its state; False if it is not theirs."""

    def backlog(self) -> OutboxBacklog:
        """How many events are pending and when the oldest of them was written."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    key_hash: str
    created_at: float
    revoked_at: float | None
    max_active_tasks: int | None = None
    rate_per_minute: float | None = None
    admin: bool = False  # may manage keys and see workers and queues (the Operate routes)


class Keys(Protocol):
    def create(
        self,
        name: str,
        max_active_tasks: int | None = None,
        rate_per_minute: float | None = None,
        *,
        admin: bool = False,
    ) -> tuple[ApiKey, str]:
        """Store a new key; returns the record and the key itself, which is never stored."""

    def find_active(self, key_hash: str) -> ApiKey | None: ...

    def get(self, key_id: str) -> ApiKey | None:
        """The key's record, revoked or not; None when there is no such key."""

    def list(self) -> list[ApiKey]: ...

    def revoke(self, key_id: str) -> bool: ...

    def set_limits(
        self, key_id: str, max_active_tasks: int | None, rate_per_minute: float | None
    ) -> bool: ...

    def count_active(self) -> int: ...


class Reservation(StrEnum):
    NEW = "new"  # reserved for this request: create the task, then bind it
    REPLAY = "replay"  # the first request made `task_id`: answer with that task
    MISMATCH = "mismatch"  # same key, different body
    IN_FLIGHT = "in_flight"  # the first request is still creating its task


@dataclass(frozen=True, slots=True)
class ReserveResult:
    outcome: Reservation
    task_id: str | None = None


class Idempotency(Protocol):
    def reserve(self, owner_id: str, key: str, request_hash: str) -> ReserveResult: ...

    def release(self, owner_id: str, key: str) -> None:
        """Drop an unbound reservation (its request failed before making a task)."""

    def purge_expired(self) -> int: ...


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    id: str
    hostname: str
    pid: int
    models: tuple[str, ...]
    device: str
    started_at: float
    heartbeat_at: float
    current_task_id: str | None


class WorkerRegistry(Protocol):
    def beat(self, infos: list[WorkerInfo]) -> None:
        """Insert or refresh these workers' rows, stamped with the store's clock: `started_at`
        at a worker's first beat, `heartbeat_at` at each (the worker's own times are not used,
        so the two compare on one clock whatever the worker's machine says)."""

    def remove(self, ids: list[str]) -> None: ...

    def live(self, window_seconds: float) -> list[WorkerInfo]:
        """Workers whose last beat is within the window (by the store's clock)."""

    def prune(self, older_than_seconds: float) -> int: ...


class Listener(Protocol):
    """Wakes idle workers when a task is queued by another process (LISTEN/NOTIFY)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Store(Protocol):
    tasks: Tasks
    outbox: Outbox
    keys: Keys
    idempotency: Idempotency
    workers: WorkerRegistry

    @property
    def inline_reads(self) -> bool:
        """Whether an indexed read is cheap enough to run on the event loop."""

    def prepare(self) -> None:
        """Make the schema usable: SQLite is migrated in place; PostgreSQL must already be at
        the newest migration (`reelgate migrate`), else SchemaBehindError."""

    def listener(self, wake: Callable[[], None]) -> Listener | None:
        """A listener that calls `wake` when another process queues a task; None when the
        store has no such channel (then workers poll)."""

    def ping(self) -> None:
        """Raise when the store cannot be reached."""

    def close(self) -> None: ...
