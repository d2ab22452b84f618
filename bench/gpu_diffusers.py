"""Wan2.1-T2V-1.3B on one GPU: the stock diffusers call, the same clip through a reelgate
worker, each speed setting alone and the best combination, with the frames of each compared to
the stock pipeline's for the same seed.

    .venv/bin/python bench/gpu_diffusers.py                # full size, on the GPU (~8 min)
    .venv/bin/python bench/gpu_diffusers.py --tiny         # every code path on a CPU (<1 min)

Full size is the real architecture with random weights (832x480, 81 frames, CFG 5.0, bf16),
which time like trained ones; BENCHMARKS.md ("GPU speed (issue 14)") has the command for the
lent GPU machine, which lacks diffusers and reelgate's own dependencies. Rows, in this order:

  stock          diffusers' WanPipeline called directly, 50 steps, then 8 steps (the reference
                 for the shortened rows)
  worker         the 8-step clip as a task through reelgate's Worker (claim, DiffusersEngine,
                 retime to 24 fps, H.264 encode, publish, finish); its extra seconds over the
                 stock call are set against the 50-step stock clip, since they do not grow
                 with the steps
  attention=X    each attention backend of the list that the install and card offer, 8 steps
  first_block,   the step caches, 8 steps (how many steps a cache skips depends on the schedule:
  taylorseer     the best row shows the chosen one on the full 50)
  best           50 steps: compile, the fastest attention backend and the fastest cache whose
                 frames keep PSNR >= 30 dB against stock
  compile        regional torch.compile alone, 8 steps; its compile warm-up is reported apart
  vae_tiling     8 steps: the decode in tiles (its cost is all in the decode)
  engine         DiffusersEngine.render alone, 8 steps: the wrapper without the worker

Each row: seconds per clip, denoising steps per second (device-synchronised step ends, the first
step excluded), peak GPU memory, MFU (the transformer's matmul FLOPs per step times steps per
second, over the card's dense bf16 peak; for a cache, the FLOPs it skipped count as done: an
effective figure), PSNR and largest pixel difference against stock at the same step count.
The per-setting rows run 8 steps so that the whole run fits one 10-minute call: their steps per
second is the figure to read, not their seconds per clip. Against --budget (500 s), estimated
from the stock run: a 50-step row that would overrun it runs at 8 steps, any other is skipped,
and the output says so. The JSON (--out, default $OUT/gpu_diffusers.json, else bench/results/)
is rewritten after every row, so a run stopped at its time limit keeps what it measured.
With random weights a cache skips steps at a rate trained weights need not match, and
differences grow through the steps unchecked by any learned structure: read PSNR as a bound of
the damage on this model, and confirm on real weights.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import diffusers  # noqa: E402
from bench.wan_speed import (  # noqa: E402
    Run,
    Shape,
    build_wan,
    fresh_copy,
    measure,
    peak_flops,
    stock_call,
    transformer_flops,
    uint8,
    worker_run,
)

from reelgate.core.tasks import GenerationSpec  # noqa: E402
from reelgate.engines.diffusers.capabilities import check_speed_settings  # noqa: E402
from reelgate.engines.diffusers.config import DiffusersConfig, Family  # noqa: E402
from reelgate.engines.diffusers.engine import DiffusersEngine  # noqa: E402
from reelgate.engines.diffusers.pipelines import Pipelines, geometry, prepare  # noqa: E402
from reelgate.engines.diffusers.plan import make_plan  # noqa: E402
from reelgate.engines.diffusers.quality import Fidelity, compare  # noqa: E402

SEED = 7
PROMPT = "a red fox trotting through a snowy forest at dawn"
PSNR_FLOOR = 30.0  # dB: a setting below it is not eligible for the best combination
GPU_BACKENDS = ("_native_cudnn", "_native_flash", "_native_efficient", "flash", "_flash_3", "sage")
CPU_BACKENDS = ("_native_math", "_native_flash")
COMPILE_GUESS_SECONDS = 120.0  # a compile warm-up's cost before one was measured (GPU)


@dataclass
class Setup:
    shape: Shape
    full_steps: int
    short_steps: int
    backends: tuple[str, ...]
    compile: bool
    budget: float  # seconds for the whole run
    peak: float | None  # the card's dense bf16 FLOP/s, for MFU


class Bench:
    """The rows measured so far, the clock against the budget, and the stock references."""

    def __init__(self, setup: Setup, pipe: Any, header: dict[str, Any], out: Path) -> None:
        self.setup = setup
        self.pipe = pipe
        self.started = time.perf_counter()
        self.header = header
        self.out = out
        self.rows: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {}
        self.reference: dict[int, Any] = {}  # steps -> stock frames
        self.stock: dict[int, Run] = {}
        self.step_seconds = 0.0  # stock seconds per step, once measured
        self.fixed_seconds = 0.0  # stock seconds outside the steps (prompt, latents, decode)
        self.compile_seconds = COMPILE_GUESS_SECONDS if setup.shape.device != "cpu" else 40.0
        shape = setup.shape
        self.spec = GenerationSpec(
            prompt=PROMPT,
            model="wan",
            width=shape.width,
            height=shape.height,
            seconds=5,  # 120 output frames at 24 fps: 81 native frames at 16 fps (21 at 4)
            seed=SEED,
        )
        plan = make_plan(self.spec, self.config(1), geometry(Family.WAN, pipe), None)
        # The engine must ask the model for exactly the stock call's clip.
        assert (plan.width, plan.height, plan.frames) == (shape.width, shape.height, shape.frames)
        self.prompt = plan.prompt

    def config(self, steps: int, **speed: Any) -> DiffusersConfig:
        shape = self.setup.shape
        return DiffusersConfig(
            family="wan",
            path=Path("/random-weights"),
            device=shape.device,
            dtype="bfloat16" if shape.dtype == torch.bfloat16 else "float32",
            steps=steps,
            guidance=5.0,
            width=shape.width,
            height=shape.height,
            fps=shape.fps,
            call={"max_sequence_length": shape.text_tokens},
            **speed,
        )

    def left(self) -> float:
        return self.setup.budget - (time.perf_counter() - self.started)

    def estimate(self, steps: int, compiles: bool = False) -> float:
        return steps * self.step_seconds + self.fixed_seconds + self.compile_seconds * compiles

    def note(self, name: str, **what: Any) -> None:
        """A row that did not run: skipped for time, refused like start-up would, or failed."""
        self.rows.append({"name": name, **what})
        print(f"  {name:<24} {next(iter(what))}: {next(iter(what.values()))}", flush=True)
        self.save()

    def record(self, name: str, steps: int, run: Run, **extra: Any) -> dict[str, Any]:
        reference = self.reference.get(steps)
        fidelity: Fidelity | None = None
        if run.frames is not None and reference is not None:
            fidelity = compare(reference, uint8(run.frames))
        row: dict[str, Any] = {
            "name": name,
            "steps": steps,
            "seconds_per_clip": round(run.seconds, 3),
            "steps_per_second": _round(run.steps_per_second, 4),
            "peak_gib": round(run.peak_gib, 2),
            **(fidelity.to_json() if fidelity else {"psnr_db": None, "max_abs_diff": None}),
            "identical": fidelity is not None and math.isinf(fidelity.psnr_db),
            **extra,
        }
        stock = self.stock.get(steps)
        if stock is not None and name != "stock":
            row["speedup_vs_stock"] = round(stock.seconds / run.seconds, 3)
        peak = self.setup.peak
        if run.steps_per_second and peak:
            row["mfu"] = round(transformer_flops(self.setup.shape) * run.steps_per_second / peak, 4)
        self.rows.append(row)
        _print_row(row)
        self.save()
        return row

    def save(self) -> None:
        """Rewritten after every row: a run stopped at its time limit keeps what it measured."""
        result = {
            **self.header,
            "rows": self.rows,
            "best_settings": self.best,
            "targets": _targets(self.rows),
            "seconds": round(time.perf_counter() - self.started, 1),
        }
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(result, indent=2, default=str))

    def stock_row(self, steps: int) -> Run:
        shape = self.setup.shape
        run = measure(
            shape.device,
            lambda clock: stock_call(self.pipe, shape, self.prompt, steps, SEED, clock),
        )
        self.stock[steps] = run
        self.reference[steps] = uint8(run.frames or [])
        self.record("stock", steps, run)
        return run

    def engine_row(self, name: str, steps: tuple[int, ...], **speed: Any) -> dict[str, Any] | None:
        """The settings through DiffusersEngine.render at the first of `steps` that fits the
        budget; None when none does, or when start-up would refuse them here."""
        config = self.config(steps[0], **speed)
        try:
            check_speed_settings(config)
        except ValueError as refused:
            self.note(name, refused=str(refused))
            return None
        fitting = [n for n in steps if self.estimate(n, config.compile) <= self.left()]
        if not fitting:
            need = self.estimate(steps[-1], config.compile)
            self.note(name, skipped=f"needs ~{need:.0f} s, {self.left():.0f} s left")
            return None
        try:
            row = self._engine_row(name, fitting[0], speed)
        except Exception as exc:  # a kernel the card lacks, memory: the run goes on
            self.note(name, failed=f"{type(exc).__name__}: {exc}")
            return None
        finally:
            _free(self.setup.shape.device)
        return row

    def _engine_row(self, name: str, steps: int, speed: dict[str, Any]) -> dict[str, Any]:
        config = self.config(steps, **speed)
        if config.compile:
            torch._dynamo.reset()  # each compiled row compiles afresh, and is timed alone
        loaded = prepare(config, fresh_copy(self.pipe))
        engine = DiffusersEngine(config, Pipelines(loaded, None))  # compiles, with compile
        if engine.compile_seconds is not None:
            self.compile_seconds = engine.compile_seconds
        plan = make_plan(self.spec, config, loaded.geometry, None)
        run = measure(
            self.setup.shape.device,
            lambda clock: engine.render(loaded, plan, SEED, clock),
        )
        extra: dict[str, Any] = {"settings": config.speed_settings()}
        if engine.compile_seconds is not None:
            extra["compile_seconds"] = round(engine.compile_seconds, 2)
        return self.record(name, steps, run, **extra)

    def worker_row(self, steps: int) -> None:
        need = self.estimate(steps) + 10  # and the encode, which a GPU does not speed up
        if need > self.left():
            self.note("worker", skipped=f"needs ~{need:.0f} s, {self.left():.0f} s left")
            return
        config = self.config(steps)
        engine = DiffusersEngine(config, Pipelines(prepare(config, self.pipe), None))
        try:
            result = worker_run(engine, self.spec)
        except Exception as exc:  # the worker's internals move with the tree's refactors
            self.note("worker", failed=f"{type(exc).__name__}: {exc}")
            return
        stock_short, stock_full = self.stock[steps], self.stock[self.setup.full_steps]
        extra = result.seconds - stock_short.seconds
        self.record(
            "worker",
            steps,
            Run(result.seconds),
            status=result.status,
            failure=result.failure,
            stage_seconds=result.timings,
            overhead_seconds=round(extra, 3),
            overhead_vs_stock_full_pct=round(100 * extra / stock_full.seconds, 2),
        )
        print(
            f"  worker overhead: {extra:+.2f} s over the {steps}-step stock call, "
            f"{100 * extra / stock_full.seconds:+.2f} % of the {self.setup.full_steps}-step "
            f"stock clip; stages {result.timings}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny Wan on the CPU: every code path")
    parser.add_argument("--steps", type=int, help="full runs' steps (50; --tiny 8)")
    parser.add_argument("--short-steps", type=int, help="per-setting runs' steps (8; --tiny 4)")
    parser.add_argument("--budget", type=float, help="seconds for the whole run (500)")
    parser.add_argument("--no-compile", action="store_true", help="leave compile out of best")
    parser.add_argument("--only", help="comma-separated: worker,attention,cache,best,compile,...")
    parser.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak")
    parser.add_argument("--out", type=Path, help="where the JSON goes")
    args = parser.parse_args()
    if args.tiny:
        # 4 fps: a 5-second clip of 21 frames, the compile warm-up's shape, decoded in a blink
        shape = Shape("cpu", torch.float32, 32, 32, 21, 4, 32)
        steps, short = args.steps or 8, args.short_steps or 4
        setup = Setup(shape, steps, short, CPU_BACKENDS, True, args.budget or 1e9, None)
    else:
        shape = Shape("cuda", torch.bfloat16, 832, 480, 81, 16, 512)
        steps, short = args.steps or 50, args.short_steps or 8
        budget = args.budget or 500
        peak = peak_flops(args.peak_tflops)
        setup = Setup(shape, steps, short, GPU_BACKENDS, not args.no_compile, budget, peak)
    only = set(args.only.split(",")) if args.only else None
    card = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    header = {
        "device": card,
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "shape": f"{shape.width}x{shape.height}, {shape.frames} frames, {shape.dtype}",
        "steps": {"full": setup.full_steps, "short": setup.short_steps},
        "budget_seconds": setup.budget,
        "tiny": args.tiny,
    }
    print(json.dumps(header), flush=True)

    bench = Bench(setup, build_wan(shape, args.tiny), header, args.out or _default_out())
    print("warm-up: stock, 2 steps, no decode (kernel choice, allocator)", flush=True)
    stock_call(bench.pipe, shape, bench.prompt, 2, SEED, None, decode=False)
    full, short = setup.full_steps, setup.short_steps
    stock_full = bench.stock_row(full)
    bench.stock_row(short)
    rate = stock_full.steps_per_second or full / stock_full.seconds
    bench.step_seconds = 1 / rate
    bench.fixed_seconds = max(0.0, stock_full.seconds - full / rate)

    def wanted(row: str) -> bool:
        return only is None or row in only

    if wanted("worker"):
        bench.worker_row(short)
    attention = []
    if wanted("attention"):
        for backend in setup.backends:
            row = bench.engine_row(f"attention={backend}", (short,), attention=backend)
            if row:
                attention.append((backend, row))
    caches = []
    if wanted("cache"):
        for cache, keys in (("first_block", {"cache_threshold": 0.05}), ("taylorseer", {})):
            row = bench.engine_row(cache, (short,), cache=cache, **keys)
            if row:
                caches.append((cache, keys, row))
    if wanted("best"):
        bench.best = _best(bench, attention, caches)
        bench.engine_row("best", (full, short), **bench.best)
    if wanted("compile"):
        bench.engine_row("compile", (short,), compile=True)
    if wanted("vae_tiling"):
        bench.engine_row("vae_tiling", (short,), vae_tiling=True)
    if wanted("engine"):
        bench.engine_row("engine", (short,))
    bench.save()
    _summary(bench)
    print(f"written: {bench.out} ({time.perf_counter() - bench.started:.0f} s in all)")


def _best(
    bench: Bench,
    attention: list[tuple[str, dict[str, Any]]],
    caches: list[tuple[str, dict[str, Any], dict[str, Any]]],
) -> dict[str, Any]:
    """Compile, the attention backend with the most steps per second above stock's, and the
    cache with the largest speed-up over stock, each only while its PSNR stays >= 30 dB."""

    def kept(row: dict[str, Any]) -> bool:
        return row["psnr_db"] is None or row["psnr_db"] >= PSNR_FLOOR

    best: dict[str, Any] = {"compile": bench.setup.compile}
    stock_rate = bench.stock[bench.setup.short_steps].steps_per_second or 0.0
    fast = [(r["steps_per_second"] or 0.0, b) for b, r in attention if kept(r)]
    if fast and max(fast)[0] > stock_rate * 1.02:
        best["attention"] = max(fast)[1]
    faster = [(r.get("speedup_vs_stock", 0.0), c, k) for c, k, r in caches if kept(r)]
    if faster and max(faster)[0] > 1.0:
        _, cache, keys = max(faster)
        best.update(cache=cache, **keys)
    print(f"best combination: {best}", flush=True)
    return best


def _targets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue 14's targets: worker overhead <= 2 %, best >= 1.5x stock at PSNR >= 30 dB."""
    measured = {r["name"]: r for r in rows if "seconds_per_clip" in r}
    worker, best = measured.get("worker", {}), measured.get("best", {})
    return {
        "worker_overhead_pct": worker.get("overhead_vs_stock_full_pct"),
        "best_speedup": best.get("speedup_vs_stock"),
        "best_steps": best.get("steps"),
        "best_psnr_db": best.get("psnr_db"),
        "best_identical": best.get("identical"),
    }


def _summary(bench: Bench) -> None:
    targets = _targets(bench.rows)
    psnr = "identical frames" if targets["best_identical"] else f"{targets['best_psnr_db']} dB"
    print(
        f"targets: worker overhead {targets['worker_overhead_pct']} % (<= 2); best "
        f"x{targets['best_speedup']} at {targets['best_steps']} steps (>= 1.5), {psnr} (>= 30)"
    )
    skipped = [r["name"] for r in bench.rows if "skipped" in r]
    if skipped:
        print(f"skipped for time: {', '.join(skipped)}; rerun them with --only and a --budget")


def _print_row(row: dict[str, Any]) -> None:
    def show(key: str, fmt: str, scale: int = 1) -> str:
        value = row.get(key)
        return format(value * scale, fmt) if isinstance(value, (int, float)) else "-"

    psnr = "inf" if row.get("identical") else show("psnr_db", ".1f")
    print(
        f"  {row['name']:<24} {row['steps']:>3} steps {show('seconds_per_clip', '8.2f')} s/clip "
        f"{show('steps_per_second', '7.3f')} steps/s x{show('speedup_vs_stock', '.2f')} "
        f"MFU {show('mfu', '.1f', 100)} % peak {show('peak_gib', '.1f')} GiB "
        f"PSNR {psnr} dB max|d| {show('max_abs_diff', 'd')}"
        + (f" compile {row['compile_seconds']:.1f} s" if "compile_seconds" in row else ""),
        flush=True,
    )


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _free(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def _default_out() -> Path:
    if os.environ.get("OUT"):
        return Path(os.environ["OUT"]) / "gpu_diffusers.json"
    return ROOT / "bench" / "results" / "gpu_diffusers.json"


if __name__ == "__main__":
    main()
