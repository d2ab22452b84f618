"""Does rendering in `serve` slow its API? Feed latency idle and while two 720p tasks render.

One `reelgate serve` (SQLite, two in-process workers, the synthetic engine). wrk polls
`POST /runway/feed` for a queued task (8 connections) first with nothing rendering, then while
two 16:9 ten-second tasks (1280x720, 24 fps) render; both tasks are checked to be running before
and after the loaded window, so the window really overlapped rendering. Prints requests/s, p50
and p99 of both windows and the p99 ratio (issue 13's target: at most 2x).

    .venv/bin/python bench/bench_render_load.py [--duration 5] [--connections 8]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_api import wrk
from tests.support.server import ServerProcess, seed_body

HOOK = "https://example.com/hook"


def statuses(server: ServerProcess, task_ids: list[str]) -> list[str]:
    with server.client() as client:
        return [
            client.post("/runway/feed", json={"task_id": t}).json()["data"]["status"]
            for t in task_ids
        ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        server = ServerProcess(
            Path(data),
            env={
                "REELGATE_WORKERS": "2",
                "REELGATE_RATE_PER_MINUTE": "100000000",
                "REELGATE_RATE_BURST": "10000000",
            },
        ).start()
        try:
            with server.client() as client:
                # The task the feed reads: a small one, finished before anything is measured.
                probe = client.post("/runway/pro/generate", json=seed_body(HOOK, ratio="1:1"))
                probe_id = probe.json()["data"]["task_id"]
            deadline = time.monotonic() + 120
            while statuses(server, [probe_id])[0] not in ("SUCCESS", "FAILURE"):
                assert time.monotonic() < deadline, "the probe task never finished"
                time.sleep(0.2)
            body = json.dumps({"task_id": probe_id})
            url = server.base_url + "/runway/feed"
            idle = wrk(url, "POST", body, args.duration, args.connections)

            with server.client() as client:
                renders = [
                    client.post(
                        "/runway/pro/generate",
                        json=seed_body(HOOK),  # 16:9, 10 s: 1280x720
                    ).json()["data"]["task_id"]
                    for _ in range(2)
                ]
            deadline = time.monotonic() + 120
            while statuses(server, renders) != ["IN_PROGRESS", "IN_PROGRESS"]:
                assert time.monotonic() < deadline, "the two renders never ran together"
                time.sleep(0.05)
            loaded = wrk(url, "POST", body, args.duration, args.connections)
            after = statuses(server, renders)
        finally:
            server.stop()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; wrk -t2 -c{args.connections} -d{args.duration}s"
    )
    print(f"renders still running after the loaded window: {after}")
    for name, r in (("idle", idle), ("two 720p renders", loaded)):
        print(
            f"{name:18} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms"
        )
    print(f"p99 ratio rendering/idle: {loaded['p99_ms'] / idle['p99_ms']:.2f}")


if __name__ == "__main__":
    main()
