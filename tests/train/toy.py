"""A bigram 'language model' small enough to differentiate by hand, with the HF causal-LM call signature."""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch


class BigramLM(torch.nn.Module):
    """logits at position t = W[input_ids[t]]: log π(a | c) = W[c, a] − logsumexp(W[c, :])."""

    def __init__(self, weights: list[list[float]]):
        super().__init__()
        self.W = torch.nn.Parameter(torch.tensor(weights, dtype=torch.float32))

    def forward(self, input_ids, attention_mask=None, position_ids=None, use_cache=False, logits_to_keep=0, **_):
        logits = self.W[input_ids]
        if logits_to_keep:
            logits = logits[:, -logits_to_keep:]
        return SimpleNamespace(logits=logits, past_key_values=None)


def toy_tokenizer(pad_id: int = 3, eos_id: int = 1) -> SimpleNamespace:
    """The two ids the learner reads from a tokenizer."""
    return SimpleNamespace(pad_token_id=pad_id, eos_token_id=eos_id)


def log_softmax_row(row: list[float]) -> list[float]:
    """Plain-Python log-softmax (no torch), for hand-computed expectations."""
    top = max(row)
    norm = top + math.log(sum(math.exp(x - top) for x in row))
    return [x - norm for x in row]
