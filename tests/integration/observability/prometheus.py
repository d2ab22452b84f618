"""A real Prometheus (Debian's `prometheus` binary) on loopback, scraping what a test names.

    with PrometheusServer(tmp_path, {"api": "127.0.0.1:8000"}, rules=ALERTS) as prom:
        prom.wait_for('sum(reelgate_tasks_created_total)', lambda v: v == 3)

It scrapes and evaluates rules every second, keeps its data in the test's directory, and is
stopped (SIGTERM, then killed) when the block ends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import ChildProcess, free_port
from tests.support.waiting import wait_until

START_SECONDS = 60.0  # Prometheus opens its database and is ready in about a second
INTERVAL = "1s"  # scrape and rule evaluation


def promtool() -> str:
    """The `promtool` binary, or fail (CI) or skip (elsewhere) when it is not installed."""
    return _binary("promtool")


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (Debian package `prometheus`; ./scripts/test adds it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


class PrometheusServer(ChildProcess):
    def __init__(
        self, data_dir: Path, targets: Mapping[str, str], rules: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.targets = dict(targets)  # job name -> host:port
        self.rules = rules
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "prometheus.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "global": {"scrape_interval": INTERVAL, "evaluation_interval": INTERVAL},
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [target]}]}
                for job, target in self.targets.items()
            ],
        }
        if self.rules is not None:
            config["rule_files"] = [str(self.rules)]
        return config

    def start(self) -> PrometheusServer:
        binary = _binary("prometheus")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "prometheus.yml"
        config.write_text(json.dumps(self._config()))  # JSON is YAML
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.await_ready(
            f"{self.url}/-/ready",
            START_SECONDS,
            "prometheus exited",
            "prometheus did not become ready",
        )
        return self

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to now."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = answer.json()
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def value(self, expr: str) -> float | None:
        """The single value of `expr`, or None when it has no series (yet)."""
        result = self.query(expr)
        if not result:
            return None
        assert len(result) == 1, result
        return float(result[0]["value"][1])

    def wait_for(self, expr: str, holds: Callable[[float], bool], timeout: float = 60.0) -> float:
        """Poll until `expr` has a value that `holds`; returns it, or fails with the last one."""
        seen: list[float | None] = []

        def held() -> bool:
            seen.append(self.value(expr))
            return seen[-1] is not None and holds(seen[-1])

        wait_until(held, timeout, interval=0.25, what=lambda: f"{expr} (last value {seen[-1]})")
        found = seen[-1]
        assert found is not None
        return found

    def alerts(self) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.url}/api/v1/alerts", timeout=10).json()
        alerts: list[dict[str, Any]] = body["data"]["alerts"]
        return alerts
