"""Local models, built without any download: a tiny random Llama with a byte tokenizer, the embedded SmolLM2-135M,
or a Hugging Face checkpoint directory; and the one batched sampler they all generate with (`sampler.py`).

`load_model` is imported on first use, so `harness.models.tiny` / `harness.models.smollm2` constants can be read
without importing torch (the viewer decodes token ids with them).
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_model"]


def __getattr__(name: str) -> Any:
    if name == "load_model":
        from harness.models.build import load_model

        return load_model
    raise AttributeError(f"module 'harness.models' has no attribute {name!r}")
