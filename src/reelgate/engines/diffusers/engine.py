"""The `diffusers` engine: one resident pipeline per registry entry, driven step by step.

A worker builds the engine on its first task for one of the entry's model names, which loads
the weights once; every later task of the process reuses them.

Progress, as a share of the engine's work: the denoising steps take it to 80 %, one report per
step from the pipeline's step callback; the VAE decode to 88 %, one report each time its
decoder runs (once per latent frame or chunk, seen through a forward hook); fitting the frames
to the contract to 95 %, one report per frame, while the worker encodes each frame as it
arrives. Every report may raise TaskInterrupted: inside the callback or the hook it unwinds
the pipeline between two steps, after which the engine drops the run's tensors and empties the
device cache before re-raising, so the memory is free when the worker records the cancel.

Metrics: each pipeline run reports its denoising steps and the seconds they took to the
worker's metrics (observability/meter.py), a cancelled run the steps it got through.

Seeds: a CPU `torch.Generator` seeded with the task's seed draws the starting noise, so the
same request gives the same frames on the same hardware and software.

Cold and warm: building the engine loads the weights (`load_seconds`) and, with `compile` on,
runs a short warm-up that compiles the transformer (`compile_seconds`), so the first task pays
neither and the worker can report them apart from the task's own time. The warm-up renders two
steps of a 5-second clip at the native size; a request of another size or length makes torch
compile once more, a graph for any size, and never again.

A step cache keeps state between steps that diffusers clears only when a call ends normally;
after a cancel or a failure the engine clears it, so the next task starts from a clean cache.

Concurrency: one pipeline call at a time per engine. Workers of one process share the engine
(and its weights) and queue for the device, still answering a cancel while they wait; fitting
and encoding frames runs outside the lock, beside the next task's denoising.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import torch
from PIL import Image

from reelgate.core.tasks import FPS, GenerationSpec
from reelgate.engines.base import EngineContext, Frame, Reference
from reelgate.engines.diffusers.config import DiffusersConfig
from reelgate.engines.diffusers.frames import Fitter, fit_reference
from reelgate.engines.diffusers.pipelines import (
    Loaded,
    Pipelines,
    call_arguments,
    load,
    release_memory,
    synchronize,
)
from reelgate.engines.diffusers.plan import Plan, frame_positions, generation_size, make_plan
from reelgate.errors import TaskInterrupted
from reelgate.observability import meter

log = logging.getLogger(__name__)

STEPS_SHARE = 0.80
DECODE_SHARE = 0.88
FRAMES_SHARE = 0.95
LOCK_POLL_SECONDS = 0.5  # a task waiting for the device checks for a cancel this often
WARM_UP_STEPS = 2  # enough to compile every graph a denoising step runs
WARM_UP_SECONDS = 5  # the warm-up clip's length: the contract's shortest common duration


class DiffusersEngine:
    """The `diffusers` engine for one registry entry (Wan, LTX-Video or CogVideoX)."""

    name = "diffusers"

    def __init__(self, config: DiffusersConfig, pipelines: Pipelines | None = None) -> None:
        """Load the entry's weights, or serve `pipelines` already built (benchmarks do), then
        with `compile` on compile the transformer by a warm-up run."""
        self.config = config
        self.load_seconds: float | None = None  # None: the pipelines came built
        self.compile_seconds: float | None = None  # None: compile is off
        if pipelines is None:
            started = time.perf_counter()
            pipelines = load(config)
            synchronize(config.device)
            self.load_seconds = time.perf_counter() - started
        self.pipelines = pipelines
        self._lock = threading.Lock()
        if config.compile:
            self.compile_seconds = self.warm_up()
        log.info(
            "model %s (%s) ready on %s: load %s, compile warm-up %s",
            config.path,
            config.family.value,
            config.device,
            _seconds(self.load_seconds),
            _seconds(self.compile_seconds),
        )

    def warm_up(self) -> float:
        """Run each pipeline for a few steps of a typical clip at the native size, without the
        decode; returns the seconds it took (for a compiled transformer, mostly compiling)."""
        config = self.config
        started = time.perf_counter()
        for loaded, image in ((self.pipelines.text, False), (self.pipelines.image, True)):
            if loaded is None:
                continue
            geometry = loaded.geometry
            width, height = generation_size(
                config.width / config.height, config.width * config.height, geometry.multiple
            )
            frames, _ = frame_positions(
                WARM_UP_SECONDS * FPS,
                config.fps,
                geometry.temporal,
                config.min_frames,
                config.max_frames,
            )
            arguments: dict[str, Any] = {
                "prompt": "warm-up",
                "negative_prompt": config.negative_prompt or None,
                "height": height,
                "width": width,
                "num_frames": frames,
                "num_inference_steps": WARM_UP_STEPS,
                "guidance_scale": float(config.guidance),
                "generator": torch.Generator("cpu").manual_seed(0),
                "output_type": "latent",
                **call_arguments(config),
            }
            if image:
                arguments["image"] = Image.new("RGB", (width, height), (128, 128, 128))
            loaded.pipe(**arguments)
        synchronize(config.device)
        return time.perf_counter() - started

    def generate(self, spec: GenerationSpec, ctx: EngineContext) -> Iterator[Frame]:
        """Yield the clip's `spec.frames` frames; the model runs on the first `next()`."""
        if spec.frames <= 0:
            return
        reference = ctx.reference
        loaded = self._pipeline(reference)
        position = None if reference is None else reference.position
        plan = make_plan(spec, self.config, loaded.geometry, position)
        native = self.render(loaded, plan, spec.seed, ctx, reference)
        fitter = Fitter(plan, native, self.config.retime)
        total = len(fitter)
        for index in range(total):
            ctx.report(DECODE_SHARE + (FRAMES_SHARE - DECODE_SHARE) * index / total)
            yield fitter.frame(index)

    def render(
        self,
        loaded: Loaded,
        plan: Plan,
        seed: int,
        ctx: EngineContext,
        reference: Reference | None = None,
    ) -> list[Frame]:
        """Run the pipeline for `plan`: its native frames as `(height, width, 3)` uint8 arrays."""
        steps = _Steps()
        arguments = self._arguments(loaded, plan, seed, ctx, reference, steps)
        while not self._lock.acquire(timeout=LOCK_POLL_SECONDS):
            ctx.report(0.0)  # answers a cancel that comes while another task holds the device
        stopped: TaskInterrupted | None = None
        try:
            ctx.report(0.0)
            hook = loaded.pipe.vae.decoder.register_forward_hook(_DecodeProgress(ctx))
            try:
                steps.started = time.perf_counter()
                output = loaded.pipe(**arguments)
                frames = _native_frames(output.frames)
                del output
            except TaskInterrupted as exc:
                # A fresh exception: the caught one's traceback holds the run's tensors.
                stopped = TaskInterrupted(exc.reason)
                loaded.pipe.maybe_free_model_hooks()  # clears a step cache's state
            except BaseException:
                loaded.pipe.maybe_free_model_hooks()
                release_memory(self.config.device)
                raise
            finally:
                hook.remove()
                meter.denoised(steps.count, steps.seconds)
            arguments.clear()
            if stopped is not None:
                gc.collect()
                release_memory(self.config.device)
        finally:
            self._lock.release()
        if stopped is not None:
            raise stopped
        return frames

    def _pipeline(self, reference: Reference | None) -> Loaded:
        pipelines = self.pipelines
        if reference is None:
            if pipelines.text is None:
                raise ValueError(
                    f"{self.config.path} holds an image-to-video model: it needs an input image"
                )
            return pipelines.text
        if pipelines.image is None:
            raise ValueError(
                f"{self.config.path} holds a text-to-video model that cannot start from an "
                "image; set image_path in its registry entry to image-to-video weights"
            )
        return pipelines.image

    def _arguments(
        self,
        loaded: Loaded,
        plan: Plan,
        seed: int,
        ctx: EngineContext,
        reference: Reference | None,
        done: _Steps,
    ) -> dict[str, Any]:
        config = self.config
        steps = config.steps

        def on_step(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            done.step()
            total = getattr(pipe, "num_timesteps", None) or steps
            ctx.report(STEPS_SHARE * min(1.0, (step + 1) / total))
            return {}

        arguments: dict[str, Any] = {
            "prompt": plan.prompt,
            "negative_prompt": config.negative_prompt or None,
            "height": plan.height,
            "width": plan.width,
            "num_frames": plan.frames,
            "num_inference_steps": steps,
            "guidance_scale": float(config.guidance),
            "generator": torch.Generator("cpu").manual_seed(seed),
            "output_type": "pt",
            "callback_on_step_end": on_step,
            **call_arguments(config),
        }
        if reference is not None:
            arguments["image"] = Image.fromarray(fit_reference(reference.frame, plan))
        return arguments


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


class _Steps:
    """The denoising steps of one pipeline run, counted by the step callback: how many, and the
    seconds from the call to the end of the last one (the decode after them is not denoising)."""

    __slots__ = ("count", "last", "started")

    def __init__(self) -> None:
        self.count = 0
        self.started = self.last = 0.0

    def step(self) -> None:
        self.count += 1
        self.last = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.last - self.started if self.count else 0.0


class _DecodeProgress:
    """A forward hook on the VAE's decoder: progress through the decode, and a cancel point.

    The number of decoder runs depends on the VAE (per latent frame, per chunk, per tile), so
    the share creeps towards the end: 1/2, 2/3, 3/4, ... of the decode's part.
    """

    def __init__(self, ctx: EngineContext) -> None:
        self._ctx = ctx
        self._runs = 0

    def __call__(self, module: Any, inputs: Any, output: Any) -> None:
        self._runs += 1
        done = self._runs / (self._runs + 1)
        self._ctx.report(STEPS_SHARE + (DECODE_SHARE - STEPS_SHARE) * done)


def _native_frames(video: Any) -> list[Frame]:
    """The pipeline's `output_type="pt"` video, `(1, frames, 3, h, w)` in [0, 1], as uint8
    RGB frames (converted on the device, so only bytes cross to the host)."""
    pixels = video[0].mul(255.0).round_().clamp_(0, 255).to(torch.uint8)
    array = pixels.permute(0, 2, 3, 1).contiguous().cpu().numpy()
    return list(array)
