"""How fast the synthetic engine renders and encodes a clip, against real time.

    .venv/bin/python bench/bench_render.py [--seconds 10] [--size 1280x720] [--style cinematic]
        [--repeat 3]

Defaults to the seed request of CONTRACT.md (motion y=0.4, r=-6, 10 s, 16:9) with the cinematic
look. It times, each as the best of `--repeat` runs:
  render          the engine alone (scene build plus every frame), frames kept in memory;
  encode          the same, pre-rendered frames through Mp4Writer;
  render+encode   both streaming, frame by frame, as a worker runs them.
Target: render+encode of the default clip in at most 5 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np

from reelgate.core.tasks import GenerationSpec, MotionVector
from reelgate.engines.base import Frame, Reference
from reelgate.engines.synthetic import SyntheticEngine
from reelgate.media import Mp4Writer, probe


class _NoProgress:
    reference: Reference | None = None  # text-to-video

    def report(self, fraction: float) -> None:
        del fraction


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _idle_share(seconds: float = 1.0) -> float | None:
    """The share of CPU time the whole machine left idle over the next `seconds` (Linux)."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return (idle1 - idle0) / max(total1 - total0, 1)


def _best(repeat: int, run: Callable[[], object]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (all threads) of the fastest of `repeat` runs.

    CPU time barely changes when other processes share the machine, so it tells what the wall
    time would be on idle cores: about CPU seconds / cores when the work overlaps well.
    """
    runs = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        run()
        runs.append((time.perf_counter() - start, time.process_time() - cpu))
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--style", default="cinematic")
    parser.add_argument("--prompt", default="a cat on a hill at sunset, mountains behind")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    spec = GenerationSpec(
        prompt=args.prompt,
        model="gen4",
        width=width,
        height=height,
        seconds=args.seconds,
        seed=1234,
        style=args.style,
        motion=MotionVector(y=0.4, r=-6),
    )
    idle_before = _idle_share()
    engine, ctx = SyntheticEngine(), _NoProgress()
    frames: list[Frame] = []

    def render() -> None:
        frames.clear()
        frames.extend(engine.generate(spec, ctx))

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "bench.mp4"

        def encode() -> None:
            with Mp4Writer(out, width, height, spec.fps) as writer:
                for frame in frames:
                    writer.write(frame)

        def both() -> None:
            with Mp4Writer(out, width, height, spec.fps) as writer:
                for frame in engine.generate(spec, ctx):
                    writer.write(frame)

        rows = [("render", _best(args.repeat, render)), ("encode", _best(args.repeat, encode))]
        frames.clear()
        rows.append(("render+encode", _best(args.repeat, both)))
        info, size = probe(out), out.stat().st_size

    print(
        f"machine   {_cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} "
        f"{platform.machine()}, Python {platform.python_version()}"
    )
    idle = "unknown" if idle_before is None else f"{idle_before:.0%}"
    print(
        f"load      CPUs {idle} idle just before; 1-minute load average {os.getloadavg()[0]:.2f}"
        " after (other work on the machine slows every wall-clock figure, not CPU s)"
    )
    print(f"libraries numpy {np.__version__}, opencv {cv2.__version__}, PyAV {av.__version__}")
    print(
        f"clip      {width}x{height}, {args.seconds} s = {spec.frames} frames, "
        f"style {args.style}, motion y=0.4 r=-6, prompt {args.prompt!r}"
    )
    print(
        f"output    {info.codec} {info.pix_fmt} {info.frames} frames at {info.fps} fps, "
        f"{size / 1024:.0f} KiB ({size * 8 / args.seconds / 1e6:.2f} Mbit/s)\n"
    )
    print(f"{'stage':<15}{'seconds':>9}{'ms/frame':>10}{'x real time':>13}{'CPU s':>8}")
    for name, (seconds, cpu) in rows:
        print(
            f"{name:<15}{seconds:>9.2f}{seconds / spec.frames * 1000:>10.1f}"
            f"{args.seconds / seconds:>13.2f}{cpu:>8.2f}"
        )


if __name__ == "__main__":
    main()
