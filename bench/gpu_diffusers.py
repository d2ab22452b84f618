"""Seconds per clip of Wan2.1-T2V-1.3B on one GPU: the stock diffusers call, the same request
through a reelgate worker, and reelgate's optimised settings.

    .venv/bin/python bench/gpu_diffusers.py             # full size, for the GPU machine (~8 min)
    .venv/bin/python bench/gpu_diffusers.py --tiny      # seconds-long smoke check on a CPU

Full size is the real Wan2.1-T2V-1.3B transformer and VAE (832x480, 81 frames, 50 steps, CFG
5.0) with random weights, which time like trained ones. The text encoder is UMT5 at the real
width (4096) with one layer, so prompts cost milliseconds in every variant. Measured, each after
a short warm-up at 2 steps:
  (a) stock    D.WanPipeline(...)(prompt, ...) straight from diffusers
  (b) worker   the same request through reelgate's Worker: claim, DiffusersEngine (progress per
               step, cancel checks, retime 16 -> 24 fps, resize to 1280x720, camera warp), H.264
               encode and publish; beside it the engine alone (b, engine)
  (c) tuned    the engine with reelgate's speed settings: regional torch.compile, an attention
               backend (--attention) and the first-block cache (--cache-threshold); (c, batch 2)
               is two compatible requests in one pipeline call, per clip
Printed: seconds per clip, against (a); an MFU estimate (analytic transformer FLOPs over time and
the card's dense bf16 peak); peak GPU memory. With random weights the cache skips steps at a
rate that trained weights need not match: read (c) as the settings' mechanics, confirm on real
weights.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import diffusers  # noqa: E402
import transformers  # noqa: E402
from tests.integration.diffusers.tiny import build_tiny, tokenizer  # noqa: E402

from reelgate.blobs.local import LocalBlobStore  # noqa: E402
from reelgate.core.tasks import Action, Dialect, GenerationSpec, MotionVector, NewTask  # noqa: E402
from reelgate.engines.base import Reference  # noqa: E402
from reelgate.engines.diffusers.config import DiffusersConfig  # noqa: E402
from reelgate.engines.diffusers.engine import DiffusersEngine  # noqa: E402
from reelgate.engines.diffusers.pipelines import Loaded, Pipelines, geometry, prepare  # noqa: E402
from reelgate.engines.registry import ModelRegistry  # noqa: E402
from reelgate.store import db  # noqa: E402
from reelgate.store.store import Store  # noqa: E402
from reelgate.worker.runner import Worker, WorkerConfig  # noqa: E402

D: Any = diffusers  # untyped constructors: built through `Any`
T: Any = transformers
PROMPT = "a red fox trotting through a snowy forest at dawn, cinematic"
HEADS, HEAD_DIM, FFN_DIM, LAYERS = 12, 128, 8960, 30  # Wan2.1-T2V-1.3B's transformer
WAN_1_3B: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": HEADS,
    "attention_head_dim": HEAD_DIM,
    "in_channels": 16,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": FFN_DIM,
    "num_layers": LAYERS,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
}
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "4090": 165e12}


@dataclass(frozen=True)
class Setup:
    device: str
    dtype: torch.dtype
    width: int
    height: int
    frames: int  # native frames at 16 fps
    steps: int
    text_tokens: int


class _Ctx:
    reference: Reference | None = None

    def report(self, fraction: float) -> None:
        del fraction


def build_pipeline(setup: Setup, tiny: bool) -> Any:
    """Wan2.1-T2V-1.3B with random weights (or the tests' tiny Wan), on the device."""
    if tiny:
        pipe = build_tiny("wan", layers=2).to(setup.device)
        pipe.set_progress_bar_config(disable=True)
        return pipe
    with torch.device(setup.device):
        transformer = D.WanTransformer3DModel(**WAN_1_3B)
        vae = D.AutoencoderKLWan()
        encoder = T.UMT5EncoderModel(
            T.UMT5Config(
                vocab_size=256, d_model=4096, d_kv=64, d_ff=10240, num_layers=1, num_heads=64
            )
        )
    scheduler = D.UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
    )
    pipe = D.WanPipeline(
        tokenizer=tokenizer(),
        text_encoder=encoder.to(setup.dtype),
        vae=vae.to(torch.float32),
        scheduler=scheduler,
        transformer=transformer.to(setup.dtype),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def config_for(setup: Setup, **speed: Any) -> DiffusersConfig:
    return DiffusersConfig(
        family="wan",
        path=Path("/random-weights"),
        device=setup.device,
        dtype="bfloat16" if setup.dtype == torch.bfloat16 else "float32",
        steps=setup.steps,
        guidance=5.0,
        width=setup.width,
        height=setup.height,
        fps=16,
        call={"max_sequence_length": setup.text_tokens},
        **speed,
    )


def spec_for(setup: Setup, model: str = "wan") -> GenerationSpec:
    seconds = max(1, round((setup.frames - 1) / 16))  # 81 frames at 16 fps: a 5 s clip
    return GenerationSpec(
        prompt=PROMPT,
        model=model,
        width=1280,
        height=720,
        seconds=seconds,
        seed=7,
        motion=MotionVector(y=0.4, r=-6),
    )


def timed(label: str, run: Callable[[], object], device: str) -> tuple[float, float]:
    """Seconds for one `run()`, and peak device memory in GiB during it."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    run()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0.0
    print(f"  {label:<18} {seconds:8.2f} s   peak {peak:6.2f} GiB", flush=True)
    return seconds, peak


def stock(pipe: Any, setup: Setup, steps: int, batch: int = 1) -> None:
    pipe(
        prompt=[PROMPT] * batch,
        height=setup.height,
        width=setup.width,
        num_frames=setup.frames,
        num_inference_steps=steps,
        guidance_scale=5.0,
        generator=[torch.Generator("cpu").manual_seed(7 + i) for i in range(batch)],
        output_type="pt",
        max_sequence_length=setup.text_tokens,
    )


def through_worker(engine: DiffusersEngine, setup: Setup, workdir: Path) -> None:
    """One task from the queue to a published MP4, as `reelgate serve` runs it."""
    store = Store.open(f"sqlite:///{workdir / 'bench.db'}")
    db.upgrade(store.engine)
    store.tasks.create(
        NewTask(
            id=str(uuid.uuid4()),
            owner_id="bench",
            dialect=Dialect.NATIVE,
            action=Action.TEXT_TO_VIDEO,
            spec=spec_for(setup),
            callback_url=None,
            runway_version="2024-11-06",
            created_at=time.time(),
        )
    )
    worker = Worker(
        "bench",
        store.tasks,
        LocalBlobStore(workdir / "blobs"),
        ModelRegistry({"wan": lambda: engine}),
        WorkerConfig(lease_seconds=600, heartbeat_seconds=5, poll_seconds=1, work_dir=workdir),
        wake=threading.Event(),
        abort=threading.Event(),
    )
    assert worker.run_once(), "the worker found no task"
    [task] = store.tasks.list_for_owner("bench", after=None, limit=1, newest_first=True)
    assert task.status.value == "succeeded", task.failure
    store.close()


def transformer_flops(setup: Setup, steps: int) -> float:
    """Matmul FLOPs of the transformer for one clip (both CFG branches), from its shapes."""
    d = HEADS * HEAD_DIM
    tokens = ((setup.frames - 1) // 4 + 1) * (setup.height // 16) * (setup.width // 16)
    text = setup.text_tokens
    per_layer = (
        8 * d * d * tokens  # self-attention q, k, v, o
        + 4 * d * d * tokens
        + 4 * d * d * text  # cross-attention q, o and k, v
        + 4 * d * FFN_DIM * tokens  # feed-forward
        + 4 * tokens * tokens * d  # self-attention scores and values
        + 4 * tokens * text * d  # cross-attention scores and values
    )
    return float(per_layer * LAYERS * 2 * steps)


def peak_flops(override: float | None) -> float | None:
    if override:
        return override * 1e12
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny Wan on the CPU: a smoke check")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--attention", default="_native_cudnn", help="diffusers backend for (c)")
    parser.add_argument("--cache-threshold", type=float, default=0.05)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument(
        "--engine-alone", action="store_true", help="also time (b) without a worker"
    )
    parser.add_argument("--peak-tflops", type=float, help="the card's dense bf16 peak, if unknown")
    args = parser.parse_args()
    if args.tiny:
        setup = Setup("cpu", torch.float32, 32, 32, 9, min(args.steps, 4), 32)
        attention, compiled = "", False
    else:
        setup = Setup("cuda", torch.bfloat16, 832, 480, 81, args.steps, 512)
        attention, compiled = args.attention, not args.no_compile
    card = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    print(f"device: {card}; torch {torch.__version__}; {setup}", flush=True)

    pipe = build_pipeline(setup, args.tiny)
    plain = DiffusersEngine(
        config_for(setup), Pipelines(Loaded(pipe, geometry(config_for(setup).family, pipe)), None)
    )
    results: dict[str, tuple[float, float]] = {}
    print("warm-up (2 steps)", flush=True)
    timed("stock", lambda: stock(pipe, setup, 2), setup.device)
    print(f"measured ({setup.steps} steps)", flush=True)
    results["(a) stock"] = timed("(a) stock", lambda: stock(pipe, setup, setup.steps), setup.device)
    if args.engine_alone or args.tiny:
        results["(b) engine"] = timed(
            "(b) engine", lambda: list(plain.generate(spec_for(setup), _Ctx())), setup.device
        )
    with tempfile.TemporaryDirectory() as tmp:
        results["(b) worker"] = timed(
            "(b) worker", lambda: through_worker(plain, setup, Path(tmp)), setup.device
        )

    tuned_config = config_for(
        setup,
        compile=compiled,
        attention=attention,
        cache="first_block",
        cache_threshold=args.cache_threshold,
    )
    tuned = DiffusersEngine(tuned_config, Pipelines(prepare(tuned_config, pipe), None))
    print("warm-up of the tuned settings (compiles)", flush=True)
    timed("tuned warm-up", lambda: stock(pipe, setup, 2), setup.device)
    results["(c) tuned"] = timed(
        "(c) tuned", lambda: list(tuned.generate(spec_for(setup), _Ctx())), setup.device
    )
    timed("batch 2 warm-up", lambda: stock(pipe, setup, 2, 2), setup.device)
    seconds, peak = timed("(c) batch 2", lambda: stock(pipe, setup, setup.steps, 2), setup.device)
    results["(c) batch 2, per clip"] = (seconds / 2, peak)

    base = results["(a) stock"][0]
    flops = transformer_flops(setup, setup.steps) if not args.tiny else None
    peak_rate = peak_flops(args.peak_tflops)
    print(
        f"\nsummary on {card} ({setup.steps} steps, {setup.width}x{setup.height}, "
        f"{setup.frames} frames):"
    )
    for label, (secs, memory) in results.items():
        mfu = f"{flops / secs / peak_rate:6.1%}" if flops and peak_rate else "   n/a"
        print(
            f"  {label:<22} {secs:8.2f} s/clip  x{base / secs:5.2f} vs (a)  "
            f"MFU {mfu}  peak {memory:6.2f} GiB"
        )
    for label in ("(b) worker", "(b) engine"):
        if label in results:
            print(f"  {label} overhead against (a): {results[label][0] / base - 1:+.1%}")


if __name__ == "__main__":
    main()
