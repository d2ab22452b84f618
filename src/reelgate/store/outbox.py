"""The webhook outbox: events written with terminal transitions, drained by the notifier.

A notifier locks a due event for `lock_seconds` before sending it, so several notifier processes
can share one outbox; a notifier that dies mid-send only delays the event until its lock lapses.
Locks and retry times are read from the database's clock (store.clock), since notifiers on
different machines compare them. Every attempt is appended to `webhook_attempts`.
"""

from __future__ import annotations

import time
from collections.abc import Collection

import sqlalchemy as sa

from reelgate.store import db
from reelgate.store.base import AttemptRecord, EventState, OutboxBacklog, OutboxEvent
from reelgate.store.clock import Clock, shared_now
from reelgate.store.schema import tasks, webhook_attempts, webhook_events


class OutboxRepo:
    """`clock` stamps when an event finished; `lease_clock` replaces the database's clock for
    locks and retries in tests (None: the database's)."""

    def __init__(
        self, engine: sa.Engine, clock: Clock = time.time, lease_clock: Clock | None = None
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._lease_clock = lease_clock

    def _now(self) -> sa.ColumnElement[float]:
        return shared_now(self._engine.dialect, self._lease_clock)

    def claim_due(
        self, limit: int, lock_seconds: float, skip: Collection[str] = ()
    ) -> list[OutboxEvent]:
        """Lock up to `limit` due events for this notifier, none for the destinations in
        `skip`, and return them."""
        now = self._now()
        condition = (
            (webhook_events.c.state == EventState.PENDING.value)
            & (webhook_events.c.next_attempt_at <= now)
            & (webhook_events.c.locked_until.is_(None) | (webhook_events.c.locked_until < now))
        )
        if skip:
            condition &= webhook_events.c.destination.not_in(sorted(skip))
        due = (
            sa.select(webhook_events.c.id)
            .where(condition)
            .order_by(webhook_events.c.next_attempt_at)
            .limit(limit)
        )
        if self._engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        stmt = (
            webhook_events.update()
            .where(webhook_events.c.id.in_(due.scalar_subquery()))
            .values(locked_until=now + lock_seconds)
            .returning(*webhook_events.c)
        )
        with db.write(self._engine) as conn:
            rows = conn.execute(stmt).mappings().all()
        return sorted((_to_event(row) for row in rows), key=lambda e: e.next_attempt_at or 0.0)

    def backlog(self) -> OutboxBacklog:
        query = sa.select(sa.func.count(), sa.func.min(webhook_events.c.created_at)).where(
            webhook_events.c.state == EventState.PENDING.value
        )
        with db.read(self._engine) as conn:
            pending, oldest = conn.execute(query).one()
        return OutboxBacklog(
            pending=int(pending), oldest_created_at=None if oldest is None else float(oldest)
        )

    def release(self, event_ids: Collection[str]) -> None:
        if not event_ids:
            return
        with db.write(self._engine) as conn:
            conn.execute(
                webhook_events.update()
                .where(
                    webhook_events.c.id.in_(sorted(event_ids))
                    & (webhook_events.c.state == EventState.PENDING.value)
                )
                .values(locked_until=None)
            )

    def record(
        self,
        event_id: str,
        attempt: AttemptRecord,
        state: EventState,
        retry_in_seconds: float | None,
    ) -> None:
        """Log an attempt and move the event on: delivered, failed for good, or due again
        `retry_in_seconds` from now by the database's clock."""
        next_at = None if retry_in_seconds is None else self._now() + retry_in_seconds
        with db.write(self._engine) as conn:
            conn.execute(
                webhook_attempts.insert().values(
                    event_id=event_id,
                    attempt=attempt.attempt,
                    started_at=attempt.started_at,
                    status_code=attempt.status_code,
                    latency_ms=attempt.latency_ms,
                    error=attempt.error,
                )
            )
            conn.execute(
                webhook_events.update()
                .where(webhook_events.c.id == event_id)
                .values(
                    attempts=attempt.attempt,
                    state=state.value,
                    next_attempt_at=next_at,
                    locked_until=None,
                    last_status=attempt.status_code,
                    finished_at=None if state is EventState.PENDING else self._clock(),
                )
            )

    def redeliver(self, event_id: str, task_id: str, owner_id: str) -> bool:
        """Make the owner's event due now, whatever its state; attempt numbers carry on."""
        with db.write(self._engine) as conn:
            result = conn.execute(
                webhook_events.update()
                .where((webhook_events.c.id == event_id) & _owned(task_id, owner_id))
                .values(
                    state=EventState.PENDING.value,
                    next_attempt_at=self._now(),
                    locked_until=None,
                    finished_at=None,
                )
            )
        return result.rowcount == 1

    def events_for_task(self, task_id: str, owner_id: str) -> list[OutboxEvent]:
        """The owner's task's events, oldest first; empty for another owner's task."""
        query = (
            sa.select(webhook_events)
            .where(_owned(task_id, owner_id))
            .order_by(webhook_events.c.created_at)
        )
        with db.read(self._engine) as conn:
            return [_to_event(row) for row in conn.execute(query).mappings()]

    def attempts(self, event_id: str) -> list[AttemptRecord]:
        query = (
            sa.select(webhook_attempts)
            .where(webhook_attempts.c.event_id == event_id)
            .order_by(webhook_attempts.c.attempt)
        )
        with db.read(self._engine) as conn:
            return [
                AttemptRecord(
                    attempt=row["attempt"],
                    started_at=row["started_at"],
                    status_code=row["status_code"],
                    latency_ms=row["latency_ms"],
                    error=row["error"],
                )
                for row in conn.execute(query).mappings()
            ]


def _owned(task_id: str, owner_id: str) -> sa.ColumnElement[bool]:
    """Events of `task_id`, provided the task is `owner_id`'s."""
    owned = sa.select(tasks.c.id).where((tasks.c.id == task_id) & (tasks.c.owner_id == owner_id))
    return (webhook_events.c.task_id == task_id) & webhook_events.c.task_id.in_(owned)


def _to_event(row: sa.RowMapping) -> OutboxEvent:
    return OutboxEvent(
        id=row["id"],
        task_id=row["task_id"],
        url=row["url"],
        destination=row["destination"],
        event_type=row["event_type"],
        state=EventState(row["state"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
    )
