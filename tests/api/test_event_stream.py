"""`GET /admin/tasks/{id}/events`: a task's states as server-sent events, in order, ending at a
terminal state, resumable with `Last-Event-ID`, and only for the task's owner.

In-process, a response is read once it is complete, which for an event stream is when the task
has finished; tests/integration/serve/test_event_stream.py reads one live over a socket.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.inprocess import InProcessServer
from tests.support.server import OTHER_KEY
from tests.support.sse import Event, parse

SHORT = {"prompt": "a red kite over a beach", "ratio": "1:1", "seconds": 1, "model": "gen4"}


def _create(client: httpx.Client, **body: Any) -> str:
    created = client.post("/admin/tasks", json={**SHORT, **body})
    assert created.status_code == 200, created.text
    task_id: str = created.json()["id"]
    return task_id


def _stream(client: httpx.Client, task_id: str, last_id: str | None = None) -> httpx.Response:
    headers = {"Last-Event-ID": last_id} if last_id else {}
    return client.get(f"/admin/tasks/{task_id}/events", headers=headers)


def test_events_arrive_in_order_and_the_stream_ends_at_success(
    rendering_app: InProcessServer,
) -> None:
    with rendering_app.client() as client:
        task_id = _create(client)
        response = _stream(client, task_id)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.text.startswith("retry: ")
    events = parse(response.text)
    assert events, response.text
    assert all(e.event == "task" and e.data["id"] == task_id for e in events)
    orders = [e.order for e in events]
    assert orders == sorted(orders)
    assert len(set(orders)) == len(orders)
    percents = [e.data["percent"] for e in events]
    assert percents == sorted(percents)
    last = events[-1].data
    assert (last["status"], last["percent"]) == ("succeeded", 100)
    assert last["video_url"]
    assert last["poster_url"]
    assert all(e.data["status"] not in ("succeeded", "failed") for e in events[:-1])


def test_reconnecting_with_last_event_id_misses_nothing_and_repeats_nothing(
    rendering_app: InProcessServer,
) -> None:
    with rendering_app.client() as client:
        task_id = _create(client)
        first = parse(_stream(client, task_id).text)
        assert len(first) >= 2
        resumed = parse(_stream(client, task_id, last_id=first[0].id).text)
        # The task has finished: the resumed stream brings its final state, once.
        assert [e.id for e in resumed] == [first[-1].id]
        assert resumed[0].data["status"] == "succeeded"
        done = _stream(client, task_id, last_id=first[-1].id)
    assert done.status_code == 204  # tells an EventSource to stop reconnecting
    assert done.content == b""


def test_a_cancelled_task_streams_its_final_state_and_ends(idle_app: InProcessServer) -> None:
    with idle_app.client() as client:
        task_id = _create(client)
        assert client.post(f"/admin/tasks/{task_id}/cancel").status_code == 200
        events: list[Event] = parse(_stream(client, task_id).text)
    assert [e.data["status"] for e in events] == ["cancelled"]


def test_only_the_owner_can_follow_a_task(idle_app: InProcessServer) -> None:
    with idle_app.client() as client:
        task_id = _create(client)
        with idle_app.client(OTHER_KEY) as other:
            foreign = _stream(other, task_id)
        with idle_app.client(None) as anonymous:
            unauthenticated = _stream(anonymous, task_id)
        unknown = _stream(client, "00000000-0000-4000-8000-000000000000")
        client.post(f"/admin/tasks/{task_id}/cancel")
    assert foreign.status_code == 404
    assert foreign.json()["error"]["code"] == "task_not_found"
    assert unknown.status_code == 404
    assert unauthenticated.status_code == 401


def test_the_stream_is_in_the_openapi_document(idle_app: InProcessServer) -> None:
    with idle_app.client(None) as client:
        document = client.get("/openapi.json").json()
    operation = document["paths"]["/admin/tasks/{task_id}/events"]["get"]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    assert {p["name"] for p in operation["parameters"]} >= {"task_id", "Last-Event-ID"}
