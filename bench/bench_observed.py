"""The cost of being observed: create and feed req/s with metrics, JSON logs and traces on
versus off.

Three `reelgate serve` configurations (SQLite, no workers, a fresh data directory each),
measured in the same run with wrk (Debian package `wrk`) on loopback, alternating so that drift
of the machine falls on all alike:
  - off:    `REELGATE_METRICS_ENABLED=false`, text logs (the defaults before issue 12, minus
            metrics);
  - on:     metrics on (every request counted and timed, the store gauges registered) and
            `REELGATE_LOG_FORMAT=json` (one JSON object per log line, e.g. per create);
  - traced: "on" plus OpenTelemetry tracing exported over OTLP/HTTP to a loopback receiver in
            this process (tests/support/otlp.py, counting the spans it decodes) with the default
            batching: a server span per request, and a create span per create.
Each configuration runs `--rounds` times per endpoint; the table shows the mean req/s and the
ratios to "off". `/metrics` is scraped once a second while "on" and "traced" are loaded, as a
fast Prometheus would. It also shows the server process's CPU time per request (user + system,
all its threads, and its span exporter process's, from /proc): on a machine shared with other
work, req/s swings with their load, while CPU per request hardly does.

    .venv/bin/python bench/bench_observed.py [--duration 10] [--connections 32] [--rounds 2]
        [--configs off,on,traced]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_api import wrk
from tests.support.otlp import OtlpReceiver
from tests.support.procstat import cpu_seconds
from tests.support.server import ServerProcess, seed_body

SCRAPE_SECONDS = 1.0
CONFIGS = {
    "off": {"REELGATE_METRICS_ENABLED": "false", "REELGATE_LOG_FORMAT": "text"},
    "on": {"REELGATE_METRICS_ENABLED": "true", "REELGATE_LOG_FORMAT": "json"},
    "traced": {"REELGATE_METRICS_ENABLED": "true", "REELGATE_LOG_FORMAT": "json"},
}
SPANS_PER_REQUEST = {"create": 2, "feed": 1}  # the server span, and the create's own
UNLIMITED = {
    "REELGATE_WORKERS": "0",
    "REELGATE_MAX_ACTIVE_TASKS_PER_KEY": "100000000",
    "REELGATE_RATE_PER_MINUTE": "100000000",
    "REELGATE_RATE_BURST": "10000000",
}


class Scraper:
    """GET /metrics every second in a thread while a measurement runs."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.scrapes = 0

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self._stop.wait(SCRAPE_SECONDS):
                if client.get(self._url).status_code == 200:
                    self.scrapes += 1

    def __enter__(self) -> Scraper:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(config: str, duration: int, connections: int) -> dict[str, dict[str, float]]:
    if config != "traced":
        return _measure(config, duration, connections, {})
    with OtlpReceiver(keep_spans=False).running() as sink:
        tracing = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint}
        results = _measure(config, duration, connections, tracing)
    # Spans the batch processor dropped (its queue full) would show as fewer per request.
    expected = sum(r["rps"] * duration * SPANS_PER_REQUEST[name] for name, r in results.items())
    print(f"traced: {sink.span_count} spans received, {sink.span_count / expected:.2f} of expected")
    return results


def _measure(
    config: str, duration: int, connections: int, tracing: dict[str, str]
) -> dict[str, dict[str, float]]:
    seed = json.dumps(seed_body("https://example.com/hook"))
    with tempfile.TemporaryDirectory() as data:
        env = {**UNLIMITED, **CONFIGS[config], **tracing}
        server = ServerProcess(Path(data), env=env).start()
        try:
            with server.client() as client:
                created = client.post(
                    "/runway/pro/generate",
                    content=seed,
                    headers={"Content-Type": "application/json"},
                )
                task_id = created.json()["data"]["task_id"]
            feed = json.dumps({"task_id": task_id})
            results = {}
            for name, path, body in (
                ("create", "/runway/pro/generate", seed),
                ("feed", "/runway/feed", feed),
            ):
                url = server.base_url + path
                assert server.proc is not None
                cpu = cpu_seconds(server.proc.pid, children=True)
                if config != "off":
                    with Scraper(server.base_url + "/metrics") as scraper:
                        results[name] = wrk(url, "POST", body, duration, connections)
                    assert scraper.scrapes > 0, "no scrape succeeded under load"
                else:
                    results[name] = wrk(url, "POST", body, duration, connections)
                requests = results[name]["rps"] * duration
                cpu = cpu_seconds(server.proc.pid, children=True) - cpu
                results[name]["cpu_ms"] = 1000.0 * cpu / requests
            return results
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help="which to measure, comma-separated (off is always measured: the ratios need it)",
    )
    args = parser.parse_args()
    configs = ["off", *(c for c in args.configs.split(",") if c != "off")]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configs: {', '.join(sorted(unknown))}")
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for config in configs:
            for endpoint, result in measure(config, args.duration, args.connections).items():
                runs.setdefault((config, endpoint), []).append(result)

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}; wrk -t2 -c{args.connections} -d{args.duration}s, "
        f"{args.rounds} rounds"
    )
    print(
        f"{'endpoint':8} {'config':6} {'req/s (each round)':>28} {'mean':>7} {'p99 ms':>8} "
        f"{'CPU ms/req':>10}"
    )
    for endpoint in ("create", "feed"):
        means, cpu = {}, {}
        for config in configs:
            results = runs[(config, endpoint)]
            each = " ".join(f"{r['rps']:.0f}" for r in results)
            means[config] = statistics.mean(r["rps"] for r in results)
            cpu[config] = statistics.mean(r["cpu_ms"] for r in results)
            p99 = statistics.mean(r["p99_ms"] for r in results)
            errors = sum(r["errors"] for r in results)
            assert errors == 0, f"{endpoint} {config}: {errors} non-2xx answers"
            print(
                f"{endpoint:8} {config:6} {each:>28} {means[config]:7.0f} {p99:8.1f} "
                f"{cpu[config]:10.3f}"
            )
        for config in configs[1:]:
            print(
                f"{endpoint:8} {config}/off: req/s {means[config] / means['off']:.3f}, "
                f"CPU per request {cpu[config] / cpu['off']:.3f}"
            )


if __name__ == "__main__":
    main()
