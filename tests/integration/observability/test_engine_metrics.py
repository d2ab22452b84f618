"""What engines count: in process, the job runner driving the upstream engine against a real
loopback stand-in (Runway's API through the official SDK), and a render worker driving the
diffusers engine on a tiny random-weight Wan; then a real `reelgate serve`, whose own workers'
counts must show on its /metrics. The counters move by exactly what the stand-in saw and what
the pipelines ran. (A separate worker's port: test_prometheus_scrape.py.)"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reelgate.blobs.local import LocalBlobStore
from reelgate.core.tasks import Action, GenerationSpec, NewTask, Task
from reelgate.engines.registry import ModelRegistry
from reelgate.engines.upstream.config import UpstreamConfig
from reelgate.engines.upstream.engine import UpstreamEngine
from reelgate.observability import Metrics
from reelgate.store.memory import MemoryStore
from reelgate.worker.jobs import JobRunner
from reelgate.worker.runner import Worker, WorkerConfig
from tests.integration.upstream.helpers import KEY_ENV, tiny_mp4, upstream_entry, write_models
from tests.integration.upstream.standin import KEY, Answer, Script, StandIn
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess, seed_body, wait_for_feed
from tests.support.waiting import wait_until

OWNER = "key_alice"
FINISH_SECONDS = 60.0
RELAY = "relay"  # our model name, forwarded to the stand-in


def _queue(store: MemoryStore, model: str, **spec: object) -> Task:
    values: dict[str, object] = {
        "prompt": "a red fox walking in a snowy forest",
        "model": model,
        "width": 64,
        "height": 64,
        "seconds": 1,
        "seed": 7,
        **spec,
    }
    new = NewTask(
        id=str(uuid.uuid4()),
        owner_id=OWNER,
        dialect="native",
        action=Action.TEXT_TO_VIDEO,
        spec=GenerationSpec(**values),  # type: ignore[arg-type]
        callback_url=None,
        api_version="2024-11-06",
        created_at=time.time(),
    )
    return store.tasks.create(new)


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def _config(tmp_path: Path) -> WorkerConfig:
    return WorkerConfig(
        lease_seconds=60.0, heartbeat_seconds=1.0, poll_seconds=0.05, work_dir=tmp_path / "work"
    )


# -- the upstream engine --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandIn]:
    video = tiny_mp4(tmp_path_factory.mktemp("video") / "tiny.mp4")
    with StandIn(video).running() as upstream:
        # Each job's first poll fails with a 500, its second is throttled with a 429.
        upstream.scripts["flaky"] = Script(
            polls=[Answer(500), Answer(429, headers={"Retry-After": "0"})]
        )
        upstream.scripts["silent"] = Script(create=[Answer(hang=True)])
        yield upstream


def _run_jobs(tmp_path: Path, standin: StandIn, upstream_model: str, count: int) -> Metrics:
    """Run `count` tasks of a model forwarded to `upstream_model` on a job runner; its metrics."""
    config = UpstreamConfig(
        protocol="runway",
        endpoints=[standin.url],
        model=upstream_model,
        poll_seconds=0.05,
        request_timeout_seconds=1,
    )
    registry = ModelRegistry(
        {RELAY: lambda: UpstreamEngine(config, api_key=KEY)}, job_models=[RELAY]
    )
    store, metrics = MemoryStore(), Metrics()
    runner = JobRunner(
        "jobs-1",
        store.tasks,
        LocalBlobStore(tmp_path / "blobs"),
        registry,
        _config(tmp_path),
        metrics=metrics,
    )
    ids = [_queue(store, RELAY).id for _ in range(count)]
    runner.start()
    try:

        def all_ended() -> bool:
            return all(store.tasks.get(i, OWNER).status.terminal for i in ids)  # type: ignore[union-attr]

        wait_until(all_ended, FINISH_SECONDS, interval=0.02, what="every task to end")
    finally:
        runner.stop(grace_seconds=0.0)
    return metrics


def test_every_upstream_call_is_counted_by_operation_and_status(
    tmp_path: Path, standin: StandIn
) -> None:
    metrics = _run_jobs(tmp_path, standin, "flaky", count=2)

    def calls(endpoint: str, status: str) -> float:
        return _value(
            metrics, "reelgate_upstream_calls_total", model=RELAY, endpoint=endpoint, status=status
        )

    jobs = standin.jobs_of("flaky")
    assert len(jobs) == 2 == standin.creates("flaky")
    polls = sum(job.polls for job in jobs)
    downloads = [s for s in standin.seen("GET", "/files/") if any(j.id in s.path for j in jobs)]
    # Exactly the calls the stand-in saw, by what each was answered.
    assert calls("create", "2xx") == 2
    assert calls("poll", "5xx") == 2
    assert calls("poll", "429") == 2
    assert calls("poll", "2xx") == polls - 4 >= 2
    assert calls("download", "2xx") == len(downloads) == 2
    latency = _value(
        metrics, "reelgate_upstream_call_duration_seconds_count", model=RELAY, endpoint="poll"
    )
    assert latency == polls
    # The labels are the operation and the status: no URL, job id or key anywhere.
    exposition = metrics.render().decode()
    assert not any(job.id in exposition for job in jobs)
    assert standin.url not in exposition
    assert KEY not in exposition


def test_a_create_that_is_never_answered_counts_as_a_timeout(
    tmp_path: Path, standin: StandIn
) -> None:
    metrics = _run_jobs(tmp_path, standin, "silent", count=1)
    assert (
        _value(
            metrics,
            "reelgate_upstream_calls_total",
            model=RELAY,
            endpoint="create",
            status="timeout",
        )
        == 1
    )
    assert standin.creates("silent") == 1  # its answer was lost: never repeated


@pytest.mark.slow
def test_serve_shows_its_own_workers_upstream_calls(tmp_path: Path, standin: StandIn) -> None:
    models = write_models(
        tmp_path / "models.toml",
        {RELAY: upstream_entry("runway", [standin.url], "plain", poll_seconds=0.05)},
    )
    env = {"REELGATE_MODELS_FILE": str(models), KEY_ENV: KEY, "REELGATE_WORKERS": "1"}
    server = ServerProcess(tmp_path / "data", env=env).start()
    try:
        with Receiver().running() as receiver, server.client() as client:
            body = seed_body(receiver.url, model=RELAY, ratio="1:1")
            task_id = client.post("/runway/pro/generate", json=body).json()["data"]["task_id"]
            assert wait_for_feed(client, task_id)[-1]["status"] == "SUCCESS"
            exposition = client.get("/metrics").text
    finally:
        server.stop()
    (job,) = standin.jobs_of("plain")
    calls = {
        (sample.labels["endpoint"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "reelgate_upstream_calls_total" and sample.labels["model"] == RELAY
    }
    assert calls == {("create", "2xx"): 1, ("poll", "2xx"): job.polls, ("download", "2xx"): 1}


# -- the diffusers engine -------------------------------------------------------------------------
STEPS = 6


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models file with `tiny-wan`: a random-weight Wan on the CPU, 32x32 at 8 fps."""
    pytest.importorskip("diffusers")
    from tests.integration.diffusers.conftest import entry
    from tests.integration.diffusers.tiny import save_tiny

    root = tmp_path_factory.mktemp("tiny")
    save_tiny("wan", root / "wan")
    path = root / "models.toml"
    path.write_text(entry("tiny-wan", "wan", steps=STEPS))
    return path


@pytest.mark.slow
def test_the_diffusers_engine_counts_its_steps_and_frames(tmp_path: Path, tiny_wan: Path) -> None:
    store, metrics = MemoryStore(), Metrics()
    worker = Worker(
        "w1",
        store.tasks,
        LocalBlobStore(tmp_path / "blobs"),
        ModelRegistry.from_file(tiny_wan),
        _config(tmp_path),
        wake=threading.Event(),
        abort=threading.Event(),
        metrics=metrics,
    )
    tasks = [_queue(store, "tiny-wan", seed=seed) for seed in (1, 2)]
    assert worker.run_once()
    assert worker.run_once()
    ended = [store.tasks.get(task.id, OWNER) for task in tasks]
    assert [t.status.value if t else None for t in ended] == ["succeeded", "succeeded"]

    assert _value(metrics, "reelgate_engine_denoising_steps_total", model="tiny-wan") == STEPS * 2
    assert _value(metrics, "reelgate_engine_steps_per_second_count", model="tiny-wan") == 2
    assert _value(metrics, "reelgate_engine_steps_per_second_sum", model="tiny-wan") > 0
    frames = sum(t.spec.frames for t in tasks)
    assert _value(metrics, "reelgate_engine_frames_total", model="tiny-wan") == frames
    # No GPU here: no peak to report.
    assert _value(metrics, "reelgate_gpu_memory_peak_bytes_count", model="tiny-wan") == 0
