"""The event stream over a real socket from `reelgate serve`: events arrive while the task
renders, and a client that drops the connection and resumes with `Last-Event-ID` misses
nothing and is sent nothing twice."""

from __future__ import annotations

import httpx

from tests.support.server import ServerProcess
from tests.support.sse import Event, parse

# Ten seconds of 1280x720: a render of a second or more even on a fast idle machine, so the
# first stream is surely dropped before the task ends.
BODY = {"prompt": "a lighthouse at dusk", "ratio": "16:9", "seconds": 10, "model": "gen4"}


def _read_events(response: httpx.Response, stop_after: int | None = None) -> list[Event]:
    """Events as they arrive, up to `stop_after` of them (then the connection is dropped)."""
    text = ""
    events: list[Event] = []
    for chunk in response.iter_text():
        text += chunk
        events = parse(text.rsplit("\n\n", 1)[0] + "\n\n") if "\n\n" in text else []
        if stop_after is not None and len(events) >= stop_after:
            return events[:stop_after]
    return parse(text)


def test_a_dropped_stream_resumes_from_last_event_id(server: ServerProcess) -> None:
    with server.client() as client:
        task_id = client.post("/admin/tasks", json=BODY).json()["id"]
        url = f"/admin/tasks/{task_id}/events"
        with client.stream("GET", url) as first:
            assert first.status_code == 200
            before = _read_events(first, stop_after=1)  # the state at connect; then dropped
        assert before[-1].data["status"] in ("queued", "running")
        with client.stream("GET", url, headers={"Last-Event-ID": before[-1].id}) as second:
            after = _read_events(second)
        ended = client.get(url, headers={"Last-Event-ID": after[-1].id})
    assert after, "the resumed stream sends the rest"
    seen = [e.order for e in before + after]
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen), "nothing is sent twice"
    assert after[-1].data["status"] == "succeeded"
    assert after[-1].data["percent"] == 100
    assert any(e.data["status"] == "running" for e in before + after)
    assert ended.status_code == 204
