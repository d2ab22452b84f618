"""Which engine serves which public model name.

Without `REELGATE_MODELS_FILE`, every model name of the contract maps to the synthetic engine.
An engine is built once per worker, on first use, and reused for every task of its models.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from reelgate.engines.base import Engine

if TYPE_CHECKING:
    from reelgate.settings import Settings

DEFAULT_MODELS = ("gen4", "gen4_turbo", "gen4.5", "gen3", "gen2", "sora-2", "sora-2-pro")

EngineFactory = Callable[[], Engine]


def _synthetic() -> Engine:
    from reelgate.engines.synthetic import SyntheticEngine

    return SyntheticEngine()


class ModelRegistry:
    def __init__(self, factories: dict[str, EngineFactory]) -> None:
        self._factories = dict(factories)
        self._built: dict[EngineFactory, Engine] = {}
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> ModelRegistry:
        return cls({name: _synthetic for name in DEFAULT_MODELS})

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelRegistry:
        """The registry of `REELGATE_MODELS_FILE`, or the default one without it. A bad file
        raises `ModelsFileError` (a SettingsError) naming the entry and the problem."""
        if settings.models_file is None:
            return cls.default()
        from reelgate.engines.models_file import engine_factories, load_models_file

        return cls(engine_factories(load_models_file(settings.models_file)))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._factories)

    def knows(self, model: str) -> bool:
        return model in self._factories

    def engine(self, model: str) -> Engine:
        """The engine for `model`, built on first use (one instance per factory)."""
        factory = self._factories[model]
        with self._lock:
            engine = self._built.get(factory)
            if engine is None:
                engine = self._built[factory] = factory()
            return engine

    def subset(self, models: Iterable[str]) -> ModelRegistry:
        return ModelRegistry({m: self._factories[m] for m in models})
