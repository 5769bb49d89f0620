"""RL training through the harness: config, token-exact batching, the local learner, batched sampling, the loop.

Heavy modules (torch, transformers) are imported by the submodules that need them; see README.md.
"""

from __future__ import annotations

from harness.train.config import LEARNER_PRESETS, TrainConfig, load_config

__all__ = ["LEARNER_PRESETS", "TrainConfig", "load_config"]
