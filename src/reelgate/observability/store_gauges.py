"""Gauges read from the task store at scrape time: the queue, the live workers, the outbox.

They come from the shared store, not from what one process has seen, so every API replica
answers the same and a dashboard takes `max` across them rather than a sum. A scrape that cannot
reach the store exports none of them (Prometheus then marks them stale) and counts the failure
in `reelgate_store_scrape_errors_total`, instead of failing the whole scrape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

QUEUED_STATUSES = ("queued", "running")


@dataclass(frozen=True, slots=True)
class StoreSnapshot:
    """What the store says at one moment, in plain types."""

    models: tuple[str, ...]  # every model the deployment serves: each gets a series, even at 0
    tasks: Mapping[tuple[str, str], int]  # (model, status) -> tasks, status queued or running
    oldest_queued_at: Mapping[str, float]  # model -> created_at (unix seconds)
    live_workers: Mapping[str, int]  # model -> workers whose last beat is recent
    outbox_pending: int
    outbox_oldest_at: float | None
    taken_at: float = field(default_factory=time.time)


StoreReader = Callable[[], StoreSnapshot]


class StoreCollector(Collector):
    def __init__(self, read: StoreReader) -> None:
        self._read = read
        self._errors = 0

    def describe(self) -> Iterable[Metric]:
        return []  # the families depend on the store; nothing to check at registration

    def collect(self) -> Iterable[Metric]:
        errors = CounterMetricFamily(
            "reelgate_store_scrape_errors",
            "Scrapes whose store gauges could not be read (the store was unreachable).",
        )
        try:
            snapshot = self._read()
        except Exception:
            log.exception("metrics: could not read the store")
            self._errors += 1
            errors.add_metric([], self._errors)
            return [errors]
        errors.add_metric([], self._errors)
        return [errors, *_families(snapshot)]


def _families(s: StoreSnapshot) -> list[Metric]:
    models = sorted({*s.models, *(model for model, _ in s.tasks), *s.live_workers})
    depth = GaugeMetricFamily(
        "reelgate_queue_tasks",
        "Tasks queued or running, by model and status.",
        labels=["model", "status"],
    )
    oldest = GaugeMetricFamily(
        "reelgate_queue_oldest_age_seconds",
        "Age of the oldest queued task of each model (0 when none is queued).",
        labels=["model"],
    )
    workers = GaugeMetricFamily(
        "reelgate_workers_live",
        "Workers that serve each model and beat recently.",
        labels=["model"],
    )
    for model in models:
        for status in QUEUED_STATUSES:
            depth.add_metric([model, status], s.tasks.get((model, status), 0))
        first = s.oldest_queued_at.get(model)
        oldest.add_metric([model], 0.0 if first is None else max(0.0, s.taken_at - first))
        workers.add_metric([model], s.live_workers.get(model, 0))
    pending = GaugeMetricFamily(
        "reelgate_webhook_outbox_pending", "Webhook events waiting to be delivered."
    )
    pending.add_metric([], s.outbox_pending)
    pending_age = GaugeMetricFamily(
        "reelgate_webhook_outbox_oldest_age_seconds",
        "Age of the oldest webhook event still waiting (0 when none is).",
    )
    first_event = s.outbox_oldest_at
    pending_age.add_metric([], 0.0 if first_event is None else max(0.0, s.taken_at - first_event))
    return [depth, oldest, workers, pending, pending_age]
