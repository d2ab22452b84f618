"""Drains the webhook outbox: lock due events, deliver each, record the attempt, reschedule.

Deliveries run side by side, up to `max_in_flight` at once and `per_destination` at once to any
one receiver (`scheme://host:port`). The dispatcher claims again whenever a delivery ends, a new
event is announced or `poll_seconds` pass, never for a destination already at its cap, so a
slow or silent receiver holds only its own slots: another receiver's new event is attempted
within a claim's round trip of being written, however many events are stuck elsewhere.

The body is rendered at each attempt, not when the event was written: retries run for about
three days and the body carries signed links that expire after a day, so a late retry must carry
fresh links. The `webhook-id` (the event id) stays the same across every attempt.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from reelgate.core.tasks import Task
from reelgate.notifier.delivery import AttemptResult, Outcome, deliver
from reelgate.notifier.schedule import RETRY_DELAYS_SECONDS, next_delay
from reelgate.observability import Metrics, log_context, tracing
from reelgate.store.base import AttemptRecord, EventState, Outbox, OutboxEvent, TaskRecords

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 64  # deliveries at once per dispatcher (the guarded client holds 100 connections)
PER_DESTINATION = 4  # deliveries at once to one receiver
LOCK_MARGIN_SECONDS = 30.0  # an event stays locked this long past its delivery timeout

Payload = Callable[[Task], bytes]
InFlight = dict["asyncio.Future[None]", str]  # a delivery under way -> its destination


class Dispatcher:
    """Claims due events, sends each through the guarded `client`, records every attempt and
    schedules the next one; `payload` renders a task's body at send time. Several dispatchers
    (one per API process) share one outbox: a claimed event is locked for the delivery timeout
    plus a margin, and one claimed beyond its destination's cap is released at once."""

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
        max_in_flight: int = MAX_IN_FLIGHT,
        per_destination: int = PER_DESTINATION,
        metrics: Metrics | None = None,
    ) -> None:
        self._outbox = outbox
        self._metrics = metrics
        self._tasks = tasks
        self._payload = payload
        self._secret = secret
        self._client = client
        self._timeout_seconds = timeout_seconds
        self._poll_seconds = poll_seconds
        self._rng = rng or random.Random()
        self._schedule = schedule
        self._max_in_flight = max_in_flight
        self._per_destination = per_destination
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Ask for a pass now (call from the event loop's thread)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        in_flight: InFlight = {}
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                try:
                    await self._start_due(in_flight)
                except Exception:
                    log.exception("notifier pass failed")
                self._wake.clear()
                woken = asyncio.ensure_future(self._wake.wait())
                waits: set[asyncio.Future[Any]] = {stopping, woken, *in_flight}
                done, _ = await asyncio.wait(
                    waits,
                    timeout=self._poll_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                woken.cancel()
                for finished in done:
                    in_flight.pop(finished, None)
        finally:
            stopping.cancel()
            if in_flight:  # deliveries under way end within their timeout
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def drain_once(self) -> int:
        """Start every due delivery the caps allow and wait for them; returns how many."""
        in_flight: InFlight = {}
        started = await self._start_due(in_flight)
        await asyncio.gather(*in_flight)
        return started

    async def _start_due(self, in_flight: InFlight) -> int:
        """Claim what the free slots allow and start it; returns how many were started."""
        free = self._max_in_flight - len(in_flight)
        if free <= 0:
            return 0
        counts = Counter(in_flight.values())
        busy = {d for d, n in counts.items() if n >= self._per_destination}
        events = await asyncio.to_thread(
            self._outbox.claim_due, free, self._timeout_seconds + LOCK_MARGIN_SECONDS, busy
        )
        over_cap = []
        for event in events:
            if counts[event.destination] >= self._per_destination:
                over_cap.append(event.id)
                continue
            counts[event.destination] += 1
            in_flight[asyncio.ensure_future(self._send(event))] = event.destination
        if over_cap:
            await asyncio.to_thread(self._outbox.release, over_cap)
        return len(events) - len(over_cap)

    async def _send(self, event: OutboxEvent) -> None:
        try:
            await self._attempt(event)
        except Exception:
            log.exception("webhook %s for task %s: attempt failed", event.id, event.task_id)

    async def _attempt(self, event: OutboxEvent) -> None:
        attempt = event.attempts + 1
        started = time.time()
        task = await asyncio.to_thread(self._tasks.get, event.task_id, None)
        if task is None:
            result = AttemptResult(
                outcome=Outcome.GONE, status_code=None, latency_ms=0.0, error="task deleted"
            )
        else:
            result = await self._deliver(event, task, attempt)
        state, retry_in = self._next(result, attempt)
        record = AttemptRecord(
            attempt=attempt,
            started_at=started,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error,
        )
        await asyncio.to_thread(self._outbox.record, event.id, record, state, retry_in)
        if self._metrics is not None:
            outcome = "retry" if state is EventState.PENDING else state.value
            self._metrics.webhook_attempt(outcome, result.latency_ms / 1000.0)
        # The task's request id, so the delivery shows up in a search for the create.
        with log_context(task_id=event.task_id, request_id=task.request_id if task else None):
            log.info(
                "webhook %s attempt %d for task %s: %s (%s)",
                event.id,
                attempt,
                event.task_id,
                state.value,
                result.status_code or result.error,
            )

    async def _deliver(self, event: OutboxEvent, task: Task, attempt: int) -> AttemptResult:
        """One POST, in a span that joins the trace of the request that created the task; the
        request carries that span's `traceparent`, so a traced receiver can join it too."""
        attributes: tracing.Attributes = {
            "reelgate.task_id": task.id,
            "reelgate.event_id": event.id,
            "reelgate.attempt": attempt,
            "server.address": event.destination,  # never the URL: it may carry a token
        }
        with tracing.span(
            "webhook.deliver",
            parent=task.trace_context,
            kind=tracing.SpanKind.CLIENT,
            attributes=attributes,
        ) as span:
            result = await deliver(
                self._client,
                event.url,
                event.id,
                self._payload(task),
                self._secret,
                timeout_seconds=self._timeout_seconds,
                trace_headers=tracing.carrier(),
            )
            if result.status_code is not None:
                span.set_attribute("http.response.status_code", result.status_code)
            if result.outcome is not Outcome.DELIVERED:
                span.fail(result.error or result.outcome.value)
            return result

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
