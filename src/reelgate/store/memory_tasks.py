"""The tasks of `MemoryStore`, both sides: the rules of store.tasks without SQL."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reelgate.core.tasks import FailureCode, NewTask, Outputs, Task, TaskStatus, UpstreamRef
from reelgate.errors import QuotaExceededError
from reelgate.store.base import AbandonedJob, Claim, LeaseState, QueueDepth, ReapResult
from reelgate.store.rules import ACTIVE, MAX_RUNNING_PROGRESS, abandoned_failure

if TYPE_CHECKING:
    from reelgate.store.memory import MemoryState


@dataclass(slots=True)
class TaskRow:
    task: Task
    seq: int  # insertion order: the claim's tie-break between equal creation times
    token: int = 0
    lease_until: float | None = None


def _copy(task: Task) -> Task:
    """A task whose dicts the caller may change without changing the store."""
    return dataclasses.replace(
        task,
        trace_context=dict(task.trace_context) if task.trace_context is not None else None,
        timings=dict(task.timings) if task.timings is not None else None,
    )


class MemoryTasks:
    def __init__(self, state: MemoryState) -> None:
        self._s = state

    # -- API side ------------------------------------------------------------------------------
    def create(
        self, new: NewTask, max_active: int | None = None, idempotency_key: str | None = None
    ) -> Task:
        with self._s.lock:
            if max_active is not None:
                active = self._count(new.owner_id, ACTIVE)
                if active >= max_active:
                    raise QuotaExceededError(active, max_active)
            if new.id in self._s.tasks:
                raise ValueError(f"task {new.id} exists")
            task = Task(
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
                trace_context=new.trace_context,
            )
            self._s.tasks[new.id] = TaskRow(_copy(task), seq=next(self._s.seq))
            if idempotency_key is not None:
                reservation = self._s.reservations.get((new.owner_id, idempotency_key))
                if reservation is not None:
                    reservation.task_id = new.id
            return _copy(task)

    def get(self, task_id: str, owner_id: str | None) -> Task | None:
        with self._s.lock:
            row = self._s.owned(task_id, owner_id)
            return _copy(row.task) if row else None

    def get_many(self, task_ids: Collection[str]) -> list[Task]:
        with self._s.lock:
            rows = (self._s.tasks.get(task_id) for task_id in task_ids)
            return [_copy(row.task) for row in rows if row is not None]

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
        def wanted(task: Task) -> bool:
            return (
                task.owner_id == owner_id
                and (status is None or task.status.value == status)
                and (model is None or task.spec.model == model)
            )

        with self._s.lock:
            mine = sorted(
                (row.task for row in self._s.tasks.values() if wanted(row.task)),
                key=lambda task: (task.created_at, task.id),
                reverse=newest_first,
            )
            if after is not None:
                cursor = self._s.owned(after, owner_id)
                if cursor is None:
                    return []
                key = (cursor.task.created_at, cursor.task.id)
                mine = [
                    t
                    for t in mine
                    if ((t.created_at, t.id) < key if newest_first else (t.created_at, t.id) > key)
                ]
            return [_copy(task) for task in mine[:limit]]

    def request_cancel(self, task_id: str, owner_id: str) -> Task | None:
        with self._s.lock:
            row = self._s.owned(task_id, owner_id)
            if row is None:
                return None
            if row.task.status is TaskStatus.QUEUED:
                now = self._s.clock()
                row.task = dataclasses.replace(
                    row.task,
                    status=TaskStatus.CANCELLED,
                    finished_at=now,
                    failure="cancelled",
                    failure_code=FailureCode.CANCELLED.value,
                )
                self._s.ended(row.task, now)
            elif row.task.status is TaskStatus.RUNNING:
                row.task = dataclasses.replace(row.task, cancel_requested=True)
            return _copy(row.task)

    def delete(self, task_id: str, owner_id: str) -> Task | None:
        with self._s.lock:
            row = self._s.owned(task_id, owner_id)
            if row is None or not row.task.status.terminal:
                return None
            del self._s.tasks[task_id]
            return _copy(row.task)

    def count_running(self, owner_id: str) -> int:
        with self._s.lock:
            return self._count(owner_id, (TaskStatus.RUNNING,))

    def count_active(self, owner_id: str) -> int:
        with self._s.lock:
            return self._count(owner_id, ACTIVE)

    def _count(self, owner_id: str, statuses: Sequence[TaskStatus]) -> int:
        return sum(
            1
            for row in self._s.tasks.values()
            if row.task.owner_id == owner_id and row.task.status in statuses
        )

    # -- worker side ---------------------------------------------------------------------------
    def claim(
        self,
        worker_id: str,
        lease_seconds: float,
        models: Sequence[str] | None = None,
        max_running_per_owner: int | None = None,
    ) -> Claim | None:
        with self._s.lock:
            now = self._s.clock()
            rows = self._s.tasks.values()
            running = Counter(r.task.owner_id for r in rows if r.task.status is TaskStatus.RUNNING)
            queued = [
                row
                for row in rows
                if row.task.status is TaskStatus.QUEUED
                and (models is None or row.task.spec.model in models)
                and (
                    max_running_per_owner is None
                    or running[row.task.owner_id] < max_running_per_owner
                )
            ]
            if not queued:
                return None
            row = min(queued, key=lambda r: (r.task.created_at, r.seq))
            row.token += 1
            row.lease_until = now + lease_seconds
            row.task = dataclasses.replace(
                row.task,
                status=TaskStatus.RUNNING,
                attempt=row.task.attempt + 1,
                started_at=row.task.started_at if row.task.started_at is not None else now,
            )
            return Claim(task=_copy(row.task), token=row.token, worker_id=worker_id)

    def _fenced(self, claim: Claim) -> TaskRow | None:
        row = self._s.tasks.get(claim.task.id)
        if row is None or row.token != claim.token or row.task.status is not TaskStatus.RUNNING:
            return None
        return row

    def heartbeat(self, claim: Claim, lease_seconds: float) -> LeaseState:
        with self._s.lock:
            row = self._fenced(claim)
            if row is None:
                return LeaseState(held=False, cancel_requested=False)
            row.lease_until = self._s.clock() + lease_seconds
            return LeaseState(held=True, cancel_requested=row.task.cancel_requested)

    def heartbeat_many(
        self, claims: Sequence[Claim], lease_seconds: float
    ) -> dict[str, LeaseState]:
        return {claim.task.id: self.heartbeat(claim, lease_seconds) for claim in claims}

    def report_progress(self, claim: Claim, fraction: float) -> LeaseState:
        fraction = min(max(fraction, 0.0), MAX_RUNNING_PROGRESS)
        with self._s.lock:
            row = self._fenced(claim)
            if row is None:
                return LeaseState(held=False, cancel_requested=False)
            row.task = dataclasses.replace(row.task, progress=max(row.task.progress, fraction))
            return LeaseState(held=True, cancel_requested=row.task.cancel_requested)

    def record_upstream(self, claim: Claim, ref: UpstreamRef) -> bool:
        with self._s.lock:
            row = self._fenced(claim)
            if row is None:
                return False
            row.task = dataclasses.replace(row.task, upstream=ref)
            return True

    def succeed(
        self, claim: Claim, outputs: Outputs, timings: dict[str, float] | None = None
    ) -> bool:
        return self._finish(
            claim, TaskStatus.SUCCEEDED, progress=1.0, outputs=outputs, timings=timings
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

    def _finish(self, claim: Claim, status: TaskStatus, **changes: Any) -> bool:
        if changes.get("timings") is not None:
            changes["timings"] = dict(changes["timings"])
        with self._s.lock:
            row = self._fenced(claim)
            if row is None:
                return False
            now = self._s.clock()
            row.lease_until = None
            row.task = dataclasses.replace(row.task, status=status, finished_at=now, **changes)
            self._s.ended(row.task, now)
            return True

    def release(self, claim: Claim) -> bool:
        with self._s.lock:
            row = self._fenced(claim)
            if row is None:
                return False
            row.lease_until = None
            row.task = dataclasses.replace(
                row.task, status=TaskStatus.QUEUED, attempt=row.task.attempt - 1
            )
            return True

    def reap_expired(self, max_attempts: int) -> ReapResult:
        with self._s.lock:
            now = self._s.clock()
            requeued, failed, cancelled = 0, list[str](), list[str]()
            for row in self._s.tasks.values():
                lease_until = row.lease_until
                if row.task.status is not TaskStatus.RUNNING or lease_until is None:
                    continue
                if lease_until >= now:
                    continue
                row.lease_until = None
                if row.task.cancel_requested:
                    cancelled.append(row.task.id)
                    row.task = dataclasses.replace(
                        row.task,
                        status=TaskStatus.CANCELLED,
                        finished_at=now,
                        failure="cancelled",
                        failure_code=FailureCode.CANCELLED.value,
                    )
                elif row.task.attempt >= max_attempts:
                    failed.append(row.task.id)
                    row.task = dataclasses.replace(
                        row.task,
                        status=TaskStatus.FAILED,
                        finished_at=now,
                        failure=abandoned_failure(max_attempts),
                        failure_code=FailureCode.INTERNAL.value,
                    )
                else:
                    requeued += 1
                    row.task = dataclasses.replace(row.task, status=TaskStatus.QUEUED)
                    continue
                self._s.ended(row.task, now)
            return ReapResult(requeued=requeued, failed=failed, cancelled=cancelled)

    # -- upstream jobs left behind -------------------------------------------------------------
    def abandoned_upstream(self, models: Sequence[str], limit: int) -> list[AbandonedJob]:
        wanted = set(models)
        with self._s.lock:
            now = self._s.clock()
            due = [(at, job) for job, at in self._s.abandoned.values() if job.model in wanted]
        due.sort(key=lambda entry: entry[0])
        return [job for at, job in due if at <= now][:limit]

    def postpone_upstream(self, task_id: str, seconds: float) -> None:
        with self._s.lock:
            if task_id in self._s.abandoned:
                job, _ = self._s.abandoned[task_id]
                self._s.abandoned[task_id] = (job, self._s.clock() + seconds)

    def settle_upstream(self, task_id: str, ref: UpstreamRef | None) -> None:
        with self._s.lock:
            self._s.abandoned.pop(task_id, None)
            row = self._s.tasks.get(task_id)
            if ref is not None and row is not None and row.task.status.terminal:
                row.task = dataclasses.replace(row.task, upstream=ref)

    # -- housekeeping --------------------------------------------------------------------------
    def outputs_to_expire(self, finished_before: float, limit: int) -> list[str]:
        with self._s.lock:
            due = [
                row.task
                for row in self._s.tasks.values()
                if row.task.status.terminal
                and row.task.finished_at is not None
                and row.task.finished_at < finished_before
                and not row.task.outputs_expired
            ]
            due.sort(key=lambda task: task.finished_at or 0.0)
            return [task.id for task in due[:limit]]

    def depth(self) -> QueueDepth:
        counts: Counter[tuple[str, str]] = Counter()
        oldest: dict[str, float] = {}
        with self._s.lock:
            for row in self._s.tasks.values():
                task = row.task
                if task.status not in (TaskStatus.QUEUED, TaskStatus.RUNNING):
                    continue
                counts[(task.spec.model, task.status.value)] += 1
                if task.status is TaskStatus.QUEUED:
                    first = oldest.get(task.spec.model, task.created_at)
                    oldest[task.spec.model] = min(first, task.created_at)
        return QueueDepth(counts=dict(counts), oldest_queued_at=oldest)

    def mark_outputs_expired(self, task_id: str) -> None:
        with self._s.lock:
            row = self._s.tasks.get(task_id)
            if row is not None:
                row.task = dataclasses.replace(row.task, outputs=None, outputs_expired=True)
