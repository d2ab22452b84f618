"""Which engine serves which public model name.

The entries come from `REELGATE_MODELS_FILE` (engines/models_file.py), or without it every model
name of the contract maps to the synthetic engine. An engine is built once per worker, on first
use, and reused for every task of its models; names whose settings are identical share one
engine, so a worker loads their weights once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from reelgate.engines.base import Engine
from reelgate.engines.models_file import (
    EngineConfig,
    ModelEntry,
    SyntheticConfig,
    default_entries,
    load_models_file,
)

EngineFactory = Callable[[], Engine]


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

    def diffusers() -> Engine:
        from reelgate.engines.diffusers.engine import DiffusersEngine

        return DiffusersEngine(config)

    return diffusers


class ModelRegistry:
    """Model names and the engines behind them; `names` and `knows` are all the API asks."""

    def __init__(self, factories: dict[str, EngineFactory]) -> None:
        self._factories = dict(factories)
        self._built: dict[EngineFactory, Engine] = {}
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> ModelRegistry:
        return cls(engine_factories(default_entries()))

    @classmethod
    def from_file(cls, models_file: Path | None) -> ModelRegistry:
        """The registry of a models file, or the default one without it. A bad file raises
        `ModelsFileError` naming the entry and the problem."""
        if models_file is None:
            return cls.default()
        return cls(engine_factories(load_models_file(models_file)))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._factories)

    def knows(self, model: str) -> bool:
        return model in self._factories

    def engine(self, model: str) -> Engine:
        """The engine for `model`, built on first use (one instance per factory)."""
        return self.load(model)[0]

    def load(self, model: str) -> tuple[Engine, float | None]:
        """The engine for `model`, and the seconds it took to build if this call built it
        (the task that waited for it is a cold start), else None."""
        factory = self._factories[model]
        with self._lock:
            engine = self._built.get(factory)
            if engine is not None:
                return engine, None
            started = time.perf_counter()
            engine = self._built[factory] = factory()
            return engine, time.perf_counter() - started

    def subset(self, models: Iterable[str]) -> ModelRegistry:
        return ModelRegistry({m: self._factories[m] for m in models})
