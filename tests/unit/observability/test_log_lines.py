"""JSON log lines carry the bound request, task, attempt, key and worker ids."""

from __future__ import annotations

import io
import json
import logging
import threading

from reelgate.observability import log_context
from reelgate.observability.logs import JsonFormatter


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test.observability.{threading.get_ident()}.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return logger, stream


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_carries_the_fields_bound_around_it() -> None:
    logger, stream = _capture()
    with log_context(request_id="r1", worker_id="w1"), log_context(task_id="t1", attempt=2):
        logger.info("task %s claimed", "t1")
    logger.warning("outside")
    inside, outside = _lines(stream)
    assert inside["message"] == "task t1 claimed"
    assert inside["level"] == "info"
    assert {k: inside[k] for k in ("request_id", "task_id", "attempt", "worker_id")} == {
        "request_id": "r1",
        "task_id": "t1",
        "attempt": 2,
        "worker_id": "w1",
    }
    assert str(inside["time"]).endswith("+00:00")
    assert outside["message"] == "outside"
    assert "request_id" not in outside
    assert "task_id" not in outside


def test_extra_overrides_the_context_and_tracebacks_stay_on_one_line() -> None:
    logger, stream = _capture()
    with log_context(request_id="r1", key_id=None):
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed", extra={"key_id": "key_abc"})
    [line] = _lines(stream)
    assert line["key_id"] == "key_abc"
    assert line["request_id"] == "r1"
    assert "ValueError: boom" in str(line["exception"])
    assert stream.getvalue().count("\n") == 1


def test_each_thread_sees_only_its_own_fields() -> None:
    logger, stream = _capture()
    ready = threading.Barrier(2)

    def work(name: str) -> None:
        with log_context(task_id=name):
            ready.wait(timeout=30)
            logger.info("working")

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(str(line["task_id"]) for line in _lines(stream)) == ["a", "b"]
