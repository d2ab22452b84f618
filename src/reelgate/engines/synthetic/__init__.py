"""The synthetic engine: procedural previz scenes with real camera motion, on a CPU."""

from reelgate.engines.synthetic.engine import Renderer, SyntheticEngine

__all__ = ["Renderer", "SyntheticEngine"]
