"""Which engine serves which public model name.

The entries come from `REELGATE_MODELS_FILE` (engines/models_file.py), or without it every model
name of the contract maps to the synthetic engine. An engine is built once per worker, on first
use, and reused for every task of its models; names whose settings are identical share one
engine, so a worker loads their weights (or opens its upstream connections) once.

Frame engines (synthetic, diffusers) are run by worker threads; job engines (upstream) by the
job runner's event loop (worker/jobs.py). `frame_models` and `job_models` split the names.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import cast

from reelgate.engines.base import Engine, JobEngine
from reelgate.engines.models_file import (
    EngineConfig,
    ModelEntry,
    SyntheticConfig,
    default_entries,
    load_models_file,
)
from reelgate.engines.upstream.config import UpstreamConfig
from reelgate.errors import SettingsError

AnyEngine = Engine | JobEngine
EngineFactory = Callable[[], AnyEngine]


def engine_factories(entries: Iterable[ModelEntry]) -> dict[str, EngineFactory]:
    """Model name -> engine factory; names with identical settings share one factory."""
    shared: dict[str, EngineFactory] = {}
    factories: dict[str, EngineFactory] = {}
    for entry in entries:
        key = entry.config.model_dump_json()
        if key not in shared:
            shared[key] = _factory(entry.config)
        factories[entry.name] = shared[key]
    return factories


def _factory(config: EngineConfig) -> EngineFactory:
    if isinstance(config, SyntheticConfig):

        def synthetic() -> Engine:
            from reelgate.engines.synthetic import SyntheticEngine

            return SyntheticEngine()

        return synthetic

    if isinstance(config, UpstreamConfig):

        def upstream() -> JobEngine:
            from reelgate.engines.upstream.engine import UpstreamEngine

            return UpstreamEngine(config)

        return upstream

    def diffusers() -> Engine:
        from reelgate.engines.diffusers.engine import DiffusersEngine

        return DiffusersEngine(config)

    return diffusers


class ModelRegistry:
    """Model names and the engines behind them; `names` and `knows` are all the API asks."""

    def __init__(self, factories: dict[str, EngineFactory], job_models: Iterable[str] = ()) -> None:
        self._factories = dict(factories)
        self._jobs = frozenset(job_models)
        self._built: dict[EngineFactory, AnyEngine] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_entries(cls, entries: Iterable[ModelEntry]) -> ModelRegistry:
        entries = tuple(entries)
        jobs = [e.name for e in entries if isinstance(e.config, UpstreamConfig)]
        return cls(engine_factories(entries), jobs)

    @classmethod
    def default(cls) -> ModelRegistry:
        return cls.from_entries(default_entries())

    @classmethod
    def from_file(cls, models_file: Path | None) -> ModelRegistry:
        """The registry of a models file, or the default one without it. A bad file raises
        `ModelsFileError` naming the entry and the problem."""
        if models_file is None:
            return cls.default()
        return cls.from_entries(load_models_file(models_file))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._factories)

    @property
    def frame_models(self) -> tuple[str, ...]:
        return tuple(m for m in self._factories if m not in self._jobs)

    @property
    def job_models(self) -> tuple[str, ...]:
        return tuple(m for m in self._factories if m in self._jobs)

    def knows(self, model: str) -> bool:
        return model in self._factories

    def engine(self, model: str) -> Engine:
        """The frame engine for `model`, built on first use (one instance per factory)."""
        return self.load(model)[0]

    def load(self, model: str) -> tuple[Engine, float | None]:
        """The frame engine for `model`, and the seconds it took to build if this call built
        it (the task that waited for it is a cold start), else None."""
        if model in self._jobs:
            raise KeyError(f"model {model!r} is served by a job engine")
        engine, seconds = self._build(model)
        return cast(Engine, engine), seconds

    def job_engine(self, model: str) -> JobEngine:
        """The job engine for `model`, built on first use."""
        if model not in self._jobs:
            raise KeyError(f"model {model!r} is served by a frame engine")
        return cast(JobEngine, self._build(model)[0])

    def build_job_engines(self) -> None:
        """Build every job engine now, so a missing key stops start-up rather than a task."""
        for model in self.job_models:
            try:
                self.job_engine(model)
            except SettingsError as exc:
                raise SettingsError(f"[models.{model}] {exc}") from None

    def _build(self, model: str) -> tuple[AnyEngine, float | None]:
        factory = self._factories[model]
        with self._lock:
            engine = self._built.get(factory)
            if engine is not None:
                return engine, None
            started = time.perf_counter()
            engine = self._built[factory] = factory()
            return engine, time.perf_counter() - started

    def subset(self, models: Iterable[str]) -> ModelRegistry:
        chosen = list(models)
        return ModelRegistry(
            {m: self._factories[m] for m in chosen}, [m for m in chosen if m in self._jobs]
        )
