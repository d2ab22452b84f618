"""The tasks table as a queue: insert, read (scoped to an owner), claim, lease, finish.

Claiming is one atomic statement: an `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING`, inside
`BEGIN IMMEDIATE` on SQLite and with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers can
never claim the same task. Each claim bumps `lease_token`; every later write by that worker is
fenced on it (`WHERE lease_token = :token AND status = 'running'`), and a write that matches no
row tells the worker it has lost the task.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from reelgate.core.tasks import (
    Action,
    Dialect,
    FailureCode,
    GenerationSpec,
    NewTask,
    Outputs,
    Task,
    TaskStatus,
)
from reelgate.store import db
from reelgate.store.idempotency import bind_statement
from reelgate.store.schema import tasks, webhook_events

Clock = Callable[[], float]

NOTIFY_CHANNEL = "reelgate_tasks"
_RUNNING = TaskStatus.RUNNING.value
_QUEUED = TaskStatus.QUEUED.value

# The statements on the API's hot paths (create, feed) are built once: constructing a
# SQLAlchemy statement costs more than SQLite takes to run it.
_GET = sa.select(tasks).where(tasks.c.id == sa.bindparam("id"))
_GET_OWNED = _GET.where(tasks.c.owner_id == sa.bindparam("owner"))
_INSERT = tasks.insert()
_COUNT_ACTIVE = sa.select(sa.func.count()).where(
    (tasks.c.owner_id == sa.bindparam("owner")) & tasks.c.status.in_([_QUEUED, _RUNNING])
)


class QuotaExceededError(Exception):
    """The owner already holds `limit` queued or running tasks."""

    def __init__(self, active: int, limit: int) -> None:
        super().__init__(f"{active} active tasks, limit {limit}")
        self.active = active
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Claim:
    """A worker's hold on a task: valid while `token` is the task's current lease token."""

    task: Task
    token: int
    worker_id: str


@dataclass(frozen=True, slots=True)
class ReapResult:
    requeued: int
    failed: list[str]  # ids of tasks that ran out of attempts
    cancelled: list[str]  # ids of tasks cancelled while their worker was gone

    @property
    def finished(self) -> list[str]:
        return self.failed + self.cancelled


@dataclass(frozen=True, slots=True)
class LeaseState:
    """What a heartbeat learns: whether the lease is still held, and whether to stop."""

    held: bool
    cancel_requested: bool


def new_event_id() -> str:
    return "msg_" + secrets.token_hex(16)


class TaskRepo:
    def __init__(self, engine: sa.Engine, clock: Clock = time.time) -> None:
        self._engine = engine
        self._clock = clock
        self._postgres = engine.dialect.name == "postgresql"

    # -- API side ------------------------------------------------------------------------------
    def create(
        self, new: NewTask, max_active: int | None = None, idempotency_key: str | None = None
    ) -> Task:
        """Insert a queued task. With `max_active`, first check the owner's queued + running
        count in the same transaction (SQLite serialises writers, so the cap holds exactly).
        With `idempotency_key`, bind the owner's reservation of that key to the task in the
        same transaction."""
        with self._engine.begin() as conn:
            if max_active is not None:
                active = conn.execute(_COUNT_ACTIVE, {"owner": new.owner_id}).scalar_one()
                if active >= max_active:
                    raise QuotaExceededError(int(active), max_active)
            conn.execute(
                _INSERT,
                {
                    "id": new.id,
                    "owner_id": new.owner_id,
                    "dialect": new.dialect.value,
                    "action": new.action.value,
                    "status": _QUEUED,
                    "model": new.spec.model,
                    "spec": new.spec.to_json(),
                    "progress": 0.0,
                    "created_at": new.created_at,
                    "callback_url": new.callback_url,
                    "runway_version": new.runway_version,
                    "remixed_from": new.remixed_from,
                },
            )
            if idempotency_key is not None:
                conn.execute(bind_statement(new.owner_id, idempotency_key, new.id))
            if self._postgres:
                # Delivered at commit: idle workers on any machine wake at once instead of
                # waiting for their next poll.
                conn.execute(
                    sa.text("SELECT pg_notify(:channel, :model)"),
                    {"channel": NOTIFY_CHANNEL, "model": new.spec.model},
                )
        return Task(
            id=new.id,
            owner_id=new.owner_id,
            dialect=new.dialect,
            action=new.action,
            status=TaskStatus.QUEUED,
            spec=new.spec,
            progress=0.0,
            created_at=new.created_at,
            started_at=None,
            finished_at=None,
            attempt=0,
            callback_url=new.callback_url,
            runway_version=new.runway_version,
            remixed_from=new.remixed_from,
        )

    def get(self, task_id: str, owner_id: str | None) -> Task | None:
        """The task, or None when it does not exist or belongs to another owner.

        `owner_id=None` is for internal callers (workers, notifier) only.
        """
        with db.read(self._engine) as conn:
            if owner_id is None:
                result = conn.execute(_GET, {"id": task_id})
            else:
                result = conn.execute(_GET_OWNED, {"id": task_id, "owner": owner_id})
            row = result.mappings().first()
        return _to_task(row) if row else None

    def request_cancel(self, task_id: str, owner_id: str) -> Task | None:
        """Cancel a queued task now; flag a running one for its worker (which stops at its
        next progress report and records the cancel itself, fenced by its lease)."""
        now = self._clock()
        mine = (tasks.c.id == task_id) & (tasks.c.owner_id == owner_id)
        with self._engine.begin() as conn:
            row = conn.execute(
                tasks.update()
                .where(mine & (tasks.c.status == _QUEUED))
                .values(
                    status=TaskStatus.CANCELLED.value,
                    finished_at=now,
                    failure="cancelled",
                    failure_code=FailureCode.CANCELLED.value,
                )
                .returning(tasks.c.id, tasks.c.callback_url)
            ).first()
            if row is not None:
                _enqueue_event(conn, row[0], row[1], TaskStatus.CANCELLED, now)
            else:
                conn.execute(
                    tasks.update()
                    .where(mine & (tasks.c.status == _RUNNING))
                    .values(cancel_requested=True)
                )
        return self.get(task_id, owner_id)

    def count_running(self, owner_id: str) -> int:
        query = sa.select(sa.func.count()).where(
            (tasks.c.owner_id == owner_id) & (tasks.c.status == _RUNNING)
        )
        with db.read(self._engine) as conn:
            return int(conn.execute(query).scalar_one())

    def list_for_owner(
        self, owner_id: str, *, after: str | None, limit: int, newest_first: bool
    ) -> list[Task]:
        """One page of the owner's tasks, ordered by creation; `after` is the last id seen."""
        query = sa.select(tasks).where(tasks.c.owner_id == owner_id)
        order = (tasks.c.created_at, tasks.c.id)
        with db.read(self._engine) as conn:
            if after is not None:
                cursor = conn.execute(
                    sa.select(tasks.c.created_at, tasks.c.id).where(
                        (tasks.c.id == after) & (tasks.c.owner_id == owner_id)
                    )
                ).first()
                if cursor is None:
                    return []
                key = sa.tuple_(*order)
                query = query.where(key < tuple(cursor) if newest_first else key > tuple(cursor))
            if newest_first:
                query = query.order_by(*(c.desc() for c in order))
            else:
                query = query.order_by(*order)
            rows = conn.execute(query.limit(limit)).mappings().all()
        return [_to_task(row) for row in rows]

    def delete(self, task_id: str, owner_id: str) -> Task | None:
        """Delete a finished task's record (the caller deletes its files); None if the task is
        unknown, another owner's, or still queued or running."""
        terminal = [s.value for s in TaskStatus if s.terminal]
        with self._engine.begin() as conn:
            row = (
                conn.execute(
                    tasks.delete()
                    .where(
                        (tasks.c.id == task_id)
                        & (tasks.c.owner_id == owner_id)
                        & tasks.c.status.in_(terminal)
                    )
                    .returning(*tasks.c)
                )
                .mappings()
                .first()
            )
        return _to_task(row) if row else None

    def count_active(self, owner_id: str) -> int:
        """Queued and running tasks of one owner (for the per-key quota)."""
        with db.read(self._engine) as conn:
            return int(conn.execute(_COUNT_ACTIVE, {"owner": owner_id}).scalar_one())

    # -- worker side ---------------------------------------------------------------------------
    def claim(
        self,
        worker_id: str,
        lease_seconds: float,
        models: Sequence[str] | None = None,
        max_running_per_owner: int | None = None,
    ) -> Claim | None:
        """Take the oldest queued task (of `models`, if given) for this worker, or None.

        With `max_running_per_owner`, tasks of an owner who already has that many running are
        skipped (they show as THROTTLED) so one key cannot take every worker.
        """
        now = self._clock()
        pick = (
            sa.select(tasks.c.id)
            .where(tasks.c.status == _QUEUED)
            .order_by(tasks.c.created_at)
            .limit(1)
        )
        if models is not None:
            pick = pick.where(tasks.c.model.in_(list(models)))
        if max_running_per_owner is not None:
            pick = pick.where(_running_of(tasks.c.owner_id) < max_running_per_owner)
        if self._postgres:
            pick = pick.with_for_update(skip_locked=True)
        stmt = (
            tasks.update()
            .where(tasks.c.id == pick.scalar_subquery())
            .where(tasks.c.status == _QUEUED)
            .values(
                status=_RUNNING,
                worker_id=worker_id,
                lease_token=tasks.c.lease_token + 1,
                lease_until=now + lease_seconds,
                attempt=tasks.c.attempt + 1,
                started_at=sa.func.coalesce(tasks.c.started_at, now),
            )
            .returning(*tasks.c)
        )
        with self._engine.begin() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            return None
        return Claim(task=_to_task(row), token=row["lease_token"], worker_id=worker_id)

    def heartbeat(self, claim: Claim, lease_seconds: float) -> LeaseState:
        """Extend the lease; report whether it is still ours and whether cancel was asked."""
        stmt = (
            _fenced(claim)
            .values(lease_until=self._clock() + lease_seconds)
            .returning(tasks.c.cancel_requested)
        )
        with self._engine.begin() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return LeaseState(held=False, cancel_requested=False)
        return LeaseState(held=True, cancel_requested=bool(row[0]))

    def report_progress(self, claim: Claim, fraction: float) -> LeaseState:
        """Raise the task's progress to `fraction` (never lowers it); like a heartbeat, say
        whether the lease is still held and whether a cancel was asked for."""
        fraction = min(max(fraction, 0.0), 0.99)
        stmt = (
            _fenced(claim)
            .values(
                progress=sa.case((tasks.c.progress < fraction, fraction), else_=tasks.c.progress)
            )
            .returning(tasks.c.cancel_requested)
        )
        with self._engine.begin() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return LeaseState(held=False, cancel_requested=False)
        return LeaseState(held=True, cancel_requested=bool(row[0]))

    def succeed(self, claim: Claim, outputs: Outputs) -> bool:
        """Publish the outputs and finish; the webhook event is written in the same transaction."""
        return self._finish(
            claim,
            TaskStatus.SUCCEEDED,
            progress=1.0,
            video_key=outputs.video_key,
            poster_key=outputs.poster_key,
        )

    def fail(self, claim: Claim, failure: str, code: FailureCode) -> bool:
        return self._finish(claim, TaskStatus.FAILED, failure=failure, failure_code=code.value)

    def cancelled(self, claim: Claim) -> bool:
        return self._finish(
            claim,
            TaskStatus.CANCELLED,
            failure="cancelled",
            failure_code=FailureCode.CANCELLED.value,
        )

    def release(self, claim: Claim) -> bool:
        """Give a running task back to the queue untouched (graceful stop): the attempt is not
        counted against the task."""
        stmt = _fenced(claim).values(
            status=_QUEUED,
            worker_id=None,
            lease_until=None,
            attempt=tasks.c.attempt - 1,
        )
        with self._engine.begin() as conn:
            return conn.execute(stmt).rowcount == 1

    def _finish(self, claim: Claim, status: TaskStatus, **values: Any) -> bool:
        now = self._clock()
        stmt = (
            _fenced(claim)
            .values(status=status.value, finished_at=now, lease_until=None, **values)
            .returning(tasks.c.id, tasks.c.callback_url)
        )
        with self._engine.begin() as conn:
            row = conn.execute(stmt).first()
            if row is None:
                return False
            _enqueue_event(conn, row[0], row[1], status, now)
        return True

    # -- housekeeping --------------------------------------------------------------------------
    def outputs_to_expire(self, finished_before: float, limit: int) -> list[str]:
        """Ids of finished tasks older than the retention period whose files still exist."""
        query = (
            sa.select(tasks.c.id)
            .where(
                tasks.c.status.in_([s.value for s in TaskStatus if s.terminal])
                & (tasks.c.finished_at < finished_before)
                & tasks.c.outputs_expired_at.is_(None)
            )
            .order_by(tasks.c.finished_at)
            .limit(limit)
        )
        with db.read(self._engine) as conn:
            return [row[0] for row in conn.execute(query)]

    def mark_outputs_expired(self, task_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                tasks.update().where(tasks.c.id == task_id).values(outputs_expired_at=self._clock())
            )

    def reap_expired(self, max_attempts: int) -> ReapResult:
        """Settle running tasks whose lease expired (their worker died or stalled).

        A task whose cancel was asked for is cancelled; one that has used `max_attempts`
        claims fails; the rest go back to the queue. A requeued task keeps its attempt count:
        the next claim adds one, so `attempt` counts claims made.
        """
        now = self._clock()
        expired = (tasks.c.status == _RUNNING) & (tasks.c.lease_until < now)
        finished = tasks.c.id.label("id"), tasks.c.callback_url.label("callback_url")
        with self._engine.begin() as conn:
            cancelled = conn.execute(
                tasks.update()
                .where(expired & tasks.c.cancel_requested)
                .values(
                    status=TaskStatus.CANCELLED.value,
                    finished_at=now,
                    lease_until=None,
                    failure="cancelled",
                    failure_code=FailureCode.CANCELLED.value,
                )
                .returning(*finished)
            ).all()
            dead = conn.execute(
                tasks.update()
                .where(expired & (tasks.c.attempt >= max_attempts))
                .values(
                    status=TaskStatus.FAILED.value,
                    finished_at=now,
                    lease_until=None,
                    failure=f"the worker stopped responding on each of {max_attempts} attempts",
                    failure_code=FailureCode.INTERNAL.value,
                )
                .returning(*finished)
            ).all()
            for status, rows in ((TaskStatus.CANCELLED, cancelled), (TaskStatus.FAILED, dead)):
                for task_id, callback_url in rows:
                    _enqueue_event(conn, task_id, callback_url, status, now)
            requeued = conn.execute(
                tasks.update()
                .where(expired)
                .values(status=_QUEUED, worker_id=None, lease_until=None)
            ).rowcount
        return ReapResult(
            requeued=requeued,
            failed=[row[0] for row in dead],
            cancelled=[row[0] for row in cancelled],
        )


def _running_of(owner: sa.ColumnElement[str]) -> sa.ScalarSelect[int]:
    other = tasks.alias("running")
    return (
        sa.select(sa.func.count())
        .where((other.c.owner_id == owner) & (other.c.status == _RUNNING))
        .scalar_subquery()
    )


def _fenced(claim: Claim) -> sa.Update:
    return tasks.update().where(
        (tasks.c.id == claim.task.id)
        & (tasks.c.lease_token == claim.token)
        & (tasks.c.status == _RUNNING)
    )


def _enqueue_event(
    conn: sa.Connection, task_id: str, callback_url: str | None, status: TaskStatus, now: float
) -> None:
    if not callback_url:
        return
    conn.execute(
        webhook_events.insert().values(
            id=new_event_id(),
            task_id=task_id,
            url=callback_url,
            event_type=f"task.{status.value}",
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def _to_task(row: sa.RowMapping) -> Task:
    outputs = None
    expired = row["outputs_expired_at"] is not None
    if row["video_key"] and row["poster_key"] and not expired:
        outputs = Outputs(video_key=row["video_key"], poster_key=row["poster_key"])
    return Task(
        id=row["id"],
        owner_id=row["owner_id"],
        dialect=Dialect(row["dialect"]),
        action=Action(row["action"]),
        status=TaskStatus(row["status"]),
        spec=GenerationSpec.from_json(row["spec"]),
        progress=row["progress"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        attempt=row["attempt"],
        callback_url=row["callback_url"],
        runway_version=row["runway_version"],
        failure=row["failure"],
        failure_code=row["failure_code"],
        outputs=outputs,
        cancel_requested=bool(row["cancel_requested"]),
        outputs_expired=expired,
        remixed_from=row["remixed_from"],
    )
