"""Drains the webhook outbox: lock due events, deliver each, record the attempt, reschedule.

The body is rendered at each attempt, not when the event was written: retries run for about
three days and the body carries signed links that expire after a day, so a late retry must carry
fresh links. The `webhook-id` (the event id) stays the same across every attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

import httpx

from reelgate.core.tasks import Task
from reelgate.notifier.delivery import AttemptResult, Outcome, deliver
from reelgate.notifier.schedule import RETRY_DELAYS_SECONDS, next_delay
from reelgate.store.base import AttemptRecord, EventState, Outbox, OutboxEvent, TaskRecords

log = logging.getLogger(__name__)

BATCH = 16  # events sent concurrently per pass
LOCK_MARGIN_SECONDS = 30.0  # an event stays locked this long past its delivery timeout

Payload = Callable[[Task], bytes]


class Dispatcher:
    """Claims due events in batches, sends each through the guarded `client`, records every
    attempt and schedules the next one; `payload` renders a task's body at send time. Several
    dispatchers (one per API process) share one outbox: a claimed event is locked for the
    delivery timeout plus a margin."""

    def __init__(
        self,
        outbox: Outbox,
        tasks: TaskRecords,
        payload: Payload,
        secret: str,
        client: httpx.AsyncClient,
        *,
        timeout_seconds: float,
        poll_seconds: float,
        rng: random.Random | None = None,
        schedule: tuple[float, ...] = RETRY_DELAYS_SECONDS,
    ) -> None:
        self._outbox = outbox
        self._tasks = tasks
        self._payload = payload
        self._secret = secret
        self._client = client
        self._timeout_seconds = timeout_seconds
        self._poll_seconds = poll_seconds
        self._rng = rng or random.Random()
        self._schedule = schedule
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask for a pass now (call from the event loop's thread)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                sent = await self.drain_once()
            except Exception:
                log.exception("notifier pass failed")
                sent = 0
            if sent:
                continue
            self._wake.clear()
            waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
            _, pending = await asyncio.wait(
                waits, timeout=self._poll_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()

    async def drain_once(self) -> int:
        """Send every due event once; returns how many were attempted."""
        events = await asyncio.to_thread(
            self._outbox.claim_due, BATCH, self._timeout_seconds + LOCK_MARGIN_SECONDS
        )
        await asyncio.gather(*(self._send(event) for event in events))
        return len(events)

    async def _send(self, event: OutboxEvent) -> None:
        attempt = event.attempts + 1
        started = time.time()
        task = await asyncio.to_thread(self._tasks.get, event.task_id, None)
        if task is None:
            result = AttemptResult(
                outcome=Outcome.GONE, status_code=None, latency_ms=0.0, error="task deleted"
            )
        else:
            result = await deliver(
                self._client,
                event.url,
                event.id,
                self._payload(task),
                self._secret,
                timeout_seconds=self._timeout_seconds,
            )
        state, retry_in = self._next(result, attempt)
        record = AttemptRecord(
            attempt=attempt,
            started_at=started,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
        )
        await asyncio.to_thread(self._outbox.record, event.id, record, state, retry_in)
        log.info(
            "webhook %s attempt %d for task %s: %s (%s)",
            event.id,
            attempt,
            event.task_id,
            state.value,
            result.status_code or result.error,
        )

    def _next(self, result: AttemptResult, attempt: int) -> tuple[EventState, float | None]:
        if result.outcome is Outcome.DELIVERED:
            return EventState.DELIVERED, None
        if result.outcome is Outcome.GONE:
            return EventState.FAILED, None
        delay = next_delay(
            attempt, retry_after=result.retry_after_seconds, rng=self._rng, delays=self._schedule
        )
        if delay is None:
            return EventState.FAILED, None
        return EventState.PENDING, delay
