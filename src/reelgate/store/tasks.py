"""The tasks table as a queue: insert, read (scoped to an owner), claim, lease, finish.

Claiming is one atomic statement: an `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING`, inside
`BEGIN IMMEDIATE` on SQLite and with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so two workers can
never claim the same task. Each claim bumps `lease_token`; every later write by that worker is
fenced on it (`WHERE lease_token = :token AND status = 'running'`), and a write that matches no
row tells the worker it has lost the task.

Lease deadlines are computed in SQL from the database's clock (store.clock): a worker and the
reaper run on different machines, and if each used its own clock, a reaper whose clock runs
ahead would requeue tasks that are still being worked on.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa

from reelgate.core.tasks import (
    Action,
    FailureCode,
    GenerationSpec,
    MediaInfo,
    NewTask,
    Outputs,
    Task,
    TaskStatus,
    UpstreamRef,
)
from reelgate.store import counters, db
from reelgate.store.base import AbandonedJob, Claim, LeaseState, QueueDepth, ReapResult
from reelgate.store.clock import Clock, read_shared_now, shared_now
from reelgate.store.idempotency import bind_statement
from reelgate.store.notify import NOTIFY_CHANNEL
from reelgate.store.rules import (
    MAX_RUNNING_PROGRESS,
    TERMINAL,
    abandoned_failure,
    destination,
    event_type,
    new_event_id,
)
from reelgate.store.schema import tasks, upstream_abandoned, webhook_events

_RUNNING = TaskStatus.RUNNING.value
_QUEUED = TaskStatus.QUEUED.value
_TERMINAL = [status.value for status in TERMINAL]
# What a statement that ends a task also returns for `_left_upstream`: the task's model and the
# upstream job it was waiting on.
_JOB = (tasks.c.model, tasks.c.upstream_ref)
# A capped claim that loses the owner's last running slot to a concurrent claim (PostgreSQL)
# rolls back and looks again; after this many tries it reports nothing to claim this time.
CLAIM_TRIES = 3
# Ids per `IN (...)` list: well under SQLite's and PostgreSQL's parameter limits.
GET_MANY_CHUNK = 500

# The statements on the API's hot paths (create, feed) are built once: constructing a
# SQLAlchemy statement costs more than SQLite takes to run it.
_GET = sa.select(tasks).where(tasks.c.id == sa.bindparam("id"))
_GET_OWNED = _GET.where(tasks.c.owner_id == sa.bindparam("owner"))
_INSERT = tasks.insert()
_NOTIFY = sa.text("SELECT pg_notify(:channel, :model)")


class _LostRace(Exception):
    """The claimed task's owner reached the running cap in a concurrent claim."""


class TaskRepo:
    """Both sides of the tasks on SQLite or PostgreSQL.

    `clock` stamps the times people read (started, finished); `lease_clock` is for tests that
    drive leases deterministically: None (always, in production) means the database's clock.
    """

    def __init__(
        self, engine: sa.Engine, clock: Clock = time.time, lease_clock: Clock | None = None
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._lease_clock = lease_clock
        self._postgres = engine.dialect.name == "postgresql"

    def _now(self) -> sa.ColumnElement[float]:
        return shared_now(self._engine.dialect, self._lease_clock)

    # -- API side ------------------------------------------------------------------------------
    def create(
        self, new: NewTask, max_active: int | None = None, idempotency_key: str | None = None
    ) -> Task:
        """Insert a queued task. With `max_active`, the owner's counter is raised only while
        below it (QuotaExceededError otherwise), in the insert's transaction. With
        `idempotency_key`, bind the owner's reservation of that key to the task, likewise."""
        with db.write(self._engine) as conn:
            counters.add_active(conn, new.owner_id, max_active)
            conn.execute(
                _INSERT,
                {
                    "id": new.id,
                    "owner_id": new.owner_id,
                    "dialect": new.dialect,
                    "action": new.action.value,
                    "status": _QUEUED,
                    "model": new.spec.model,
                    "spec": new.spec.to_json(),
                    "progress": 0.0,
                    "created_at": new.created_at,
                    "callback_url": new.callback_url,
                    "runway_version": new.api_version,
                    "remixed_from": new.remixed_from,
                    "request_id": new.request_id,
                    "trace_context": new.trace_context,
                },
            )
            if idempotency_key is not None:
                conn.execute(bind_statement(new.owner_id, idempotency_key, new.id))
            if self._postgres:
                # Delivered at commit: idle workers on any machine wake at once instead of
                # waiting for their next poll.
                conn.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL, "model": new.spec.model})
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
            api_version=new.api_version,
            remixed_from=new.remixed_from,
            request_id=new.request_id,
            trace_context=dict(new.trace_context) if new.trace_context is not None else None,
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
        with db.write(self._engine) as conn:
            row = conn.execute(
                tasks.update()
                .where(mine & (tasks.c.status == _QUEUED))
                .values(
                    status=TaskStatus.CANCELLED.value,
                    finished_at=now,
                    failure="cancelled",
                    failure_code=FailureCode.CANCELLED.value,
                )
                .returning(tasks.c.id, tasks.c.callback_url, *_JOB)
            ).first()
            if row is not None:
                counters.adjust(conn, [(owner_id, -1, 0)])
                self._enqueue_event(conn, row[0], row[1], TaskStatus.CANCELLED, now)
                # Queued again after its worker died, it may still have a job upstream.
                self._left_upstream(conn, [(row[0], *row[2:])], now)
            else:
                conn.execute(
                    tasks.update()
                    .where(mine & (tasks.c.status == _RUNNING))
                    .values(cancel_requested=True)
                )
        return self.get(task_id, owner_id)

    def count_running(self, owner_id: str) -> int:
        with db.read(self._engine) as conn:
            return counters.read(conn, owner_id)[1]

    def count_active(self, owner_id: str) -> int:
        """Queued and running tasks of one owner (for the per-key quota)."""
        with db.read(self._engine) as conn:
            return counters.read(conn, owner_id)[0]

    def get_many(self, task_ids: Collection[str]) -> list[Task]:
        """The existing tasks among `task_ids`, read in chunks of `GET_MANY_CHUNK` ids."""
        ids = list(task_ids)
        found: list[Task] = []
        with db.read(self._engine) as conn:
            for start in range(0, len(ids), GET_MANY_CHUNK):
                chunk = ids[start : start + GET_MANY_CHUNK]
                rows = conn.execute(sa.select(tasks).where(tasks.c.id.in_(chunk))).mappings()
                found.extend(_to_task(row) for row in rows)
        return found

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
        """One page of the owner's tasks, ordered by creation; `after` is the last id seen."""
        query = sa.select(tasks).where(tasks.c.owner_id == owner_id)
        if status is not None:
            query = query.where(tasks.c.status == status)
        if model is not None:
            query = query.where(tasks.c.model == model)
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
        unknown, another owner's, or still queued or running (so no counter changes)."""
        with db.write(self._engine) as conn:
            row = (
                conn.execute(
                    tasks.delete()
                    .where(
                        (tasks.c.id == task_id)
                        & (tasks.c.owner_id == owner_id)
                        & tasks.c.status.in_(_TERMINAL)
                    )
                    .returning(*tasks.c)
                )
                .mappings()
                .first()
            )
        return _to_task(row) if row else None

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
        skipped (they show as THROTTLED) so one key cannot take every worker; a claim that
        loses that owner's last slot to a concurrent claim looks again (CLAIM_TRIES).
        """
        if models is not None and not models:
            return None
        stmt = self._claim_statement(worker_id, lease_seconds, models, max_running_per_owner)
        for _ in range(CLAIM_TRIES):
            try:
                with db.write(self._engine) as conn:
                    row = conn.execute(stmt).mappings().first()
                    if row is None:
                        return None
                    owner_id = row["owner_id"]
                    if max_running_per_owner is None:
                        counters.adjust(conn, [(owner_id, 0, 1)])
                    elif not counters.take_running(conn, owner_id, max_running_per_owner):
                        raise _LostRace
            except _LostRace:
                continue
            return Claim(task=_to_task(row), token=row["lease_token"], worker_id=worker_id)
        return None

    def _claim_statement(
        self,
        worker_id: str,
        lease_seconds: float,
        models: Sequence[str] | None,
        max_running_per_owner: int | None,
    ) -> sa.Update:
        pick = _pick(models, max_running_per_owner, self._postgres)
        return (
            tasks.update()
            .where(tasks.c.id == pick.scalar_subquery())
            .where(tasks.c.status == _QUEUED)
            .values(
                status=_RUNNING,
                worker_id=worker_id,
                lease_token=tasks.c.lease_token + 1,
                lease_until=self._now() + lease_seconds,
                attempt=tasks.c.attempt + 1,
                started_at=sa.func.coalesce(tasks.c.started_at, self._clock()),
            )
            .returning(*tasks.c)
        )

    def heartbeat(self, claim: Claim, lease_seconds: float) -> LeaseState:
        """Extend the lease; report whether it is still ours and whether cancel was asked."""
        stmt = (
            _fenced(claim)
            .values(lease_until=self._now() + lease_seconds)
            .returning(tasks.c.cancel_requested)
        )
        return self._lease_state(stmt)

    def heartbeat_many(
        self, claims: Sequence[Claim], lease_seconds: float
    ) -> dict[str, LeaseState]:
        states = {c.task.id: LeaseState(held=False, cancel_requested=False) for c in claims}
        if not claims:
            return states
        held = sa.tuple_(tasks.c.id, tasks.c.lease_token).in_(
            [(c.task.id, c.token) for c in claims]
        )
        stmt = (
            tasks.update()
            .where(held & (tasks.c.status == _RUNNING))
            .values(lease_until=self._now() + lease_seconds)
            .returning(tasks.c.id, tasks.c.cancel_requested)
        )
        with db.write(self._engine) as conn:
            for task_id, cancel in conn.execute(stmt):
                states[task_id] = LeaseState(held=True, cancel_requested=bool(cancel))
        return states

    def report_progress(self, claim: Claim, fraction: float) -> LeaseState:
        """Raise the task's progress to `fraction` (never lowers it); like a heartbeat, say
        whether the lease is still held and whether a cancel was asked for."""
        fraction = min(max(fraction, 0.0), MAX_RUNNING_PROGRESS)
        stmt = (
            _fenced(claim)
            .values(
                progress=sa.case((tasks.c.progress < fraction, fraction), else_=tasks.c.progress)
            )
            .returning(tasks.c.cancel_requested)
        )
        return self._lease_state(stmt)

    def _lease_state(self, stmt: sa.UpdateBase) -> LeaseState:
        with db.write(self._engine) as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return LeaseState(held=False, cancel_requested=False)
        return LeaseState(held=True, cancel_requested=bool(row[0]))

    def record_upstream(self, claim: Claim, ref: UpstreamRef) -> bool:
        """Durably note where the task was submitted, before waiting on it; fenced."""
        with db.write(self._engine) as conn:
            return conn.execute(_fenced(claim).values(upstream_ref=ref.to_json())).rowcount == 1

    def succeed(
        self, claim: Claim, outputs: Outputs, timings: dict[str, float] | None = None
    ) -> bool:
        """Publish the outputs and finish; the webhook event is written in the same transaction."""
        return self._finish(
            claim,
            TaskStatus.SUCCEEDED,
            progress=1.0,
            video_key=outputs.video_key,
            poster_key=outputs.poster_key,
            output_meta=outputs.media.to_json() if outputs.media else None,
            timings=timings,
        )

    def fail(
        self,
        claim: Claim,
        failure: str,
        code: FailureCode | str,
        timings: dict[str, float] | None = None,
    ) -> bool:
        return self._finish(
            claim, TaskStatus.FAILED, failure=failure, failure_code=str(code), timings=timings
        )

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
        with db.write(self._engine) as conn:
            if conn.execute(stmt).rowcount != 1:
                return False
            counters.adjust(conn, [(claim.task.owner_id, 0, -1)])
        return True

    def _finish(self, claim: Claim, status: TaskStatus, **values: Any) -> bool:
        now = self._clock()
        stmt = (
            _fenced(claim)
            .values(status=status.value, finished_at=now, lease_until=None, **values)
            .returning(tasks.c.id, tasks.c.callback_url, *_JOB)
        )
        with db.write(self._engine) as conn:
            row = conn.execute(stmt).first()
            if row is None:
                return False
            counters.adjust(conn, [(claim.task.owner_id, -1, -1)])
            self._enqueue_event(conn, row[0], row[1], status, now)
            if status is not TaskStatus.SUCCEEDED:
                self._left_upstream(conn, [(row[0], *row[2:])], now)
        return True

    def _enqueue_event(
        self,
        conn: sa.Connection,
        task_id: str,
        callback_url: str | None,
        status: TaskStatus,
        now: float,
    ) -> None:
        if not callback_url:
            return
        conn.execute(
            webhook_events.insert().values(
                id=new_event_id(),
                task_id=task_id,
                url=callback_url,
                destination=destination(callback_url),
                event_type=event_type(status),
                state="pending",
                attempts=0,
                next_attempt_at=self._now(),  # notifiers compare it with the shared clock
                created_at=now,
            )
        )

    # -- upstream jobs left behind -------------------------------------------------------------
    def abandoned_upstream(self, models: Sequence[str], limit: int) -> list[AbandonedJob]:
        """Jobs of `models` whose task ended without them, that are due, longest due first."""
        if not models:
            return []
        query = (
            sa.select(upstream_abandoned)
            .where(
                upstream_abandoned.c.model.in_(list(models))
                & (upstream_abandoned.c.retry_at <= self._clock())
            )
            .order_by(upstream_abandoned.c.retry_at)
            .limit(limit)
        )
        with db.read(self._engine) as conn:
            return [
                AbandonedJob(
                    task_id=row.task_id,
                    model=row.model,
                    ref=UpstreamRef.from_json(row.ref),
                    abandoned_at=row.abandoned_at,
                )
                for row in conn.execute(query)
            ]

    def postpone_upstream(self, task_id: str, seconds: float) -> None:
        with db.write(self._engine) as conn:
            conn.execute(
                upstream_abandoned.update()
                .where(upstream_abandoned.c.task_id == task_id)
                .values(retry_at=self._clock() + seconds)
            )

    def settle_upstream(self, task_id: str, ref: UpstreamRef | None) -> None:
        """Forget the abandoned job; record its ended state on the task, if it still exists."""
        with db.write(self._engine) as conn:
            conn.execute(upstream_abandoned.delete().where(upstream_abandoned.c.task_id == task_id))
            if ref is not None:
                conn.execute(
                    tasks.update()
                    .where((tasks.c.id == task_id) & tasks.c.status.in_(_TERMINAL))
                    .values(upstream_ref=ref.to_json())
                )

    def _left_upstream(
        self, conn: sa.Connection, ended: Sequence[tuple[Any, ...]], now: float
    ) -> None:
        """Record the live upstream jobs of tasks that just ended cancelled or failed, from
        (id, model, upstream_ref) of each, as the ending statement returned them."""
        left = [
            {"task_id": task_id, "model": model, "ref": ref, "abandoned_at": now, "retry_at": now}
            for task_id, model, ref in ended
            if ref is not None and UpstreamRef.from_json(ref).live
        ]
        if left:
            conn.execute(upstream_abandoned.insert(), left)

    # -- housekeeping --------------------------------------------------------------------------
    def outputs_to_expire(self, finished_before: float, limit: int) -> list[str]:
        """Ids of finished tasks older than the retention period whose files still exist."""
        query = (
            sa.select(tasks.c.id)
            .where(
                tasks.c.status.in_(_TERMINAL)
                & (tasks.c.finished_at < finished_before)
                & tasks.c.outputs_expired_at.is_(None)
            )
            .order_by(tasks.c.finished_at)
            .limit(limit)
        )
        with db.read(self._engine) as conn:
            return [row[0] for row in conn.execute(query)]

    def mark_outputs_expired(self, task_id: str) -> None:
        with db.write(self._engine) as conn:
            conn.execute(
                tasks.update().where(tasks.c.id == task_id).values(outputs_expired_at=self._clock())
            )

    def depth(self) -> QueueDepth:
        """One grouped read off the (status, model, created_at) index: cheap at any backlog,
        so every scrape of every replica can afford it."""
        query = (
            sa.select(
                tasks.c.model, tasks.c.status, sa.func.count(), sa.func.min(tasks.c.created_at)
            )
            .where(tasks.c.status.in_([_QUEUED, _RUNNING]))
            .group_by(tasks.c.model, tasks.c.status)
        )
        counts: dict[tuple[str, str], int] = {}
        oldest: dict[str, float] = {}
        with db.read(self._engine) as conn:
            for model, status, count, first in conn.execute(query):
                counts[(model, status)] = int(count)
                if status == _QUEUED:
                    oldest[model] = float(first)
        return QueueDepth(counts=counts, oldest_queued_at=oldest)

    def reap_expired(self, max_attempts: int) -> ReapResult:
        """Settle running tasks whose lease expired (their worker died or stalled).

        A task whose cancel was asked for is cancelled; one that has used `max_attempts`
        claims fails; the rest go back to the queue. A requeued task keeps its attempt count:
        the next claim adds one, so `attempt` counts claims made. "Now" is read once, so the
        three statements agree on which leases lapsed.
        """
        finished_at = self._clock()
        finished = tasks.c.id, tasks.c.callback_url, tasks.c.owner_id, *_JOB
        with db.write(self._engine) as conn:
            expired = (tasks.c.status == _RUNNING) & (
                tasks.c.lease_until < read_shared_now(conn, self._lease_clock)
            )
            cancelled = conn.execute(
                tasks.update()
                .where(expired & tasks.c.cancel_requested)
                .values(
                    status=TaskStatus.CANCELLED.value,
                    finished_at=finished_at,
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
                    finished_at=finished_at,
                    lease_until=None,
                    failure=abandoned_failure(max_attempts),
                    failure_code=FailureCode.INTERNAL.value,
                )
                .returning(*finished)
            ).all()
            requeued = conn.execute(
                tasks.update()
                .where(expired)
                .values(status=_QUEUED, worker_id=None, lease_until=None)
                .returning(tasks.c.owner_id)
            ).all()
            counters.adjust(
                conn,
                [(row[2], -1, -1) for row in (*cancelled, *dead)]
                + [(row[0], 0, -1) for row in requeued],
            )
            for status, rows in ((TaskStatus.CANCELLED, cancelled), (TaskStatus.FAILED, dead)):
                for task_id, callback_url, *_ in rows:
                    self._enqueue_event(conn, task_id, callback_url, status, finished_at)
            self._left_upstream(
                conn, [(row[0], *row[3:]) for row in (*cancelled, *dead)], finished_at
            )
        return ReapResult(
            requeued=len(requeued),
            failed=[row[0] for row in dead],
            cancelled=[row[0] for row in cancelled],
        )


def _pick(
    models: Sequence[str] | None, max_running_per_owner: int | None, postgres: bool
) -> sa.Select[tuple[str]]:
    """The id of the task a claim takes: the oldest queued one of `models`, skipping owners at
    their running cap.

    Each model's oldest task comes straight off the (status, model, created_at) index and the
    oldest of those wins, so a worker never reads another model's backlog (a plain `model IN`
    lets the planner walk the whole queue in creation order instead).
    """

    def oldest(*where: sa.ColumnElement[bool]) -> sa.Select[tuple[str, float]]:
        query = (
            sa.select(tasks.c.id, tasks.c.created_at)
            .where(tasks.c.status == _QUEUED, *where)
            .order_by(tasks.c.created_at)
            .limit(1)
        )
        if max_running_per_owner is not None:
            query = query.where(counters.running_of(tasks.c.owner_id) < max_running_per_owner)
        return query.with_for_update(skip_locked=True) if postgres else query

    if models is None:
        return oldest().with_only_columns(tasks.c.id)
    heads = [oldest(tasks.c.model == model) for model in dict.fromkeys(models)]
    if len(heads) == 1:
        return heads[0].with_only_columns(tasks.c.id)
    union = sa.union_all(*(sa.select(head.subquery()) for head in heads)).subquery()
    return sa.select(union.c.id).order_by(union.c.created_at).limit(1)


def _fenced(claim: Claim) -> sa.Update:
    return tasks.update().where(
        (tasks.c.id == claim.task.id)
        & (tasks.c.lease_token == claim.token)
        & (tasks.c.status == _RUNNING)
    )


def _to_task(row: sa.RowMapping) -> Task:
    outputs = None
    expired = row["outputs_expired_at"] is not None
    if row["video_key"] and row["poster_key"] and not expired:
        media = MediaInfo.from_json(row["output_meta"]) if row["output_meta"] else None
        outputs = Outputs(video_key=row["video_key"], poster_key=row["poster_key"], media=media)
    upstream = row["upstream_ref"]
    return Task(
        id=row["id"],
        owner_id=row["owner_id"],
        dialect=row["dialect"],
        action=Action(row["action"]),
        status=TaskStatus(row["status"]),
        spec=GenerationSpec.from_json(row["spec"]),
        progress=row["progress"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        attempt=row["attempt"],
        callback_url=row["callback_url"],
        api_version=row["runway_version"],
        failure=row["failure"],
        failure_code=row["failure_code"],
        outputs=outputs,
        cancel_requested=bool(row["cancel_requested"]),
        outputs_expired=expired,
        remixed_from=row["remixed_from"],
        request_id=row["request_id"],
        trace_context=row["trace_context"],
        timings=row["timings"],
        upstream=UpstreamRef.from_json(upstream) if upstream else None,
    )
