"""The event-stream watcher: one read per tick for every open stream, each stream woken with
its task's new state, streams ended at a terminal state or when their task disappears."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Collection
from typing import Any

from reelgate.core.tasks import Action, GenerationSpec, Task, TaskStatus
from reelgate.service.watch import TaskWatcher, state_id

DEADLINE_SECONDS = 10.0


def _task(number: int) -> Task:
    return Task(
        id=f"00000000-0000-4000-8000-{number:012d}",
        owner_id="owner",
        dialect="native",
        action=Action.TEXT_TO_VIDEO,
        status=TaskStatus.QUEUED,
        spec=GenerationSpec("a cat", "gen4", 960, 960, 1, 7),
        progress=0.0,
        created_at=time.time(),
        started_at=None,
        finished_at=None,
        attempt=0,
        callback_url=None,
        api_version="2024-11-06",
    )


class FakeStore:
    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = {t.id: t for t in tasks}
        self.reads: list[int] = []

    def read_many(self, ids: Collection[str]) -> list[Task]:
        self.reads.append(len(ids))
        return [self.tasks[i] for i in ids if i in self.tasks]

    def move(self, task_id: str, **changes: Any) -> None:
        self.tasks[task_id] = dataclasses.replace(self.tasks[task_id], **changes)


async def _collect(watcher: TaskWatcher, task: Task) -> list[Task]:
    return [state async for state in watcher.states(task) if state is not None]


def test_many_streams_share_one_read_per_tick_and_each_ends_at_the_final_state() -> None:
    tasks = [_task(n) for n in range(50)]
    store = FakeStore(tasks)

    async def scenario() -> list[list[Task]]:
        watcher = TaskWatcher(store.read_many, inline_reads=True, poll_seconds=0.01)
        streams = [asyncio.create_task(_collect(watcher, t)) for t in tasks for _ in range(2)]
        await _until(lambda: watcher.watching == 50)
        for t in tasks:
            store.move(t.id, status=TaskStatus.RUNNING, attempt=1, progress=0.5)
        await _until(lambda: len(store.reads) >= 2)
        for t in tasks:
            store.move(t.id, status=TaskStatus.SUCCEEDED, progress=1.0)
        results = await asyncio.wait_for(asyncio.gather(*streams), DEADLINE_SECONDS)
        await _until(lambda: watcher.watching == 0)
        return results

    results = asyncio.run(scenario())
    assert max(store.reads) <= 50  # one read names every watched task, never one per stream
    for states in results:
        assert states[0].status is TaskStatus.QUEUED
        assert states[-1].status is TaskStatus.SUCCEEDED
        ids = [state_id(s) for s in states]
        assert len(ids) == len(set(ids))


def test_a_reconnect_with_the_current_id_waits_for_the_next_state() -> None:
    task = dataclasses.replace(_task(1), status=TaskStatus.RUNNING, attempt=1, progress=0.4)
    store = FakeStore([task])

    async def scenario() -> list[Task]:
        watcher = TaskWatcher(store.read_many, inline_reads=True, poll_seconds=0.01)
        states = watcher.states(task, last_event_id=state_id(task))

        async def next_state() -> Task | None:
            return await anext(states)

        first = asyncio.create_task(next_state())
        await _until(lambda: len(store.reads) >= 2)
        assert not first.done()  # nothing new to send yet
        store.move(task.id, status=TaskStatus.FAILED, failure="boom")
        got = await asyncio.wait_for(first, DEADLINE_SECONDS)
        assert got is not None
        rest = [s async for s in states]
        return [got, *[s for s in rest if s is not None]]

    states = asyncio.run(scenario())
    assert [s.status for s in states] == [TaskStatus.FAILED]


def test_a_task_deleted_while_watched_ends_its_stream() -> None:
    task = _task(2)
    store = FakeStore([task])

    async def scenario() -> list[Task]:
        watcher = TaskWatcher(store.read_many, inline_reads=True, poll_seconds=0.01)
        stream = asyncio.create_task(_collect(watcher, task))
        await _until(lambda: len(store.reads) >= 1)
        del store.tasks[task.id]
        return await asyncio.wait_for(stream, DEADLINE_SECONDS)

    states = asyncio.run(scenario())
    assert states[-1].status is TaskStatus.CANCELLED


async def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)
