"""The Dispatcher over the in-memory outbox, with `httpx.MockTransport` as the receiver: what a
task's owner sees in the delivery log and at their endpoint, attempt after attempt."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx
import orjson
import pytest
from standardwebhooks import Webhook

from reelgate.blobs import keys
from reelgate.blobs.base import output_links
from reelgate.blobs.links import LinkSigner
from reelgate.core.tasks import Action, GenerationSpec, NewTask, Outputs, Task
from reelgate.notifier import generate_secret, next_delay
from reelgate.notifier.dispatcher import Dispatcher
from reelgate.notifier.payload import task_payload
from reelgate.store.base import EventState, OutboxEvent
from reelgate.store.memory import MemoryStore

OWNER = "key_alice"
HOOK = "https://hooks.example.com/reelgate"
SECRET = generate_secret()
SCHEDULE = (0.0, 10.0, 20.0)  # three attempts: at once, ~10 s later, ~20 s after that
SEED = 7
SIGNER = LinkSigner(b"link-secret", "http://testserver", 3600)

Reply = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """The store's clock: retries fall due only when the test moves it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def payload(task: Task) -> bytes:
    return orjson.dumps(task_payload(task, output_links(SIGNER, task.outputs)))


@dataclass
class Receiver:
    """Answers each request with the next reply (the last one repeats) and keeps the requests."""

    replies: list[Reply]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        return reply(request)


def status(code: int, **headers: str) -> Reply:
    return lambda request: reply(code, **headers)


def reply(code: int, **headers: str) -> httpx.Response:
    # A streamed body, as a network transport gives it: `deliver` reads the raw stream, which a
    # Response built from `content=` has already consumed.
    return httpx.Response(code, headers=headers, stream=httpx.ByteStream(b"thanks"))


@dataclass
class Rig:
    clock: FakeClock = field(default_factory=FakeClock)
    store: MemoryStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = MemoryStore(clock=self.clock)

    def finished_task(self) -> Task:
        """A task with a callback that has just succeeded: its event is due now."""
        task_id = str(uuid.uuid4())
        spec = GenerationSpec(prompt="a fox", model="tiny", width=64, height=48, seconds=1, seed=1)
        self.store.tasks.create(
            NewTask(task_id, OWNER, "cometapi", Action.TEXT_TO_VIDEO, spec, HOOK, "", 0.0)
        )
        claim = self.store.tasks.claim("w1", 30.0)
        assert claim is not None
        outputs = Outputs(keys.video_key(task_id, 1), keys.poster_key(task_id, 1))
        assert self.store.tasks.succeed(claim, outputs)
        done = self.store.tasks.get(task_id, OWNER)
        assert done is not None
        return done

    def event(self, task: Task) -> OutboxEvent:
        (event,) = self.store.outbox.events_for_task(task.id, OWNER)
        return event

    def run(
        self,
        receiver: Receiver,
        scenario: Callable[[Dispatcher], Awaitable[None]],
        *,
        poll_seconds: float = 60.0,
    ) -> None:
        async def main() -> None:
            transport = httpx.MockTransport(receiver)
            async with httpx.AsyncClient(transport=transport) as client:
                dispatcher = Dispatcher(
                    self.store.outbox,
                    self.store.tasks,
                    payload,
                    SECRET,
                    client,
                    timeout_seconds=5.0,
                    poll_seconds=poll_seconds,
                    rng=random.Random(SEED),
                    schedule=SCHEDULE,
                )
                await scenario(dispatcher)

        asyncio.run(main())


@pytest.fixture
def rig() -> Rig:
    return Rig()


def expected_delays() -> list[float]:
    """The waits the dispatcher's seeded jitter gives after attempts 1 and 2."""
    rng = random.Random(SEED)
    delays = [next_delay(attempt, rng=rng, delays=SCHEDULE) for attempt in (1, 2)]
    return [d for d in delays if d is not None]


def verified(request: httpx.Request) -> object:
    return Webhook(SECRET).verify(request.content, dict(request.headers))


def test_a_2xx_delivers_the_event_once(rig: Rig) -> None:
    tasks = [rig.finished_task(), rig.finished_task()]
    receiver = Receiver([status(204)])
    sent: list[int] = []

    async def scenario(dispatcher: Dispatcher) -> None:
        sent.append(await dispatcher.drain_once())
        sent.append(await dispatcher.drain_once())

    rig.run(receiver, scenario)

    assert sent == [2, 0]
    assert len(receiver.requests) == 2
    for task in tasks:
        event = rig.event(task)
        assert (event.state, event.attempts, event.next_attempt_at) == (
            EventState.DELIVERED,
            1,
            None,
        )
        (attempt,) = rig.store.outbox.attempts(event.id)
        assert (attempt.attempt, attempt.status_code, attempt.error) == (1, 204, None)


def test_the_receiver_verifies_the_signature_and_reads_the_task(rig: Rig) -> None:
    task = rig.finished_task()
    receiver = Receiver([status(200)])

    async def scenario(dispatcher: Dispatcher) -> None:
        await dispatcher.drain_once()

    rig.run(receiver, scenario)

    (request,) = receiver.requests
    body = verified(request)
    assert isinstance(body, dict)
    assert (body["task_id"], body["status"]) == (task.id, "SUCCESS")
    assert body["result_url"].startswith("http://testserver/files/tasks/")
    assert request.headers["webhook-id"] == rig.event(task).id
    assert request.method == "POST"
    assert str(request.url) == HOOK


def test_a_failing_receiver_is_retried_on_the_schedule_then_given_up(rig: Rig) -> None:
    task = rig.finished_task()
    receiver = Receiver([status(500)])
    first_wait, second_wait = expected_delays()
    due_times: list[float | None] = []

    async def scenario(dispatcher: Dispatcher) -> None:
        start = rig.clock.now
        assert await dispatcher.drain_once() == 1
        due_times.append(rig.event(task).next_attempt_at)
        rig.clock.now = start + first_wait - 0.5
        assert await dispatcher.drain_once() == 0  # not due yet
        rig.clock.now = start + first_wait
        assert await dispatcher.drain_once() == 1
        due_times.append(rig.event(task).next_attempt_at)
        rig.clock.now += second_wait
        assert await dispatcher.drain_once() == 1
        rig.clock.now += 30 * 24 * 3600.0
        assert await dispatcher.drain_once() == 0  # given up for good

    start = rig.clock.now
    rig.run(receiver, scenario)

    assert 8.0 <= first_wait <= 12.0  # 10 s with ±20 % jitter
    assert 16.0 <= second_wait <= 24.0
    assert due_times == [
        pytest.approx(start + first_wait),
        pytest.approx(start + first_wait + second_wait),
    ]
    event = rig.event(task)
    assert (event.state, event.attempts) == (EventState.FAILED, 3)
    log = rig.store.outbox.attempts(event.id)
    assert [(a.attempt, a.status_code, a.error) for a in log] == [
        (n, 500, "receiver answered 500") for n in (1, 2, 3)
    ]
    assert len(receiver.requests) == 3


def test_a_longer_retry_after_replaces_the_scheduled_wait(rig: Rig) -> None:
    task = rig.finished_task()
    receiver = Receiver([status(503, **{"Retry-After": "120"})])

    async def scenario(dispatcher: Dispatcher) -> None:
        await dispatcher.drain_once()

    start = rig.clock.now
    rig.run(receiver, scenario)

    event = rig.event(task)
    assert event.state is EventState.PENDING
    assert event.next_attempt_at == pytest.approx(start + 120.0)


def test_a_shorter_retry_after_does_not_hurry_the_schedule(rig: Rig) -> None:
    task = rig.finished_task()
    receiver = Receiver([status(429, **{"Retry-After": "1"})])

    async def scenario(dispatcher: Dispatcher) -> None:
        await dispatcher.drain_once()

    start = rig.clock.now
    rig.run(receiver, scenario)

    assert rig.event(task).next_attempt_at == pytest.approx(start + expected_delays()[0])


def test_410_gone_stops_the_deliveries_of_that_event(rig: Rig) -> None:
    task = rig.finished_task()
    receiver = Receiver([status(410)])

    async def scenario(dispatcher: Dispatcher) -> None:
        await dispatcher.drain_once()
        rig.clock.now += 7 * 24 * 3600.0
        assert await dispatcher.drain_once() == 0

    rig.run(receiver, scenario)

    event = rig.event(task)
    assert (event.state, event.attempts) == (EventState.FAILED, 1)
    (attempt,) = rig.store.outbox.attempts(event.id)
    assert attempt.status_code == 410
    assert attempt.error is not None
    assert "410 Gone" in attempt.error
    assert len(receiver.requests) == 1


def test_a_network_error_is_recorded_and_retried(rig: Rig) -> None:
    task = rig.finished_task()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def scenario(dispatcher: Dispatcher) -> None:
        await dispatcher.drain_once()

    rig.run(Receiver([refuse]), scenario)

    event = rig.event(task)
    assert event.state is EventState.PENDING
    (attempt,) = rig.store.outbox.attempts(event.id)
    assert attempt.status_code is None
    assert attempt.error == "could not connect: connection refused"


def test_the_event_of_a_deleted_task_fails_as_gone_without_a_request(rig: Rig) -> None:
    task = rig.finished_task()
    event = rig.event(task)
    assert rig.store.tasks.delete(task.id, OWNER) is not None
    receiver = Receiver([status(200)])

    async def scenario(dispatcher: Dispatcher) -> None:
        assert await dispatcher.drain_once() == 1

    rig.run(receiver, scenario)

    assert receiver.requests == []
    (attempt,) = rig.store.outbox.attempts(event.id)
    assert (attempt.status_code, attempt.error) == (None, "task deleted")
    assert rig.store.outbox.claim_due(10, 60.0) == []  # failed for good, never due again


def test_every_attempt_renders_a_fresh_body_under_the_same_webhook_id(rig: Rig) -> None:
    task = rig.finished_task()
    receiver = Receiver([status(502), status(200)])

    async def scenario(dispatcher: Dispatcher) -> None:
        await dispatcher.drain_once()
        # Between the attempts the retention sweep expired the files: the retry says so.
        rig.store.tasks.mark_outputs_expired(task.id)
        rig.clock.now += expected_delays()[0]
        await dispatcher.drain_once()

    rig.run(receiver, scenario)

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == rig.event(task).id
    before, after = verified(first), verified(second)
    assert isinstance(before, dict)
    assert isinstance(after, dict)
    assert before["result_url"] != ""
    assert "output_expired" not in before
    assert (after["result_url"], after["output_expired"]) == ("", True)
    assert json.loads(second.content) == after
    event = rig.event(task)
    assert (event.state, event.attempts) == (EventState.DELIVERED, 2)
    assert [a.status_code for a in rig.store.outbox.attempts(event.id)] == [502, 200]


class WatchedStop(asyncio.Event):
    """The loop's stop event, which also says when the loop has gone idle (it waits on it)."""

    def __init__(self) -> None:
        super().__init__()
        self.idle = asyncio.Event()

    async def wait(self) -> Literal[True]:
        self.idle.set()
        return await super().wait()


def test_the_loop_delivers_as_soon_as_it_is_woken_and_stops_when_asked(rig: Rig) -> None:
    received = asyncio.Event()

    def answer(request: httpx.Request) -> httpx.Response:
        received.set()
        return reply(200)

    receiver = Receiver([answer])

    async def scenario(dispatcher: Dispatcher) -> None:
        stop = WatchedStop()
        loop = asyncio.create_task(dispatcher.run(stop))
        await asyncio.wait_for(stop.idle.wait(), timeout=10.0)  # nothing due: it sleeps
        task = rig.finished_task()
        dispatcher.wake()
        # Without the wake the next pass would come after the 600 s poll.
        await asyncio.wait_for(received.wait(), timeout=10.0)
        stop.set()
        await asyncio.wait_for(loop, timeout=10.0)
        assert rig.event(task).state is EventState.DELIVERED

    rig.run(receiver, scenario, poll_seconds=600.0)

    assert len(receiver.requests) == 1
