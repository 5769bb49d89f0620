"""Local models, built without any download: a tiny random Llama with a byte tokenizer, the embedded SmolLM2-135M,
or a Hugging Face checkpoint directory; and the one batched sampler they all generate with (`sampler.py`)."""

from harness.models.build import load_model

__all__ = ["load_model"]
