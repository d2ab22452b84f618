"""With OTEL_EXPORTER_OTLP_ENDPOINT set, one task's life is one trace across processes: the
API's HTTP span and create, a separate worker's attempt with its claim, engine, encode and
upload, and the API's webhook delivery, each parented as docs/operations.md draws it."""

from __future__ import annotations

from pathlib import Path

from tests.support.otlp import OtlpReceiver, ReceivedSpan
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess, WorkerProcess, seed_body, wait_for_feed

RENDER_SECONDS = 180.0
EXPORT_SECONDS = 60.0
WORKER_SPANS = {"task.attempt", "task.claim", "task.engine", "task.encode", "task.upload"}


def test_one_trace_follows_a_task_through_api_worker_and_webhook(tmp_path: Path) -> None:
    with OtlpReceiver().running() as otlp, Receiver().running() as hooks:
        env = {
            "REELGATE_WORKERS": "0",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds
        }
        api = ServerProcess(tmp_path, env=env).start()
        worker = WorkerProcess(tmp_path, api.env, "--models", "gen4").start()
        try:
            body = seed_body(hooks.url, ratio="1:1")
            body["options"]["seconds"] = 5
            with api.client() as client:
                created = client.post("/runway/pro/generate", json=body)
                assert created.status_code == 200, created.text
                task_id = created.json()["data"]["task_id"]
                assert wait_for_feed(client, task_id, RENDER_SECONDS)[-1]["status"] == "SUCCESS"
            [hook] = hooks.wait_for(1, RENDER_SECONDS)

            def whole(spans: list[ReceivedSpan]) -> bool:
                mine = _trace_of(spans, task_id)
                names = {span.name for span in mine}
                return WORKER_SPANS | {"webhook.deliver", "POST /runway/pro/generate"} <= names

            spans = _trace_of(otlp.wait_for(whole, EXPORT_SECONDS), task_id)
        finally:
            assert worker.stop() == 0
            assert api.stop() == 0

    def one(name: str) -> ReceivedSpan:
        [found] = [span for span in spans if span.name == name]
        return found

    http = one("POST /runway/pro/generate")
    create, attempt = one("task.create"), one("task.attempt")
    delivery = one("webhook.deliver")

    # The API process: the request, the create under it, the delivery under the create.
    assert (http.service, http.kind, http.parent_id) == ("reelgate", "server", "")
    assert http.attributes["http.route"] == "/runway/pro/generate"
    assert http.attributes["http.response.status_code"] == 200
    assert http.attributes["reelgate.request_id"] == created.headers["x-request-id"]
    assert (create.service, create.parent_id) == ("reelgate", http.span_id)
    assert create.attributes["reelgate.task_id"] == task_id
    assert (delivery.service, delivery.kind, delivery.parent_id) == (
        "reelgate",
        "client",
        create.span_id,
    )
    assert delivery.attributes["http.response.status_code"] == 200
    assert not delivery.error

    # The worker process joined the trace from the context stored with the task.
    assert (attempt.service, attempt.parent_id) == ("reelgate-worker", create.span_id)
    assert attempt.attributes["reelgate.attempt"] == 1
    assert attempt.attributes["reelgate.status"] == "succeeded"
    for name in WORKER_SPANS - {"task.attempt"}:
        stage = one(name)
        assert (stage.service, stage.parent_id) == ("reelgate-worker", attempt.span_id), name
        assert attempt.start_ns <= stage.start_ns <= stage.end_ns <= attempt.end_ns, name
    assert one("task.engine").attributes["reelgate.frames"] > 0
    assert one("task.engine").end_ns <= one("task.upload").start_ns

    # The webhook request carried the delivery span's context, for a traced receiver.
    version, trace_id, parent_id, flags = hook.headers["traceparent"].split("-")
    assert (version, trace_id, parent_id) == ("00", http.trace_id, delivery.span_id)
    assert int(flags, 16) & 1  # sampled


def _trace_of(spans: list[ReceivedSpan], task_id: str) -> list[ReceivedSpan]:
    """Every span of the trace whose create made `task_id`."""
    traces = {span.trace_id for span in spans if span.attributes.get("reelgate.task_id") == task_id}
    assert len(traces) <= 1, f"task {task_id} is in several traces"
    return [span for span in spans if span.trace_id in traces]
