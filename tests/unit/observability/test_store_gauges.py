"""The queue, worker and outbox gauges are read from the store at each scrape."""

from __future__ import annotations

import time

from prometheus_client.parser import text_string_to_metric_families

from reelgate.observability import Metrics, StoreSnapshot


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_every_model_gets_a_series_and_ages_are_measured_at_the_scrape() -> None:
    now = time.time()
    snapshots = [
        StoreSnapshot(
            models=("gen4", "gen3"),
            tasks={("gen4", "queued"): 3, ("gen4", "running"): 1},
            oldest_queued_at={"gen4": now - 42.0},
            live_workers={"gen4": 2},
            outbox_pending=5,
            outbox_oldest_at=now - 7.0,
            taken_at=now,
        )
    ]
    metrics = Metrics()
    metrics.watch_store(lambda: snapshots[-1])
    seen = _samples(metrics)
    assert seen[("reelgate_queue_tasks", (("model", "gen4"), ("status", "queued")))] == 3
    assert seen[("reelgate_queue_tasks", (("model", "gen3"), ("status", "queued")))] == 0
    assert seen[("reelgate_queue_oldest_age_seconds", (("model", "gen4"),))] == 42.0
    assert seen[("reelgate_queue_oldest_age_seconds", (("model", "gen3"),))] == 0
    assert seen[("reelgate_workers_live", (("model", "gen3"),))] == 0
    assert seen[("reelgate_workers_live", (("model", "gen4"),))] == 2
    assert seen[("reelgate_webhook_outbox_pending", ())] == 5
    assert seen[("reelgate_webhook_outbox_oldest_age_seconds", ())] == 7.0


def test_an_unreachable_store_costs_its_gauges_not_the_scrape() -> None:
    def broken() -> StoreSnapshot:
        raise ConnectionError("database is down")

    metrics = Metrics()
    metrics.http_request("/healthz", "GET", 200, 0.001)
    metrics.watch_store(broken)
    seen = _samples(metrics)
    assert seen[("reelgate_store_scrape_errors_total", ())] == 1
    assert not any(name == "reelgate_queue_tasks" for name, _ in seen)
    key = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert seen[("reelgate_http_requests_total", key)] == 1


def test_two_metrics_objects_in_one_process_count_apart() -> None:
    first, second = Metrics(), Metrics()
    first.task_created("cometapi", "gen4")
    key = (("dialect", "cometapi"), ("model", "gen4"))
    assert _samples(first)[("reelgate_tasks_created_total", key)] == 1
    assert ("reelgate_tasks_created_total", key) not in _samples(second)
