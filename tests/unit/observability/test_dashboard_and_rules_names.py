"""The Grafana dashboard and the alert rules query only metric families reelgate exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from reelgate.observability import Metrics, StoreSnapshot

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
NAME = re.compile(r"\breelgate_[a-z0-9_]+")
SUFFIX = re.compile(r"_(bucket|sum|count|total)$")


def _exported() -> set[str]:
    metrics = Metrics()
    metrics.watch_store(
        lambda: StoreSnapshot(
            models=("gen4",),
            tasks={},
            oldest_queued_at={},
            live_workers={},
            outbox_pending=0,
            outbox_oldest_at=None,
        )
    )
    text = metrics.render().decode()
    return {
        SUFFIX.sub("", line.split()[2]) for line in text.splitlines() if line.startswith("# TYPE ")
    }


def _families(text: str) -> set[str]:
    return {SUFFIX.sub("", name) for name in NAME.findall(text)}


def test_every_dashboard_query_names_an_exported_family() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "reelgate.json").read_text())
    queries = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    used = _families(queries)
    assert used, "the dashboard queries no reelgate metric"
    assert used - _exported() == set()


def test_every_alert_rule_names_an_exported_family() -> None:
    used = _families((DEPLOY / "prometheus" / "alerts.yml").read_text())
    assert used, "the rules query no reelgate metric"
    assert used - _exported() == set()
