"""Many machines on one box: 2 `reelgate api` and 3 `reelgate worker` processes sharing one
PostgreSQL schema and one S3 bucket (moto's server on loopback), each with its own data
directory as if it ran on its own machine.

36 tasks go in through both APIs and two dialects (CometAPI with a webhook to a real loopback
receiver, which checks each signature as it arrives; Runway's official format without one).
While they render, the worker in slot 0 is SIGKILLed in the middle of a task, restarted, and its
replacement is SIGKILLed late in a task. At the end every task has succeeded exactly once: one
terminal transition, one outbox event per task with a callback, each webhook-id delivered for
one task only and signed, the final attempt's video and poster in the bucket and nothing else,
and links that download playable clips.

The server processes spend about 70 CPU seconds (start-ups included) on the 36 clips at 960x960
(12 of 5 s, 24 of 2 s), so it takes a little over a minute on a 2-core machine: few tasks, but
enough that every worker is still busy when the second kill comes.
"""

from __future__ import annotations

import base64
import contextlib
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx
import pytest
import sqlalchemy as sa
from moto.server import ThreadedMotoServer

from reelgate.blobs.s3 import client_from_environment
from reelgate.media.probe import probe
from reelgate.store import db
from tests.acceptance.helpers import (
    FAST_LEASES,
    SMALL_FRAMES,
    SMALL_SIZE,
    create,
    feed,
    signal_name,
    small_body,
    verified_payloads,
    worker_pid,
)
from tests.support.postgres import fresh_schema
from tests.support.procstat import cpu_seconds
from tests.support.receiver import Receiver
from tests.support.server import API_KEY, OTHER_KEY, ServerProcess, WorkerProcess
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

pytestmark = pytest.mark.slow

COMET_TASKS = 12  # 5 s clips with a callback, through POST /runway/pro/generate
RUNWAY_TASKS = 24  # 2 s clips without one, through POST /v1/text_to_video
APIS = 2
WORKERS = 3
RUNWAY_VERSION = "2024-11-06"
RUNWAY_FRAMES = 2 * 24
# (tasks succeeded before, progress window of the victim's task): the first kill once a few
# tasks are done (the workers are warm), while the task renders; the second a third of the way
# through, late in a task (the last frames, the encoder's tail or the upload of its outputs).
KILLS_AT = ((4, (0.1, 0.8)), ((COMET_TASKS + RUNWAY_TASKS) // 3, (0.85, 1.0)))
SAMPLES_PER_DIALECT = 3  # downloaded and probed, besides every task a kill hit
SEED = 20240917
# Both kills may hit the same task; with the default of 3 attempts, one more lease lost to a
# heartbeat starved on this crowded 2-core machine would then fail it.
MAX_ATTEMPTS = 6
START_TIMEOUT_SECONDS = 90.0
FINISH_TIMEOUT_SECONDS = 600.0

REGION: Final = "eu-west-3"
PREFIX = "prod/outputs"


@dataclass(frozen=True)
class Bucket:
    name: str
    endpoint: str
    client: S3Client
    env: dict[str, str]


@dataclass(frozen=True)
class Submitted:
    task_id: str
    dialect: str  # "comet" or "runway"
    api: int  # index of the API process that took the create


@dataclass(frozen=True)
class Kill:
    pid: int
    task_id: str
    attempt: int
    progress: float
    succeeded_before: int
    objects_left: int  # the killed attempt's objects in the bucket right after the kill
    tries: int  # kills it took (one that lands just after a task finished hits nothing)


@dataclass
class Cluster:
    """The API and worker processes, all stopped by the fixture whatever the test did."""

    root: Path
    env: dict[str, str]
    apis: list[ServerProcess] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)  # the current one per slot
    retired: list[WorkerProcess] = field(default_factory=list)  # killed ones
    retired_cpu_seconds: float = 0.0

    def start_apis(self, count: int) -> list[ServerProcess]:
        """Start `count` API processes side by side; return them once each answers."""
        apis = [
            ServerProcess(self.root / f"api-{i}", env=self.env, command="api") for i in range(count)
        ]
        self.apis.extend(apis)
        for api in apis:
            api.spawn()
        for api in apis:
            api.wait_ready(START_TIMEOUT_SECONDS)
        return apis

    def start_worker(self, slot: int) -> WorkerProcess:
        # A replacement reuses its slot's data directory, as a restart on the same machine does.
        worker = WorkerProcess(
            self.root / f"worker-{slot}", self.env, "--count", "1", "--device", f"cpu:{slot}"
        ).start()
        if slot < len(self.workers):
            self.retired.append(self.workers[slot])
            self.workers[slot] = worker
        else:
            self.workers.append(worker)
        return worker

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "reelgate", *args],
            env={**os.environ, **self.env, "REELGATE_DATA_DIR": str(self.root / "cli")},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def logs(self) -> str:
        parts = [f"--- api {a.port}\n{_tail(a.logs())}" for a in self.apis]
        parts += [f"--- worker {w.log_path.name}\n{_tail(w.logs())}" for w in self.workers]
        parts += [f"--- killed {w.log_path.name}\n{_tail(w.logs())}" for w in self.retired]
        return "\n".join(parts)

    def cpu_seconds(self) -> float:
        """CPU time the processes have used so far (user + system), killed ones included."""
        procs: list[ServerProcess | WorkerProcess] = [*self.workers, *self.apis]
        return self.retired_cpu_seconds + sum(
            cpu_seconds(p.proc.pid) for p in procs if p.proc is not None and p.proc.poll() is None
        )

    def stop(self) -> None:
        procs: list[ServerProcess | WorkerProcess] = [*self.workers, *self.retired, *self.apis]
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.stop(signal.SIGTERM, timeout=30)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_schema() as (_, url):
        yield url


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    """moto's S3 over real HTTP on loopback, one bucket, and the AWS variables every process
    gets (dummy credentials; a developer's ~/.aws is kept out)."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        env = {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "reelgate-scaleout-key",
            "AWS_SECRET_ACCESS_KEY": "reelgate-scaleout-secret",
            "AWS_DEFAULT_REGION": REGION,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        client = client_from_environment()
        name = f"reelgate-{secrets.token_hex(6)}"
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield Bucket(name, endpoint, client, env)
    finally:
        server.stop()


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str, bucket: Bucket) -> Iterator[Cluster]:
    env = {
        **FAST_LEASES,
        **bucket.env,
        "REELGATE_DATABASE_URL": pg_url,
        "REELGATE_STORAGE_URL": f"s3://{bucket.name}/{PREFIX}",
        "REELGATE_OUTBOUND_ALLOW": "127.0.0.0/8",
        "REELGATE_API_KEYS": f"{API_KEY},{OTHER_KEY}",
        "REELGATE_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "REELGATE_LINK_SECRET": secrets.token_hex(32),
        "REELGATE_MAX_ACTIVE_TASKS_PER_KEY": "100000",
        "REELGATE_RATE_PER_MINUTE": "1000000",
        "REELGATE_RATE_BURST": "100000",
        "REELGATE_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "REELGATE_NOTIFIER_POLL_SECONDS": "0.2",
        "PYTHONUNBUFFERED": "1",
    }
    cluster = Cluster(tmp_path, env)
    try:
        yield cluster
    finally:
        cluster.stop()


def test_two_apis_three_workers_on_postgres_and_s3_survive_two_worker_kills(
    cluster: Cluster, bucket: Bucket, pg_url: str, receiver: Receiver, tmp_path: Path
) -> None:
    started = time.monotonic()
    marks: dict[str, float] = {}

    def mark(name: str) -> None:
        marks[name] = round(time.monotonic() - started, 1)

    # Each delivery's signature is checked as it arrives: its signed timestamp is only
    # accepted for 5 minutes, which a check after the whole run could outlast.
    receiver.secret = cluster.env["REELGATE_WEBHOOK_SECRET"]
    engine = sa.create_engine(db.normalise_url(pg_url), pool_size=2)
    try:
        migrated = cluster.cli("migrate")
        assert migrated.returncode == 0, migrated.stderr
        for slot in range(WORKERS):
            cluster.start_worker(slot)
        apis = cluster.start_apis(APIS)
        _wait_for_live_workers(cluster, engine)
        for api in apis:
            with api.client() as client:
                ready = client.get("/readyz")
                assert ready.status_code == 200, ready.text
                assert ready.json()["checks"] == {"database": "ok", "storage": "ok"}
                # The workers serve every model of the registry (no --models).
                assert ready.json()["models_without_workers"] == [], ready.json()
        mark("up")

        submitted = _submit(apis, receiver.url)
        assert len({s.task_id for s in submitted}) == COMET_TASKS + RUNWAY_TASKS
        mark("submitted")

        kills = []
        for after, window in KILLS_AT:
            kill = _kill_mid_task(
                cluster, engine, bucket, slot=0, after_succeeded=after, window=window
            )
            kills.append(kill)
            mark(f"kill {len(kills)}")

        def all_succeeded() -> bool:
            counts = dict(_sql(engine, "SELECT status, count(*) FROM tasks GROUP BY status"))
            bad = {s: n for s, n in counts.items() if s in ("failed", "cancelled")}
            assert not bad, (bad, cluster.logs())
            return counts.get("succeeded") == len(submitted)

        wait_until(
            all_succeeded,
            FINISH_TIMEOUT_SECONDS,
            interval=0.5,
            what=f"{len(submitted)} tasks to succeed (kills {kills}, {marks})",
        )
        mark("rendered")
        # Callbacks come only from CometAPI tasks: Runway's format has no callback_url.
        delivered = "SELECT count(*) FROM webhook_events WHERE state = 'delivered'"
        wait_until(
            lambda: _sql(engine, delivered)[0][0] == COMET_TASKS,
            60,
            interval=0.3,
            what="every webhook event to be delivered",
        )
        receiver.wait_for(COMET_TASKS, timeout=60)
        mark("delivered")
        cpu = cluster.cpu_seconds()

        rows = {r["id"]: r for r in _rows(engine, "SELECT * FROM tasks")}
        _check_tasks(submitted, rows, kills)
        _check_outbox_and_receiver(engine, submitted, rows, receiver)
        _check_bucket(bucket, rows, kills)
        _check_through_the_apis(
            apis, submitted, rows, kills, random.Random(SEED), tmp_path / "downloads"
        )
        _check_work_folders(cluster, kills)
        _check_worker_listing(cluster, kills)
        _check_clean_stop(cluster)
        mark("checked")
    finally:
        engine.dispose()
    retried = sorted(r["attempt"] for r in rows.values() if r["attempt"] > 1)
    print(
        f"\nscale-out: {len(submitted)} tasks; seconds since start {marks}; "
        f"server processes used {cpu:.0f} CPU s; kills {kills}; attempts > 1: {retried}; "
        f"webhook deliveries {len(receiver.requests)} for {COMET_TASKS} events"
    )


# -- phases -----------------------------------------------------------------------------------
def _wait_for_live_workers(cluster: Cluster, engine: sa.Engine) -> None:
    """`reelgate workers` lists every worker process once it has registered."""
    pids = {w.proc.pid for w in cluster.workers if w.proc is not None}

    def registered() -> bool:
        for worker in cluster.workers:
            assert worker.proc is not None
            assert worker.proc.poll() is None, worker.logs()
        return pids <= {pid for (pid,) in _sql(engine, "SELECT pid FROM workers")}

    # Watched in the table (a CLI run per look would take CPU from the start-ups), then listed.
    wait_until(registered, START_TIMEOUT_SECONDS, interval=0.2, what="3 registered workers")
    listed = cluster.cli("workers")
    assert listed.returncode == 0, listed.stderr
    found = {line.split("\t")[2] for line in listed.stdout.splitlines()[1:] if "\t" in line}
    assert {str(pid) for pid in pids} <= found, listed.stdout
    assert "gen4,gen4_turbo" in listed.stdout, listed.stdout


def _submit(apis: list[ServerProcess], callback_url: str) -> list[Submitted]:
    """The creates, alternating between the two APIs and interleaving the two dialects."""
    plan = ["comet"] * COMET_TASKS + ["runway"] * RUNWAY_TASKS
    random.Random(SEED).shuffle(plan)
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()

    def send(i: int) -> Submitted:
        api_index = i % len(apis)
        mine = getattr(local, "clients", None)
        if mine is None:
            mine = local.clients = [api.client() for api in apis]
            with lock:
                clients.extend(mine)
        client = mine[api_index]
        if plan[i] == "comet":
            task_id = create(client, small_body(callback_url, seed=i))
        else:
            response = client.post(
                "/v1/text_to_video",
                headers={"X-Runway-Version": RUNWAY_VERSION},
                json={
                    "model": "gen4_turbo",
                    "promptText": f"a lighthouse on a cliff at dusk, take {i}",
                    "ratio": "960:960",
                    "duration": 2,
                    "seed": i,
                },
            )
            assert response.status_code == 200, response.text
            task_id = response.json()["id"]
        return Submitted(task_id, plan[i], api_index)

    try:
        with ThreadPoolExecutor(6) as pool:
            return list(pool.map(send, range(len(plan))))
    finally:
        for client in clients:
            client.close()


def _kill_mid_task(
    cluster: Cluster,
    engine: sa.Engine,
    bucket: Bucket,
    *,
    slot: int,
    after_succeeded: int,
    window: tuple[float, float],
) -> Kill:
    """Once `after_succeeded` tasks are done, SIGKILL the slot's process while its task's
    progress is inside `window`, then start a replacement on the same data directory.

    A kill that lands just after the task was published (the read and the kill are not
    atomic) hit no task: it is retried with the replacement, at most a few times."""
    for tries in range(1, 4):
        victim = cluster.workers[slot]
        assert victim.proc is not None
        pid = victim.proc.pid

        row = wait_until(
            partial(_task_in_window, engine, victim, after_succeeded, window),
            240,
            interval=0.02,
            what=f"worker {pid} to be in {window} of a task",
        )
        cluster.retired_cpu_seconds += cpu_seconds(pid)
        os.kill(pid, signal.SIGKILL)
        returncode = victim.proc.wait(10)
        assert returncode == -signal.SIGKILL, signal_name(returncode)
        [after] = _rows(engine, "SELECT status, attempt FROM tasks WHERE id = :id", id=row["id"])
        cluster.start_worker(slot)
        if (after["status"], after["attempt"]) == ("running", row["attempt"]):
            attempt_prefix = f"{PREFIX}/tasks/{row['id']}/{row['attempt']}/"
            left = bucket.client.list_objects_v2(Bucket=bucket.name, Prefix=attempt_prefix)
            return Kill(
                pid,
                row["id"],
                row["attempt"],
                round(row["progress"], 2),
                row["done"],
                objects_left=left.get("KeyCount", 0),
                tries=tries,
            )
    raise AssertionError(f"three kills of slot {slot} in {window} all came too late")


def _task_in_window(
    engine: sa.Engine, victim: WorkerProcess, after_succeeded: int, window: tuple[float, float]
) -> dict[str, Any] | None:
    """The task `victim` runs, if its progress is inside `window` and enough tasks are done."""
    assert victim.proc is not None
    assert victim.proc.poll() is None, victim.logs()
    done = _sql(engine, "SELECT count(*) FROM tasks WHERE status = 'succeeded'")[0][0]
    if done < after_succeeded:
        return None
    for row in _rows(
        engine,
        "SELECT id, worker_id, attempt, progress FROM tasks"
        " WHERE status = 'running' AND progress > :lo AND progress < :hi",
        lo=window[0],
        hi=window[1],
    ):
        if worker_pid(row) == victim.proc.pid:
            return {**row, "done": done}
    return None


# -- checks -----------------------------------------------------------------------------------
def _check_tasks(
    submitted: list[Submitted], rows: dict[str, dict[str, Any]], kills: list[Kill]
) -> None:
    """Every task succeeded once, on its final attempt's outputs; the kills cost an attempt."""
    assert set(rows) == {s.task_id for s in submitted}
    for s in submitted:
        row = rows[s.task_id]
        assert row["status"] == "succeeded", row
        assert row["progress"] == 1.0, row
        assert row["lease_until"] is None, row
        assert row["finished_at"] is not None, row
        assert row["dialect"] == ("runway" if s.dialect == "runway" else "cometapi"), row
        prefix = f"tasks/{row['id']}/{row['attempt']}/"
        assert (row["video_key"], row["poster_key"]) == (
            prefix + "video.mp4",
            prefix + "poster.jpg",
        ), row
        assert (row["callback_url"] is not None) == (s.dialect == "comet"), row
    for kill in kills:
        row = rows[kill.task_id]
        assert row["attempt"] > kill.attempt, (kill, row)
        assert worker_pid(row) not in (None, kill.pid), (kill, row)
    assert any(r["attempt"] > 1 for r in rows.values())


def _check_outbox_and_receiver(
    engine: sa.Engine,
    submitted: list[Submitted],
    rows: dict[str, dict[str, Any]],
    receiver: Receiver,
) -> None:
    """One outbox event per task with a callback (one terminal transition), delivered; the
    receiver saw each event under its own webhook-id, for one task only, signed. At-least-once: an
    event may arrive more than once, but only ever under the same id, for the same task."""
    comet = {s.task_id for s in submitted if s.dialect == "comet"}
    events = _rows(engine, "SELECT * FROM webhook_events")
    per_task = Counter(e["task_id"] for e in events)
    assert set(per_task) == comet, set(per_task) ^ comet
    assert set(per_task.values()) == {1}, [t for t, n in per_task.items() if n != 1]
    event_of = {e["task_id"]: e for e in events}
    for event in events:
        assert event["event_type"] == "task.succeeded", event
        assert (event["state"], event["last_status"]) == ("delivered", 200), event
        assert event["url"] == rows[event["task_id"]]["callback_url"], event

    tasks_of_id: dict[str, set[str]] = defaultdict(set)
    deliveries = Counter[str]()
    hooks = receiver.requests
    for hook, payload in zip(hooks, verified_payloads(hooks), strict=True):
        webhook_id = hook.headers["webhook-id"]
        tasks_of_id[webhook_id].add(payload["task_id"])
        deliveries[webhook_id] += 1
        assert payload["status"] == "SUCCESS", payload
        assert payload["result_url"], payload
    assert all(len(t) == 1 for t in tasks_of_id.values()), {
        i: t for i, t in tasks_of_id.items() if len(t) > 1
    }
    assert set(tasks_of_id) == {e["id"] for e in events}, "a webhook-id outside the outbox"
    for task_id in comet:
        assert tasks_of_id[event_of[task_id]["id"]] == {task_id}
    # Every repeat of an id is an attempt the outbox recorded: nothing is sent off the books.
    attempts = dict(
        _sql(engine, "SELECT event_id, count(*) FROM webhook_attempts GROUP BY event_id")
    )
    for webhook_id, count in deliveries.items():
        assert count <= attempts[webhook_id], (webhook_id, count, attempts[webhook_id])


def _check_bucket(bucket: Bucket, rows: dict[str, dict[str, Any]], kills: list[Kill]) -> None:
    """The bucket holds exactly each task's final video and poster: nothing from a superseded
    attempt, no stray probe object, no unfinished multipart upload."""
    objects: dict[str, int] = {}
    for page in bucket.client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name):
        for obj in page.get("Contents", []):
            objects[obj["Key"]] = obj["Size"]
    expected = {
        f"{PREFIX}/{row[column]}" for row in rows.values() for column in ("video_key", "poster_key")
    }
    assert sorted(set(objects) - expected)[:10] == [], "objects no task refers to"
    assert sorted(expected - set(objects))[:10] == [], "published outputs missing"
    assert all(size > 0 for size in objects.values())
    for kill in kills:
        stale = f"{PREFIX}/tasks/{kill.task_id}/{kill.attempt}/"
        assert not [k for k in objects if k.startswith(stale)], (kill, stale)
    uploads = bucket.client.list_multipart_uploads(Bucket=bucket.name)
    assert not uploads.get("Uploads"), uploads["Uploads"]


def _check_through_the_apis(
    apis: list[ServerProcess],
    submitted: list[Submitted],
    rows: dict[str, dict[str, Any]],
    kills: list[Kill],
    rng: random.Random,
    downloads: Path,
) -> None:
    """Each task read through the API that did not create it (replicas share everything);
    a sample of links, those of the killed tasks among them, download clips that play."""
    links: dict[str, tuple[str, str | None]] = {}
    clients = [api.client() for api in apis]
    try:
        for s in submitted:
            client = clients[1 - s.api]
            if s.dialect == "comet":
                data = feed(client, s.task_id)
                assert data["status"] == "SUCCESS", data
                assert data["data"]["status"] == "SUCCEEDED", data
                links[s.task_id] = (data["result_url"], data["data"]["poster"])
            else:
                response = client.get(
                    f"/v1/tasks/{s.task_id}", headers={"X-Runway-Version": RUNWAY_VERSION}
                )
                assert response.status_code == 200, response.text
                body = response.json()
                assert body["status"] == "SUCCEEDED", body
                [video] = body["output"]
                links[s.task_id] = (video, None)
    finally:
        for client in clients:
            client.close()

    by_dialect: dict[str, list[str]] = defaultdict(list)
    for s in submitted:
        by_dialect[s.dialect].append(s.task_id)
    sample = {k.task_id for k in kills}
    for ids in by_dialect.values():
        sample.update(rng.sample(ids, SAMPLES_PER_DIALECT))
    dialect_of = {s.task_id: s.dialect for s in submitted}
    downloads.mkdir(parents=True, exist_ok=True)
    with httpx.Client(timeout=30) as plain:  # no API key: the bucket checks the signature
        for task_id in sorted(sample):
            video_url, poster_url = links[task_id]
            assert "X-Amz-Signature=" in video_url, video_url
            assert f"/{rows[task_id]['attempt']}/video.mp4" in video_url, video_url
            response = plain.get(video_url)
            assert response.status_code == 200, (task_id, response.status_code)
            path = downloads / f"{task_id}.mp4"
            path.write_bytes(response.content)
            info = probe(path)
            frames = SMALL_FRAMES if dialect_of[task_id] == "comet" else RUNWAY_FRAMES
            assert (info.codec, info.width, info.height) == ("h264", *SMALL_SIZE), info
            assert info.frames == frames, (task_id, info)
            assert float(info.fps) == 24.0, info
            if poster_url is not None:
                poster = plain.get(poster_url)
                assert poster.status_code == 200, (task_id, poster.status_code)
                assert poster.content[:3] == b"\xff\xd8\xff", task_id


def _check_work_folders(cluster: Cluster, kills: list[Kill]) -> None:
    """Workers clear a task's work files before publishing it; only a killed attempt's may
    remain (in its own machine's data directory, until that machine's periodic sweep)."""
    killed = {k.task_id for k in kills}
    for slot in range(WORKERS):
        work = cluster.root / f"worker-{slot}" / "work"
        left = {p.name for p in work.iterdir()} if work.is_dir() else set()
        assert left <= killed, (slot, left - killed)


def _check_worker_listing(cluster: Cluster, kills: list[Kill]) -> None:
    """`reelgate workers` lists the three processes alive now, not the two that were killed."""
    alive = {str(w.proc.pid) for w in cluster.workers if w.proc is not None}
    listed = cluster.cli("workers")
    assert listed.returncode == 0, listed.stderr
    pids = {line.split("\t")[2] for line in listed.stdout.splitlines()[1:] if "\t" in line}
    assert pids == alive, (listed.stdout, [k.pid for k in kills])


def _check_clean_stop(cluster: Cluster) -> None:
    """SIGTERM, as systemd and Kubernetes send it, stops every idle process with status 0, and
    the workers deregister."""
    procs: list[ServerProcess | WorkerProcess] = [*cluster.workers, *cluster.apis]
    for proc in procs:
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGTERM)
    for proc in procs:
        assert proc.proc is not None
        returncode = proc.proc.wait(60)
        assert returncode == 0, (signal_name(returncode), _tail(proc.logs()))
    listed = cluster.cli("workers")
    assert listed.stdout.strip() == "no live workers", listed.stdout


# -- SQL --------------------------------------------------------------------------------------
def _rows(engine: sa.Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


def _sql(engine: sa.Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]
