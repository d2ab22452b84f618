"""The GPU peak of an attempt reaches `reelgate_gpu_memory_peak_bytes` once CUDA is in use, and
is reset for the next attempt. No GPU here: a stand-in for torch's CUDA counters plays it."""

from __future__ import annotations

import sys
import types

import pytest

from reelgate.observability import Metrics

GIB = 2**30


class _Cuda:
    def __init__(self) -> None:
        self.peak = 0

    def is_available(self) -> bool:
        return True

    def is_initialized(self) -> bool:
        return True

    def max_memory_allocated(self) -> int:
        return self.peak

    def reset_peak_memory_stats(self) -> None:
        self.peak = 0


def test_each_attempt_reports_its_own_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = _Cuda()
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    metrics = Metrics()
    cuda.peak = 3 * GIB
    metrics.task_finished("wan", "diffusers", "succeeded", {"engine": 2.0}, frames=121)
    metrics.task_finished("wan", "diffusers", "failed")  # nothing allocated since: no sample
    sample = metrics.registry.get_sample_value
    assert sample("reelgate_gpu_memory_peak_bytes_count", {"model": "wan"}) == 1
    assert sample("reelgate_gpu_memory_peak_bytes_sum", {"model": "wan"}) == 3 * GIB
    assert sample("reelgate_engine_frames_total", {"model": "wan"}) == 121


def test_no_torch_no_gpu_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    metrics = Metrics()
    metrics.task_finished("gen4", "synthetic", "succeeded", {"engine": 1.0}, frames=24)
    assert (
        metrics.registry.get_sample_value("reelgate_gpu_memory_peak_bytes_count", {"model": "gen4"})
        is None
    )
