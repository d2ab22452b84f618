"""The official SDKs' create + retrieve round trip against reelgate, beside the CometAPI route.

One `reelgate serve` with no workers (tasks stay queued, so only the API is measured), then for
each client N sequential round trips of create followed by one retrieve:
  - httpx on CometAPI: POST /runway/pro/generate, POST /runway/feed
  - runwayml SDK: text_to_video.create, tasks.retrieve
  - openai SDK: videos.create, videos.retrieve
Prints p50/p99 milliseconds per round trip and the ratio to the CometAPI baseline.

    .venv/bin/python bench/bench_sdk.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import openai
import runwayml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.server import API_KEY, ServerProcess, seed_body


def _measure(rounds: int, once: Callable[[], None]) -> list[float]:
    for _ in range(10):  # warm-up: connections, imports, caches
        once()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        once()
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        server = ServerProcess(
            Path(data),
            env={
                "REELGATE_WORKERS": "0",
                "REELGATE_MAX_ACTIVE_TASKS_PER_KEY": "1000000",
                "REELGATE_RATE_PER_MINUTE": "10000000",
                "REELGATE_RATE_BURST": "1000000",
            },
        ).start()
        try:
            http = server.client()
            seed = json.dumps(seed_body("https://example.com/hook"))
            runway = runwayml.RunwayML(api_key=API_KEY, base_url=server.base_url)
            sora = openai.OpenAI(api_key=API_KEY, base_url=server.base_url + "/v1")

            def comet() -> None:
                created = http.post(
                    "/runway/pro/generate",
                    content=seed,
                    headers={"Content-Type": "application/json"},
                )
                http.post("/runway/feed", json={"task_id": created.json()["data"]["task_id"]})

            def runway_sdk() -> None:
                task = runway.text_to_video.create(
                    model="gen4.5", prompt_text="a cat", ratio="1280:720", duration=5
                )
                runway.tasks.retrieve(task.id)

            def openai_sdk() -> None:
                video = sora.videos.create(prompt="a cat", model="sora-2", seconds="4")
                sora.videos.retrieve(video.id)

            results = {
                "httpx, CometAPI generate + feed": _measure(args.rounds, comet),
                "runwayml SDK create + retrieve": _measure(args.rounds, runway_sdk),
                "openai SDK create + retrieve": _measure(args.rounds, openai_sdk),
            }
        finally:
            server.stop()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
        f"{platform.python_version()}; runwayml {runwayml.__version__}, openai {openai.__version__}"
    )
    base = results["httpx, CometAPI generate + feed"][
        len(results["httpx, CometAPI generate + feed"]) // 2
    ]
    print(f"{'client':34} {'p50 ms':>8} {'p99 ms':>8} {'p50 vs CometAPI':>16}")
    for name, times in results.items():
        p50 = times[len(times) // 2]
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"{name:34} {p50:8.2f} {p99:8.2f} {p50 / base:16.2f}")


if __name__ == "__main__":
    main()
