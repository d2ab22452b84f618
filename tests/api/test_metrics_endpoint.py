"""GET /metrics on the app: Prometheus text, labelled by route template, and off when asked."""

from __future__ import annotations

import uuid

from prometheus_client.parser import text_string_to_metric_families

from tests.support.inprocess import InProcessServer, StartApp
from tests.support.server import seed_body, wait_for_feed

RENDER_SECONDS = 120.0  # a 5 s synthetic clip renders in seconds; generous for a busy machine

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _scrape(app: InProcessServer) -> Samples:
    with app.client(None) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_are_counted_by_route_template_never_by_id(idle_app: InProcessServer) -> None:
    unknown = str(uuid.uuid4())
    with idle_app.client() as client:
        for _ in range(3):
            assert client.get(f"/v1/videos/{unknown}").status_code == 404
        assert client.get("/no/such/path").status_code == 404
    samples = _scrape(idle_app)
    requests = "reelgate_http_requests_total"
    assert _value(samples, requests, route="/v1/videos/{video_id}", method="GET", status="404") == 3
    assert _value(samples, requests, route="unmatched", method="GET", status="404") >= 1
    assert not any(unknown in str(labels) for _, labels in samples)
    assert (
        _value(
            samples,
            "reelgate_http_request_duration_seconds_count",
            route="/v1/videos/{video_id}",
            method="GET",
        )
        == 3
    )


def test_metrics_are_not_part_of_the_api_document(idle_app: InProcessServer) -> None:
    with idle_app.client(None) as client:
        document = client.get("/openapi.json").json()
    assert "/metrics" not in document["paths"]


def test_a_rendered_task_moves_the_task_counters(start_app: StartApp) -> None:
    app = start_app(workers=1)
    before = _scrape(app)
    body = seed_body("https://example.com/hook", ratio="1:1")
    body["options"]["seconds"] = 5
    with app.client() as client:
        task_id = client.post("/runway/pro/generate", json=body).json()["data"]["task_id"]
        feed = wait_for_feed(client, task_id, RENDER_SECONDS)[-1]
    assert feed["status"] == "SUCCESS"
    after = _scrape(app)

    def moved(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert moved("reelgate_tasks_created_total", dialect="cometapi", model="gen4") == 1
    finished = {"model": "gen4", "engine": "synthetic", "status": "succeeded"}
    assert moved("reelgate_tasks_finished_total", **finished) == 1
    for stage in ("queue_wait", "engine", "encode", "upload"):
        assert moved(f"reelgate_task_{stage}_seconds_count", model="gen4") == 1, stage
    assert moved("reelgate_engine_frames_per_second_count", model="gen4") == 1
    assert _value(after, "reelgate_workers_live", model="gen4") == 1


def test_metrics_can_be_turned_off(start_app: StartApp) -> None:
    app = start_app(metrics_enabled=False)
    with app.client(None) as client:
        assert client.get("/metrics").status_code == 404
