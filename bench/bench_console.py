"""The console's speed (issue 11): first load, a library of 1,000 tasks, 200 event streams.

    .venv/bin/python bench/bench_console.py [--clients 200] [--seconds 20] [--rounds 4]

1. First load: bytes transferred for the console's HTML + JS + CSS and the time until the
   sign-in form is usable, in headless Chromium (Debian's `chromium`), cold cache.
2. Library: 1,000 tasks of one key (made through the API, no worker); time from opening the
   library until its first page of posters is on screen, and until 'Load more' has been used
   to page through all of them.
3. Streams vs polling: `reelgate serve` with one worker rendering; `--clients` tasks are
   created; then `--clients` event-stream clients follow them for `--seconds` seconds, and
   separately the same number of clients poll `POST /runway/feed` once a second, in windows
   that alternate between the two (`--rounds` each, ABBA order). The server's CPU seconds (from
   /proc) and peak RSS over each mode's windows are printed side by side. The rendering
   worker's CPU is in both modes; `--workers 0` measures the clients alone.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.procstat import cpu_seconds, rss_mib
from tests.support.server import API_KEY, ServerProcess

PAGE_SIZE = 24


def first_load_and_library(server: ServerProcess, tasks: int) -> dict[str, float]:
    print(f"creating {tasks} tasks", flush=True)
    with server.client() as client:
        for n in range(tasks):
            client.post(
                "/admin/tasks", json={"prompt": f"task {n}", "seconds": 1}
            ).raise_for_status()
    executable = shutil.which("chromium")
    assert executable, "install Debian's chromium"
    out: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        page = browser.new_page()
        started = time.perf_counter()
        page.goto(server.base_url + "/console")
        page.locator("#signin-key").wait_for(state="visible")
        out["first_load_ms"] = (time.perf_counter() - started) * 1000
        # Bytes on the wire (headers included) for the page and every file it loaded.
        print(f"first load: {out['first_load_ms']:.0f} ms", flush=True)
        out["first_load_bytes"] = float(
            page.evaluate(
                "() => performance.getEntries()"
                ".filter((e) => 'transferSize' in e)"
                ".reduce((sum, e) => sum + e.transferSize, 0)"
            )
        )
        page.fill("#signin-key", API_KEY)
        page.click("button[type=submit]")
        page.locator("#view-create").wait_for(state="visible")
        print("signed in", flush=True)
        started = time.perf_counter()
        page.click("a[href='#/library']")
        page.locator("#grid li").nth(PAGE_SIZE - 1).wait_for()
        page.locator("#more").wait_for(state="visible")
        out["library_first_page_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        for _ in range(tasks // PAGE_SIZE + 1):
            if not page.locator("#more").is_visible():
                break
            count = page.locator("#grid li").count()
            page.click("#more")
            page.locator("#grid li").nth(min(count + PAGE_SIZE, tasks) - 1).wait_for()
        out["library_all_pages_ms"] = (time.perf_counter() - started) * 1000
        out["library_cards"] = float(page.locator("#grid li").count())
        browser.close()
    return out


async def _stream(client: httpx.AsyncClient, task_id: str, stop: float) -> None:
    try:
        async with client.stream("GET", f"/admin/tasks/{task_id}/events") as response:
            async for _ in response.aiter_bytes():
                if time.monotonic() > stop:
                    return
    except httpx.HTTPError:
        return


async def _poll(client: httpx.AsyncClient, task_id: str, stop: float) -> None:
    while time.monotonic() < stop:
        await client.post("/runway/feed", json={"task_id": task_id})
        await asyncio.sleep(1.0)


async def load(server: ServerProcess, ids: list[str], seconds: float, mode: str) -> dict[str, Any]:
    assert server.proc is not None
    pid = server.proc.pid
    limits = httpx.Limits(max_connections=len(ids) + 10)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=headers, limits=limits, timeout=seconds + 30
    ) as client:
        stop = time.monotonic() + seconds
        before = cpu_seconds(pid)
        peak = rss_mib(pid)
        job = _stream if mode == "stream" else _poll
        clients = [asyncio.create_task(job(client, i, stop)) for i in ids]
        started = time.monotonic()
        while time.monotonic() < stop:
            await asyncio.sleep(0.5)
            peak = max(peak, rss_mib(pid))
        # The window ends now, for both modes: a stream only notices the end when its next
        # event or keep-alive arrives (up to 15 s later), so its clients are cancelled rather
        # than awaited, and the CPU is read before they go.
        used = cpu_seconds(pid) - before
        window = time.monotonic() - started
        for task in clients:
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
    return {"mode": mode, "cpu_s": used, "cpu_pct": 100 * used / window, "peak_rss_mib": peak}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="per mode, all rounds")
    parser.add_argument("--rounds", type=int, default=4, help="windows per mode, alternated")
    parser.add_argument("--library", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1, help="rendering workers in `serve`")
    args = parser.parse_args()
    env = {
        "REELGATE_MAX_ACTIVE_TASKS_PER_KEY": "100000",
        "REELGATE_RATE_PER_MINUTE": "1000000",
        "REELGATE_RATE_BURST": "100000",
        "REELGATE_HTTP_MAX_CONNECTIONS": "2000",
    }
    with tempfile.TemporaryDirectory() as data:
        idle = ServerProcess(Path(data) / "idle", env={**env, "REELGATE_WORKERS": "0"}).start()
        try:
            figures = first_load_and_library(idle, args.library)
        finally:
            idle.stop()
        for name, value in figures.items():
            print(f"{name}: {value:.0f}")
        rendering = {**env, "REELGATE_WORKERS": str(args.workers)}
        server = ServerProcess(Path(data) / "serve", env=rendering).start()
        try:
            with server.client() as client:
                ids = [
                    client.post("/runway/pro/generate", json=_body()).json()["data"]["task_id"]
                    for _ in range(args.clients)
                ]
            # Windows alternate stream/poll, poll/stream, ... so that how much rendering falls
            # into each window (a task starting, encoding, finishing) evens out between modes.
            window = args.seconds / args.rounds
            totals = {"stream": 0.0, "poll": 0.0}
            peaks = {"stream": 0.0, "poll": 0.0}
            for round_ in range(args.rounds):
                order = ("stream", "poll") if round_ % 2 == 0 else ("poll", "stream")
                for mode in order:
                    result = asyncio.run(load(server, ids, window, mode))
                    totals[mode] += result["cpu_s"]
                    peaks[mode] = max(peaks[mode], result["peak_rss_mib"])
                    print(
                        f"  round {round_ + 1} {mode}: {window:g}s cpu {result['cpu_s']:.2f}s "
                        f"({result['cpu_pct']:.0f}%)"
                    )
            for mode in ("stream", "poll"):
                print(
                    f"{mode}: {args.clients} clients {args.seconds:g}s: cpu {totals[mode]:.2f}s "
                    f"({100 * totals[mode] / args.seconds:.0f}%), peak RSS {peaks[mode]:.0f} MiB"
                )
            print(f"stream / poll CPU: {totals['stream'] / totals['poll']:.2f}")
        finally:
            server.stop()


def _body() -> dict[str, Any]:
    return {
        "callback_url": "http://127.0.0.1:9/hook",
        "ratio": "1:1",
        "prompt": "a cat",
        "style": "none",
        "model": "gen4",
        "options": {"seconds": 5, "motion_vector": {}},
    }


if __name__ == "__main__":
    main()
