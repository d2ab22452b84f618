"""API throughput on this machine: reelgate's CometAPI routes beside a bare FastAPI endpoint.

Runs `wrk` (Debian package `wrk`) from this same machine, 32 connections on loopback, against:
  - bare FastAPI: GET /bare and POST /bare (JSON body parsed by FastAPI), same uvicorn settings;
  - reelgate serve (SQLite, no workers so rendering does not compete for the CPU):
    POST /runway/pro/generate with the seed body and POST /runway/feed for a queued task;
  - with --postgres, the same reelgate routes again on PostgreSQL (a fresh schema).
Prints requests/s, p50 and p99 latency and the ratio to the bare endpoint of the same method.

    .venv/bin/python bench/bench_api.py [--duration 10] [--connections 32] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.postgres import fresh_schema  # noqa: E402
from tests.support.server import API_KEY, ServerProcess, free_port, seed_body  # noqa: E402

LUA = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
"""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def wrk(
    url: str, method: str, body: str | None, duration: int, connections: int
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            LUA.format(method=method, body=_lua_string(body) if body else "nil", key=API_KEY)
        )
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50_ms": _latency(out, "50%"),
        "p99_ms": _latency(out, "99%"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def _latency(out: str, pct: str) -> float:
    match = re.search(rf"{re.escape(pct)}\s+([\d.]+)(us|ms|s)\b", out)
    assert match, out
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def start_bare() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/bare", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("bare app did not start")


def measure_reelgate(
    label: str, data: Path, env: dict[str, str], seed: str, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """Create, then feed one queued task, on a `reelgate serve` without workers."""
    results: dict[str, dict[str, float]] = {}
    server = ServerProcess(
        data,
        env={
            **env,
            "REELGATE_WORKERS": "0",
            "REELGATE_MAX_ACTIVE_TASKS_PER_KEY": "100000000",
            "REELGATE_RATE_PER_MINUTE": "100000000",
            "REELGATE_RATE_BURST": "10000000",
        },
    ).start()
    try:
        with server.client() as client:
            task_id = client.post(
                "/runway/pro/generate",
                content=seed,
                headers={"Content-Type": "application/json"},
            ).json()["data"]["task_id"]
        results[f"{label} POST /runway/pro/generate"] = wrk(
            server.base_url + "/runway/pro/generate", "POST", seed, args.duration, args.connections
        )
        results[f"{label} POST /runway/feed"] = wrk(
            server.base_url + "/runway/feed",
            "POST",
            json.dumps({"task_id": task_id}),
            args.duration,
            args.connections,
        )
    finally:
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="measure reelgate on PostgreSQL too (the configured server or a throwaway one)",
    )
    args = parser.parse_args()
    seed = json.dumps(seed_body("https://example.com/hook"))
    results: dict[str, dict[str, float]] = {}

    bare, base = start_bare()
    try:
        results["bare GET /bare"] = wrk(
            base + "/bare", "GET", None, args.duration, args.connections
        )
        results["bare POST /bare"] = wrk(
            base + "/bare", "POST", seed, args.duration, args.connections
        )
    finally:
        bare.terminate()
        bare.wait()

    with tempfile.TemporaryDirectory() as data:
        results.update(measure_reelgate("reelgate", Path(data), {}, seed, args))
    if args.postgres:
        with tempfile.TemporaryDirectory() as data, fresh_schema() as (_, url):
            env = {"REELGATE_DATA_DIR": data, "REELGATE_DATABASE_URL": url}
            subprocess.run(
                [sys.executable, "-m", "reelgate", "migrate"],
                env={**os.environ, **env},
                check=True,
                capture_output=True,
            )
            results.update(measure_reelgate("reelgate (PostgreSQL)", Path(data), env, seed, args))

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}; wrk -t2 -c{args.connections} -d{args.duration}s"
    )
    print(
        f"{'endpoint':40} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
        f" {'vs bare POST':>12}"
    )
    bare_post = results["bare POST /bare"]["rps"]
    for name, r in results.items():
        print(
            f"{name:40} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['errors']:8.0f} {r['rps'] / bare_post:12.2f}"
        )


if __name__ == "__main__":
    main()
