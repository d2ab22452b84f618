"""A burst of 1,000 creates from 64 concurrent clients against a server that is rendering: every
request gets a deliberate answer (accepted, or 429 rate_limited with Retry-After once the key's
active-task cap is reached), never a server error, and every accepted task is rendered.

The cap is far below the 200 one might pick in production: this 2-core test machine renders
about one 5 s 960x960 clip every two seconds with two workers, and every accepted task is
rendered to the end, so the cap sets the test's length (about a minute)."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.acceptance.conftest import Launch
from tests.acceptance.helpers import (
    feed,
    query,
    small_body,
    use_webhook_secret,
    verified_payloads,
)
from tests.support.receiver import Receiver
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

CREATES = 1000
CLIENTS = 64
CAP = 16
ENV = {
    "REELGATE_WORKERS": "2",
    "REELGATE_MAX_ACTIVE_TASKS_PER_KEY": str(CAP),
    "REELGATE_RATE_PER_MINUTE": "1000000",
    "REELGATE_RATE_BURST": "100000",
}


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, object]
    retry_after: str | None
    seconds: float


def test_a_burst_of_creates_gets_only_deliberate_answers_and_every_accepted_task_renders(
    launch: Launch, receiver: Receiver, tmp_path: Path
) -> None:
    server = launch(tmp_path / "data", ENV)
    use_webhook_secret(receiver, server)
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()

    def send(i: int) -> Answer:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = server.client()
            with lock:
                clients.append(client)
        started = time.monotonic()
        response = client.post("/runway/pro/generate", json=small_body(receiver.url, seed=i))
        return Answer(
            response.status_code,
            response.json(),
            response.headers.get("retry-after"),
            time.monotonic() - started,
        )

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(pool.map(send, range(CREATES)))
    finally:
        for client in clients:
            client.close()
    burst_ended = time.time()

    statuses = {a.status for a in answers}
    unexpected = sorted({(a.status, str(a.body)) for a in answers if a.status not in (200, 429)})
    assert statuses <= {200, 429}, unexpected[:5]
    limited = [a for a in answers if a.status == 429]
    for answer in limited:
        assert answer.body["code"] == "rate_limited", answer
        assert answer.retry_after is not None, answer
        assert int(answer.retry_after) >= 1, answer
    accepted = [_task_id(a) for a in answers if a.status == 200]
    assert len(set(accepted)) == len(accepted)
    assert all(uuid.UUID(task_id).version == 4 for task_id in accepted)
    assert limited, "the cap never applied"
    # The cap bounds what one key holds at once; more get in only as finished tasks free slots.
    finished_in_burst = len(
        query(server.data_dir, "SELECT id FROM tasks WHERE finished_at <= ?", (burst_ended,))
    )
    assert CAP <= len(accepted) <= CAP + finished_in_burst, (len(accepted), finished_in_burst)

    with server.client() as client:
        for task_id in accepted:
            assert feed(client, task_id)["status"] in ("QUEUED", "IN_PROGRESS", "SUCCESS")
        wait_until(
            lambda: all(
                r["status"] == "succeeded"
                for r in query(server.data_dir, "SELECT status FROM tasks")
            ),
            timeout=150,
            interval=0.5,
            what=f"{len(accepted)} accepted tasks to render",
        )
        finals = [feed(client, task_id) for task_id in accepted]
    assert [f["status"] for f in finals] == ["SUCCESS"] * len(accepted)
    assert all(f["result_url"] for f in finals)
    rows = query(server.data_dir, "SELECT id, status, attempt FROM tasks")
    assert sorted(r["id"] for r in rows) == sorted(accepted), "a refused create left a task"
    # No lease was lost under the burst: every task rendered on its first claim.
    assert {(r["status"], r["attempt"]) for r in rows} == {("succeeded", 1)}
    hooks = receiver.wait_for(len(accepted), timeout=30)
    delivered = sorted(p["task_id"] for p in verified_payloads(hooks))
    assert delivered == sorted(accepted), "each accepted task's webhook, once"


def _task_id(answer: Answer) -> str:
    data = answer.body["data"]
    assert isinstance(data, dict), answer
    return str(data["task_id"])
