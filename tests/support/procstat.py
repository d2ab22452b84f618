"""What a test or a benchmark reads of a running process from /proc: CPU time, resident memory,
threads."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system CPU seconds of a process so far, all its threads; with `children`, also
    of the processes it started that are still running (e.g. a span exporter)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        started = (
            [
                int(child)
                for task in Path(f"/proc/{pid}/task").iterdir()
                for child in (task / "children").read_text().split()
            ]
            if children
            else []
        )
    except FileNotFoundError:  # it exited between two reads
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
    return own + sum(cpu_seconds(child, children=True) for child in started)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))
