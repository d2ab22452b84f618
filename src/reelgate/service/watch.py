"""One watcher behind every open event stream (`GET /admin/tasks/{id}/events`).

A stream per browser tab must not cost a poll loop per client: 200 tabs watching would be 200
loops reading the store twice a second. Instead one loop per process reads every watched task in
one statement (`Tasks.get_many`) each `WATCH_POLL_SECONDS`, and wakes the streams whose task
changed. The loop runs only while some stream is open.

Each state a stream sends has an id derived from the state itself (`state_id`), not from a
per-connection counter, so a client that reconnects with `Last-Event-ID` (to this replica or
another) is sent the current state at once unless it already has it. A task's state only moves
forward within an attempt (progress never decreases, a terminal status is final), so the newest
state carries everything an earlier one did: a client that missed intermediate states while
disconnected misses nothing it could act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, Callable, Collection
from dataclasses import dataclass, field

from reelgate.core.tasks import Task, TaskStatus

log = logging.getLogger(__name__)

WATCH_POLL_SECONDS = 0.5  # workers write progress about twice a second
KEEPALIVE_SECONDS = 15.0  # a comment line this often keeps proxies from closing an idle stream

_RANK = {TaskStatus.QUEUED: 0, TaskStatus.RUNNING: 1}


def state_id(task: Task) -> str:
    """The event id of a task's current state: `<attempt>-<rank>-<percent>` (rank 0 queued,
    1 running, 2 finished), increasing as the task moves forward within an attempt."""
    rank = _RANK.get(task.status, 2)
    return f"{task.attempt}-{rank}-{task.percent}"


@dataclass(slots=True)
class _Watched:
    task: Task
    streams: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class TaskWatcher:
    """Follows tasks for event streams; `read_many` reads tasks by id (TaskService.read_many).

    Use from one event loop only (the API's): the loop task and the streams share its state
    without locks.
    """

    def __init__(
        self,
        read_many: Callable[[Collection[str]], list[Task]],
        *,
        inline_reads: bool = False,
        poll_seconds: float = WATCH_POLL_SECONDS,
    ) -> None:
        self._read_many = read_many
        self._inline_reads = inline_reads
        self._poll_seconds = poll_seconds
        self._watched: dict[str, _Watched] = {}
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def watching(self) -> int:
        """How many tasks are followed now (for tests and metrics)."""
        return len(self._watched)

    async def states(
        self, task: Task, last_event_id: str | None = None
    ) -> AsyncGenerator[Task | None, None]:
        """The task's states from now on, each once, ending after a terminal one. Yields None
        every `KEEPALIVE_SECONDS` without a change (the route sends a comment then). A state
        whose id equals `last_event_id` is not sent again."""
        sent = last_event_id
        if task.status.terminal:
            if state_id(task) != sent:
                yield task
            return
        watched = self._follow(task)
        try:
            while True:
                current = watched.task
                if state_id(current) != sent:
                    sent = state_id(current)
                    yield current
                if current.status.terminal:
                    return
                waiter = watched.changed
                try:
                    await asyncio.wait_for(waiter.wait(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield None
        finally:
            self._unfollow(task.id)

    def _follow(self, task: Task) -> _Watched:
        watched = self._watched.get(task.id)
        if watched is None:
            watched = self._watched[task.id] = _Watched(task)
        watched.streams += 1
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = asyncio.get_running_loop().create_task(self._run())
        return watched

    def _unfollow(self, task_id: str) -> None:
        watched = self._watched.get(task_id)
        if watched is None:
            return
        watched.streams -= 1
        if watched.streams <= 0:
            del self._watched[task_id]

    async def _run(self) -> None:
        """Poll while anything is watched; a failed read is logged and tried at the next tick
        (a database hiccup must not end every open stream)."""
        while self._watched:
            await asyncio.sleep(self._poll_seconds)
            ids = list(self._watched)
            if not ids:
                break
            try:
                if self._inline_reads:
                    found = self._read_many(ids)
                else:
                    found = await asyncio.to_thread(self._read_many, ids)
            except Exception:
                log.exception("the event-stream watcher could not read %d tasks", len(ids))
                continue
            by_id = {task.id: task for task in found}
            for task_id in ids:
                watched = self._watched.get(task_id)
                if watched is None:
                    continue
                task = by_id.get(task_id)
                if task is None:
                    # Deleted while watched: end its streams with the last state seen as
                    # cancelled, rather than leaving them open forever.
                    task = _gone(watched.task)
                if task == watched.task:
                    continue
                watched.task = task
                watched.changed.set()
                watched.changed = asyncio.Event()
        self._loop_task = None

    async def close(self) -> None:
        """Stop the loop (at shutdown); open streams stop getting states."""
        loop_task, self._loop_task = self._loop_task, None
        if loop_task is not None:
            loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop_task


def _gone(task: Task) -> Task:
    if task.status.terminal:
        return task
    return dataclasses.replace(task, status=TaskStatus.CANCELLED, failure="deleted")
