"""A silent receiver beside a healthy one (issue 13): the dispatcher caps deliveries per
destination and claims again as soon as it can, so the healthy receiver's first delivery goes
out while every delivery to the silent one is still hanging."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
from tests.support.receiver import Receiver, Reply

from reelgate.blobs import keys
from reelgate.core.tasks import Action, GenerationSpec, NewTask, Outputs
from reelgate.notifier import generate_secret
from reelgate.notifier.dispatcher import Dispatcher
from reelgate.store.base import EventState
from reelgate.store.memory import MemoryStore

OWNER = "key_alice"
SILENT_EVENTS = 48
PER_DESTINATION = 4
TIMEOUT_SECONDS = 30.0  # the dispatcher's delivery timeout: the silent receiver outlasts it
PATIENCE_SECONDS = 60.0


def finish(store: MemoryStore, callback: str) -> str:
    """A task with `callback` that has just succeeded: its event is due now."""
    task_id = str(uuid.uuid4())
    spec = GenerationSpec(prompt="a fox", model="tiny", width=64, height=48, seconds=1, seed=1)
    store.tasks.create(
        NewTask(task_id, OWNER, "cometapi", Action.TEXT_TO_VIDEO, spec, callback, "", 0.0)
    )
    claim = store.tasks.claim("w1", 30.0)
    assert claim is not None
    assert claim.task.id == task_id
    assert store.tasks.succeed(
        claim, Outputs(keys.video_key(task_id, 1), keys.poster_key(task_id, 1))
    )
    return task_id


async def arrivals(receiver: Receiver, path: str, count: int) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while receiver.paths().count(path) < count:
        assert time.monotonic() < deadline, f"{count} deliveries to {path} never arrived"
        await asyncio.sleep(0.02)


def test_a_silent_receiver_delays_only_its_own_events() -> None:
    secret = generate_secret()
    store = MemoryStore()
    # Two receivers: a destination is `scheme://host:port`, so one receiver is one destination.
    silent_receiver = Receiver(secret=secret, routes={"/silent": Reply(200, delay_seconds=600.0)})
    receiver = Receiver(secret=secret, routes={"/healthy": Reply(204, b"")})
    observed: dict[str, float | int] = {}

    async def scenario(client: httpx.AsyncClient) -> None:
        dispatcher = Dispatcher(
            store.outbox,
            store.tasks,
            lambda task: b"{}",
            secret,
            client,
            timeout_seconds=TIMEOUT_SECONDS,
            poll_seconds=1.0,
            per_destination=PER_DESTINATION,
        )
        stop = asyncio.Event()
        running = asyncio.create_task(dispatcher.run(stop))
        await arrivals(silent_receiver, "/silent", PER_DESTINATION)  # the silent slots are all held

        written = time.monotonic()
        healthy = finish(store, receiver.url_for("/healthy"))
        dispatcher.wake()
        await arrivals(receiver, "/healthy", 1)
        observed["delay"] = time.monotonic() - written
        observed["silent_started"] = len(silent_receiver.paths())
        observed["silent_attempted"] = sum(
            event.attempts
            for task_id in silent
            for event in store.outbox.events_for_task(task_id, OWNER)
        )
        deadline = time.monotonic() + PATIENCE_SECONDS
        while store.outbox.events_for_task(healthy, OWNER)[0].state is not EventState.DELIVERED:
            assert time.monotonic() < deadline, "the healthy delivery was never recorded"
            await asyncio.sleep(0.02)

        silent_receiver.stopping.set()  # the silent replies end now, so the dispatcher can stop
        stop.set()
        await running

    async def main() -> None:
        async with httpx.AsyncClient() as client:
            await scenario(client)

    with silent_receiver.running(), receiver.running():
        silent = [finish(store, silent_receiver.url_for("/silent")) for _ in range(SILENT_EVENTS)]
        asyncio.run(main())

    # Only the cap's worth went to the silent receiver, and none of them had ended (no attempt
    # recorded) when the healthy receiver's first delivery arrived: it waited for none of them.
    assert observed["silent_started"] == PER_DESTINATION
    assert observed["silent_attempted"] == 0
    assert observed["delay"] < TIMEOUT_SECONDS
    healthy_delivery = [r for r in receiver.requests if r.path == "/healthy"]
    assert [r.verified for r in healthy_delivery] == [True]
