"""The `diffusers` engine: open text/image-to-video models (Wan, LTX-Video, CogVideoX) on GPUs.

Importing this package needs neither torch nor diffusers; `reelgate.engines.diffusers.engine`
(the engine itself) does, and is imported only when a worker first serves such a model.

    config    what a registry entry says (no torch)
    plan      a request turned into the model's size, frame count and prompt (no torch)
    frames    resize, retime and camera warp of the model's frames to the contract (no torch)
    pipelines loading a pipeline with its speed settings, per family
    engine    DiffusersEngine: one resident pipeline, progress, cancel, seed
"""

from reelgate.engines.diffusers.config import DiffusersConfig, Family

__all__ = ["DiffusersConfig", "Family"]
