"""What bench/gpu_diffusers.py measures with: Wan2.1-T2V-1.3B at full size with random weights,
one measured run (seconds, denoising steps per second, peak memory, frames), its FLOPs, and the
one function that sends a task through reelgate's worker.

Every module is put in eval mode: modules built from a config start in training mode, where the
text encoder's dropout would make two calls with the same seed differ and every PSNR a lie.
"""

from __future__ import annotations

import copy
import inspect
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import diffusers
import numpy as np
import torch
import transformers
from tests.integration.diffusers.tiny import build_tiny, tokenizer

from reelgate.core.tasks import GenerationSpec
from reelgate.engines.base import Frame, Reference
from reelgate.engines.diffusers.engine import DiffusersEngine

D: Any = diffusers  # untyped constructors: built through `Any`
T: Any = transformers

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
# Dense bf16 tensor-core peaks, FLOP/s (the H200 has the H100 SXM's compute).
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "4090": 165e12}


@dataclass(frozen=True)
class Shape:
    """One clip as the model renders it."""

    device: str
    dtype: torch.dtype
    width: int
    height: int
    frames: int  # native frames: a 5-second clip at `fps`
    fps: int  # the native frame rate
    text_tokens: int


def build_wan(shape: Shape, tiny: bool) -> Any:
    """Wan2.1-T2V-1.3B with random weights (the tests' two-block tiny Wan with `tiny`) on the
    device. The text encoder is UMT5 at the real width (4096) with one layer: prompts cost
    milliseconds in every configuration, and cross-attention reads the real 512 tokens."""
    if tiny:
        pipe = build_tiny("wan", layers=2).to(shape.device)
    else:
        torch.manual_seed(0)
        with torch.device(shape.device):
            transformer = D.WanTransformer3DModel(**WAN_1_3B)
            vae = D.AutoencoderKLWan()
            encoder = T.UMT5EncoderModel(
                T.UMT5Config(
                    vocab_size=256,
                    d_model=4096,
                    d_kv=64,
                    d_ff=10240,
                    num_layers=1,
                    num_heads=64,
                    dropout_rate=0.0,
                )
            )
        scheduler = D.UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        )
        pipe = D.WanPipeline(
            tokenizer=tokenizer(),
            text_encoder=encoder.to(shape.dtype),
            vae=vae.to(torch.float32),
            scheduler=scheduler,
            transformer=transformer.to(shape.dtype),
        )
    for module in pipe.components.values():
        if isinstance(module, torch.nn.Module):
            module.eval()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def fresh_copy(pipe: Any) -> Any:
    """The pipeline with its own transformer, VAE and scheduler (the settings hook, compile or
    tile them), sharing the text encoder and the tokenizer."""
    accepted = inspect.signature(type(pipe).__init__).parameters
    parts = {k: v for k, v in pipe.components.items() if k in accepted}
    for name in ("transformer", "vae", "scheduler"):
        parts[name] = copy.deepcopy(parts[name])
    # Settings such as Wan's expand_timesteps live in the config, not among the components.
    parts.update({k: v for k, v in pipe.config.items() if k in accepted and k not in parts})
    twin = type(pipe)(**parts)
    twin.set_progress_bar_config(disable=True)
    return twin


def transformer_flops(shape: Shape) -> float:
    """Matmul FLOPs of one denoising step of Wan2.1-T2V-1.3B (both guidance branches)."""
    d = HEADS * HEAD_DIM
    tokens = ((shape.frames - 1) // 4 + 1) * (shape.height // 16) * (shape.width // 16)
    text = shape.text_tokens
    per_layer = (
        8 * d * d * tokens  # self-attention q, k, v, o
        + 4 * d * d * tokens  # cross-attention q, o
        + 4 * d * d * text  # cross-attention k, v
        + 4 * d * FFN_DIM * tokens  # feed-forward
        + 4 * tokens * tokens * d  # self-attention scores and values
        + 4 * tokens * text * d  # cross-attention scores and values
    )
    return float(per_layer * LAYERS * 2)


def peak_flops(override_tflops: float | None) -> float | None:
    if override_tflops:
        return override_tflops * 1e12
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@dataclass
class Run:
    """One measured clip."""

    seconds: float
    step_times: list[float] = field(default_factory=list)  # device-synchronised, per step end
    peak_gib: float = 0.0
    frames: list[Frame] | None = None

    @property
    def steps_per_second(self) -> float | None:
        """Steps after the first, over the time between the first and the last step's end:
        the denoising rate without the prompt encoding and the decode."""
        if len(self.step_times) < 2:
            return None
        return (len(self.step_times) - 1) / (self.step_times[-1] - self.step_times[0])


class StepClock:
    """A step callback and an EngineContext that note when each denoising step ends."""

    reference: Reference | None = None

    def __init__(self, device: str) -> None:
        self.device = device
        self.times: list[float] = []
        self._last = 0.0

    def on_step(
        self, pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]
    ) -> dict[str, Any]:
        sync(self.device)
        self.times.append(time.perf_counter())
        return {}

    def report(self, fraction: float) -> None:
        """The engine reports once per step (up to 0.8), then through the decode."""
        if fraction > self._last and fraction <= 0.8 + 1e-9:
            sync(self.device)
            self.times.append(time.perf_counter())
        self._last = fraction


def measure(device: str, run: Callable[[StepClock], list[Frame] | None]) -> Run:
    """Seconds, step ends and peak device memory of one `run(clock)`."""
    clock = StepClock(device)
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    sync(device)
    started = time.perf_counter()
    frames = run(clock)
    sync(device)
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0.0
    return Run(seconds, clock.times, peak, frames)


def stock_call(
    pipe: Any,
    shape: Shape,
    prompt: str,
    steps: int,
    seed: int,
    clock: StepClock | None,
    *,
    decode: bool = True,
) -> list[Frame] | None:
    """The plain diffusers call, as a script would write it; uint8 frames as the engine makes
    them (the same rounding), for the PSNR comparisons. `decode=False` stops at the latents."""
    output = pipe(
        prompt=prompt,
        height=shape.height,
        width=shape.width,
        num_frames=shape.frames,
        num_inference_steps=steps,
        guidance_scale=5.0,
        generator=torch.Generator("cpu").manual_seed(seed),
        output_type="pt" if decode else "latent",
        max_sequence_length=shape.text_tokens,
        callback_on_step_end=clock.on_step if clock else None,
    )
    if not decode:
        return None
    pixels = output.frames[0].mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
    return list(pixels.permute(0, 2, 3, 1).contiguous().cpu().numpy())


def uint8(frames: list[Frame]) -> np.ndarray:
    return np.stack(frames)


@dataclass
class WorkerRun:
    seconds: float
    status: str
    timings: dict[str, float] | None
    failure: str | None


def through_worker(engine: DiffusersEngine, spec: GenerationSpec, workdir: Path) -> WorkerRun:
    """One task from the queue to a published MP4, as `reelgate serve` runs it: the default
    SQLite store, a local blob store and one Worker whose registry serves `engine`.

    The reelgate internals used here, and only here (they move with the tree's refactors):
      reelgate.store.store.open_store(url) -> Store: .prepare(), .tasks, .close()
      Store.tasks.create(NewTask(id, owner_id, dialect, action, spec, callback_url,
          api_version, created_at)) and Store.tasks.get(task_id, None) -> Task with .status,
          .failure, .timings
      reelgate.core.tasks.NewTask, Action.TEXT_TO_VIDEO
      reelgate.blobs.local.LocalBlobStore(root)
      reelgate.engines.registry.ModelRegistry({model: factory})
      reelgate.worker.runner.Worker(worker_id, tasks, blobs, registry, config, wake=Event,
          abort=Event).run_once() -> bool, and WorkerConfig(lease_seconds, heartbeat_seconds,
          poll_seconds, work_dir)
    """
    from reelgate.blobs.local import LocalBlobStore
    from reelgate.core.tasks import Action, NewTask
    from reelgate.engines.registry import ModelRegistry
    from reelgate.store.store import open_store
    from reelgate.worker.runner import Worker, WorkerConfig

    store = open_store(f"sqlite:///{workdir / 'bench.db'}")
    try:
        store.prepare()
        task_id = str(uuid.uuid4())
        store.tasks.create(
            NewTask(
                id=task_id,
                owner_id="bench",
                dialect="native",
                action=Action.TEXT_TO_VIDEO,
                spec=spec,
                callback_url=None,
                api_version="2024-11-06",
                created_at=time.time(),
            )
        )
        worker = Worker(
            "bench",
            store.tasks,
            LocalBlobStore(workdir / "blobs"),
            ModelRegistry({spec.model: lambda: engine}),
            WorkerConfig(
                lease_seconds=900, heartbeat_seconds=10, poll_seconds=1, work_dir=workdir / "work"
            ),
            wake=threading.Event(),
            abort=threading.Event(),
        )
        started = time.perf_counter()
        claimed = worker.run_once()
        seconds = time.perf_counter() - started
        task = store.tasks.get(task_id, None)
    finally:
        store.close()
    if not claimed or task is None:
        return WorkerRun(seconds, "not claimed", None, None)
    return WorkerRun(seconds, str(task.status), task.timings, task.failure)


def worker_run(engine: DiffusersEngine, spec: GenerationSpec) -> WorkerRun:
    with tempfile.TemporaryDirectory() as tmp:
        return through_worker(engine, spec, Path(tmp))
