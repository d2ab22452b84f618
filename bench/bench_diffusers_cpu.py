"""The diffusers engine's own cost per task on the CPU, beside the pipeline called directly.

    .venv/bin/python bench/bench_diffusers_cpu.py [--repeat 7] [--steps 8] [--seconds 1]

With the tests' tiny Wan (random weights, 32x32), in the same process, interleaved run by run:
  direct     WanPipeline(...)(prompt, 32x32, N frames, steps) -> tensor, as a script would call it;
  engine     DiffusersEngine.generate for a spec that asks for exactly that clip (32x32, native
             rate 24 fps, still camera): prompt composition, the device lock, a progress report
             per step and per decoder run, uint8 conversion and the frame fitter, nothing else;
so `engine - direct` is the wrapper's per-task overhead. Beside them, per output frame, what the
contract adds on a real request (resize to 1280x720 with the seed's camera path, and the H.264
encode the worker does) - costs that scale with the output, not with the model.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.diffusers.tiny import build_tiny  # noqa: E402

from reelgate.core.tasks import GenerationSpec, MotionVector  # noqa: E402
from reelgate.engines.base import Reference  # noqa: E402
from reelgate.engines.diffusers.config import DiffusersConfig, Retime  # noqa: E402
from reelgate.engines.diffusers.engine import DiffusersEngine  # noqa: E402
from reelgate.engines.diffusers.frames import Fitter  # noqa: E402
from reelgate.engines.diffusers.pipelines import Pipelines, prepare  # noqa: E402
from reelgate.engines.diffusers.plan import make_plan  # noqa: E402
from reelgate.media import Mp4Writer  # noqa: E402

SIZE = 32


class _Ctx:
    reference: Reference | None = None

    def __init__(self) -> None:
        self.reports = 0

    def report(self, fraction: float) -> None:
        self.reports += 1


def _seconds(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _config(steps: int) -> DiffusersConfig:
    return DiffusersConfig(
        family="wan",
        path=Path("/in-memory"),
        device="cpu",
        dtype="float32",
        steps=steps,
        guidance=5.0,
        width=SIZE,
        height=SIZE,
        fps=24,
        call={"max_sequence_length": 32},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=1)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    config = _config(args.steps)
    pipe = build_tiny("wan")
    pipe.set_progress_bar_config(disable=True)
    loaded = prepare(config, pipe)
    engine = DiffusersEngine(config, Pipelines(loaded, None))
    spec = GenerationSpec(
        prompt="a red fox in the snow",
        model="tiny",
        width=SIZE,
        height=SIZE,
        seconds=args.seconds,
        seed=3,
    )
    plan = make_plan(spec, config, loaded.geometry, None)
    assert (plan.width, plan.height) == (SIZE, SIZE)

    def direct() -> Any:
        return pipe(
            prompt=plan.prompt,
            height=SIZE,
            width=SIZE,
            num_frames=plan.frames,
            num_inference_steps=args.steps,
            guidance_scale=5.0,
            generator=torch.Generator("cpu").manual_seed(3),
            output_type="pt",
            max_sequence_length=32,
        ).frames

    ctx = _Ctx()

    def wrapped() -> Any:
        return list(engine.generate(spec, ctx))

    direct(), wrapped()  # warm-up
    times: dict[str, list[float]] = {"direct": [], "engine": []}
    for _ in range(args.repeat):
        times["direct"].append(_seconds(direct))
        times["engine"].append(_seconds(wrapped))
    print(
        f"tiny Wan, {SIZE}x{SIZE}, {plan.frames} native frames, {args.steps} steps, "
        f"CFG on; {args.repeat} runs each, interleaved"
    )
    for name, values in times.items():
        print(
            f"  {name:<8} median {statistics.median(values) * 1000:8.1f} ms"
            f"   min {min(values) * 1000:8.1f} ms"
        )
    overhead = statistics.median(times["engine"]) - statistics.median(times["direct"])
    best = min(times["engine"]) - min(times["direct"])
    base = statistics.median(times["direct"])
    print(
        f"  wrapper overhead per task: median {overhead * 1000:+.1f} ms ({overhead / base:+.1%}),"
        f" best-of {best * 1000:+.1f} ms; {ctx.reports // (args.repeat + 1)} progress reports"
    )
    _contract_costs(config, loaded.geometry)


def _contract_costs(config: DiffusersConfig, geometry: Any) -> None:
    """Per output frame: fitting to 1280x720 along the seed's camera path, and encoding."""
    spec = GenerationSpec(
        prompt="p",
        model="m",
        width=1280,
        height=720,
        seconds=2,
        seed=1,
        motion=MotionVector(y=0.4, r=-6),
    )
    native_config = config.model_copy(update={"fps": 16, "width": 832, "height": 480})
    plan = make_plan(spec, native_config, geometry, None)
    native = [
        torch.randint(0, 256, (plan.height, plan.width, 3), dtype=torch.uint8).numpy()
        for _ in range(plan.frames)
    ]
    fitter = Fitter(plan, native, Retime.BLEND)
    fit = _seconds(lambda: [fitter.frame(i) for i in range(len(fitter))]) / len(fitter)
    frames = [fitter.frame(i) for i in range(len(fitter))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clip.mp4"

        def encode() -> None:
            with Mp4Writer(path, 1280, 720, 24) as writer:
                for frame in frames:
                    writer.write(frame)

        encoded = _seconds(encode) / len(frames)
    print(
        f"contract per output frame ({plan.width}x{plan.height} native at 16 fps -> 1280x720 at "
        f"24 fps, camera y=0.4 r=-6): fit {fit * 1000:.1f} ms, H.264 encode {encoded * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
