"""What the upstream engine costs beyond the upstream's own time (issue 10, BENCHMARKS.md).

Against one stand-in upstream (tests/integration/upstream/standin.py, Runway's API, in a process
of its own) whose jobs each finish `--run-seconds` after they are created, two clients hold the
same number of jobs:

  - reelgate: `reelgate api` + `reelgate worker` on SQLite, an `engine = "upstream"` model
    (`protocol = "runway"`, the `runwayml` SDK), tasks created through the API;
  - plain: one process with an asyncio loop and one `httpx.AsyncClient`, creating the jobs and
    polling each at the same interval, then downloading it: the least any client could do.

Measured:
  - overhead per task: our SUCCESS (the task's finished_at) minus the moment the upstream's job
    finished (created + run seconds), p50 / p99; it holds the wait for the next poll (up to
    one poll interval), the download, the probe, the poster, storing and the commit;
  - the worker's (and the plain loop's) CPU-seconds and peak RSS over a window of
    `--window-seconds` during which all jobs are held and none has finished, from /proc.

    .venv/bin/python bench/upstream_overhead.py [--tasks 500] [--poll-seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

# The plain loop runs this file too: it imports nothing beyond asyncio and httpx, so its memory
# is the loop's own. Everything else is imported where it is used.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.procstat import cpu_seconds, rss_mib, threads

MODEL = "bench"
KEY = "standin_key_5b7c1e0f9a"  # tests/integration/upstream/standin.py
RUNWAY_VERSION = "2024-11-06"


# -- the stand-in, in its own process --------------------------------------------------------
def serve_standin(run_seconds: float, poll_delay: float) -> None:
    """Print the stand-in's URL, serve until stdin closes, then print every job's timing."""
    from tests.integration.upstream.helpers import tiny_mp4
    from tests.integration.upstream.standin import Script, StandIn

    with tempfile.TemporaryDirectory() as scratch:
        video = tiny_mp4(Path(scratch) / "tiny.mp4")
    with StandIn(video).running() as standin:
        standin.scripts[MODEL] = Script(run_seconds=run_seconds, poll_delay_seconds=poll_delay)
        print(standin.url, flush=True)
        sys.stdin.read()
        jobs = {
            j.id: {"created_at": j.created_at, "done_at": j.created_at + run_seconds}
            for j in standin.jobs.values()
        }
    print(json.dumps(jobs), flush=True)


class StandInProcess:
    def __init__(self, run_seconds: float, poll_delay: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--standin", str(run_seconds), str(poll_delay)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()

    def finish(self) -> dict[str, dict[str, float]]:
        """Stop it; every job's creation and completion times."""
        out, _ = self.proc.communicate("", timeout=60)
        jobs: dict[str, dict[str, float]] = json.loads(out.strip().splitlines()[-1])
        return jobs


def measure(pid: int, seconds: float) -> dict[str, float]:
    """CPU-seconds used and peak RSS / threads over `seconds`, sampled every 0.2 s."""
    start, peak, most = cpu_seconds(pid), 0.0, 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak, most = max(peak, rss_mib(pid)), max(most, threads(pid))
        time.sleep(0.2)
    return {
        "cpu_seconds": round(cpu_seconds(pid) - start, 2),
        "rss_mb": round(peak, 1),
        "threads": most,
        "window_seconds": seconds,
        "window_end": time.time(),
    }


def summary(usage: dict[str, float], overhead: list[float], jobs: dict[str, Any]) -> dict[str, Any]:
    """The figures of one run; `window_clean` says no job had finished before the window ended."""
    first_done = min(job["done_at"] for job in jobs.values())
    end = usage.pop("window_end")
    return {**usage, "window_clean": end < first_done, "overhead_seconds": percentiles(overhead)}


def percentiles(values: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49], 3), "p99": round(cuts[98], 3), "max": round(max(values), 3)}


def wait_for(check: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"not seen within {timeout:g}s: {what}")
        time.sleep(0.2)


# -- reelgate ------------------------------------------------------------------------------------
def run_reelgate(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    from tests.integration.upstream.helpers import gateway, query, upstream_entry
    from tests.support.server import WorkerProcess

    standin = StandInProcess(args.run_seconds, args.poll_delay)
    entry = upstream_entry(
        "runway", [standin.url], MODEL, concurrency=args.tasks, poll_seconds=args.poll_seconds
    )
    env = {
        "REELGATE_RATE_PER_MINUTE": "1000000",
        "REELGATE_RATE_BURST": "100000",
        "REELGATE_MAX_ACTIVE_TASKS_PER_KEY": "100000",
    }
    api = gateway(root / "data", {MODEL: entry}, KEY, env, command="api").start()
    worker = WorkerProcess(api.data_dir, api.env).start()
    assert worker.proc is not None
    pid = worker.proc.pid
    try:
        created = time.monotonic()
        with api.client(headers={"X-Runway-Version": RUNWAY_VERSION}) as http:
            for _ in range(args.tasks):
                answer = http.post(
                    "/v1/text_to_video",
                    json={"model": MODEL, "promptText": "x", "ratio": "960:960", "duration": 2},
                )
                assert answer.status_code == 200, answer.text
        submitted = "SELECT count(*) AS n FROM tasks WHERE upstream_ref IS NOT NULL"
        wait_for(
            lambda: query(api.data_dir, submitted)[0]["n"] == args.tasks,
            "every job submitted",
            args.run_seconds,
        )
        held_after = time.monotonic() - created
        usage = measure(pid, args.window_seconds)
        done = "SELECT count(*) AS n FROM tasks WHERE status = 'succeeded'"
        wait_for(
            lambda: query(api.data_dir, done)[0]["n"] == args.tasks,
            "every task to succeed",
            args.run_seconds + 300,
        )
        rows = query(api.data_dir, "SELECT finished_at, upstream_ref FROM tasks")
    finally:
        worker.stop()
        api.stop()
    jobs = standin.finish()
    overhead = [
        row["finished_at"] - jobs[json.loads(row["upstream_ref"])["job_id"]]["done_at"]
        for row in rows
    ]
    return {"all_held_after_seconds": round(held_after, 1), **summary(usage, overhead, jobs)}


# -- the plain loop ------------------------------------------------------------------------------
async def plain_loop(url: str, tasks: int, poll_seconds: float, scratch: Path) -> None:
    """Create `tasks` jobs, poll each every `poll_seconds` until done, download it; print
    "held" once all are created, then each job's id and the time its end was seen."""
    headers = {"Authorization": f"Bearer {KEY}", "X-Runway-Version": RUNWAY_VERSION}
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=tasks)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as http:

        async def create() -> str:
            answer = await http.post(
                "/v1/text_to_video",
                json={"model": MODEL, "promptText": "x", "ratio": "960:960", "duration": 2},
            )
            job_id: str = answer.json()["id"]
            return job_id

        ids = [await create() for _ in range(tasks)]
        print("held", flush=True)

        async def get(path: str) -> httpx.Response:
            """A GET, once more on a kept-alive connection the server closed just then."""
            try:
                return await http.get(path)
            except httpx.TransportError:
                return await http.get(path)

        async def follow(job_id: str) -> tuple[str, float]:
            while True:
                task = (await get(f"/v1/tasks/{job_id}")).json()
                if task["status"] == "SUCCEEDED":
                    video = (await get(task["output"][0])).content
                    (scratch / f"{job_id}.mp4").write_bytes(video)
                    return job_id, time.time()
                await asyncio.sleep(poll_seconds)

        seen = await asyncio.gather(*(follow(i) for i in ids))
    print(json.dumps(dict(seen)), flush=True)


def run_plain(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    standin = StandInProcess(args.run_seconds, args.poll_delay)
    command = [sys.executable, __file__, "--plain", standin.url, str(args.tasks)]
    command += [str(args.poll_seconds), str(root)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    started = time.monotonic()
    assert proc.stdout.readline().strip() == "held"
    held_after = time.monotonic() - started
    usage = measure(proc.pid, args.window_seconds)
    out, _ = proc.communicate(timeout=args.run_seconds + 300)
    seen: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    jobs = standin.finish()
    overhead = [at - jobs[job_id]["done_at"] for job_id, at in seen.items()]
    return {"all_held_after_seconds": round(held_after, 1), **summary(usage, overhead, jobs)}


def main() -> None:
    if sys.argv[1:2] == ["--standin"]:
        serve_standin(float(sys.argv[2]), float(sys.argv[3]))
        return
    if sys.argv[1:2] == ["--plain"]:
        url, tasks, poll, scratch = sys.argv[2:6]
        asyncio.run(plain_loop(url, int(tasks), float(poll), Path(scratch)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--poll-seconds", type=float, default=5.0)
    parser.add_argument("--run-seconds", type=float, default=60.0, help="each job's own time")
    parser.add_argument("--poll-delay", type=float, default=0.05, help="each poll answered late")
    parser.add_argument("--window-seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory() as scratch:
        results["reelgate"] = run_reelgate(args, Path(scratch) / "reelgate")
        plain_dir = Path(scratch) / "plain"
        plain_dir.mkdir()
        results["plain"] = run_plain(args, plain_dir)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
