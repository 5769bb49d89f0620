"""The one batched sampler of local models, for benchmarking, serving and RL rollouts.

`sample_batch` samples many prompts at once with a KV cache over any Hugging Face causal LM. Its log-probs are exact
for the distribution it samples from: `log softmax(logits / T)`, restricted to the allowed tokens (constrained
decoding) and renormalised over the nucleus when `top_p < 1`, so a PPO ratio against the learner's recomputation is 1
at the first step. Greedy decoding (T = 0) reports log-probs at T = 1. Stop strings end a row once its decoded text
contains one; the row keeps the token that completed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class Sampling:
    """Sampling parameters of one call."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    include_stop: bool = True
    """Keep the stop string at the end of the text (handy for `</action>`; OpenAI semantics: False)."""
    top_logprobs: int = 0
    """Also return the top-k alternatives (token id, log-prob) per step."""


@dataclass
class Sampled:
    """One generated response: token ids (with the closing eos), their log-probs and why it ended."""

    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str  # "stop" (eos or a stop string) or "length"
    top: list[list[tuple[int, float]]] | None = None


# Far below any real logit yet finite: exp() underflows to exactly 0 and 0 · logit stays 0 in entropies (-inf: nan).
EXCLUDED = -1e9


def restrict_logits(logits: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
    """`logits` `[..., V]` with every token outside `allowed` (bool `[V]`, None = all) pushed to probability 0."""
    if allowed is None:
        return logits
    return logits.masked_fill(~allowed.to(logits.device), EXCLUDED)


def allowed_mask(token_ids: list[int] | None, model: Any) -> torch.Tensor | None:
    """Bool `[V]` mask of `token_ids` over `model`'s output vocabulary (None stays None)."""
    if token_ids is None:
        return None
    vocab = int(model.get_output_embeddings().weight.shape[0])
    if not token_ids or not all(0 <= t < vocab for t in token_ids):
        raise ValueError(f"allowed token ids must be a non-empty subset of 0..{vocab - 1}, got {token_ids}")
    mask = torch.zeros(vocab, dtype=torch.bool)
    mask[list(token_ids)] = True
    return mask


def nucleus(log_probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """`log_probs` `[B, V]` renormalised over the smallest set of tokens whose mass reaches `top_p` (per row)."""
    if top_p >= 1.0:
        return log_probs
    ordered, order = log_probs.sort(dim=-1, descending=True)
    mass_before = ordered.exp().cumsum(dim=-1) - ordered.exp()
    drop_sorted = mass_before >= top_p  # the most likely token is always kept (its mass_before is 0)
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return torch.log_softmax(log_probs.masked_fill(drop, float("-inf")), dim=-1)


class _StopScanner:
    """Finds stop strings in each row's decoded tail (only the last few tokens are decoded per step)."""

    def __init__(self, tokenizer: Any, stops: Iterable[str], rows: int):
        self.tokenizer, self.stops = tokenizer, [s for s in stops if s]
        self.window = 8 + max((len(s) for s in self.stops), default=0)
        self.rows = rows

    def hits(self, tokens: torch.Tensor, step: int, active: torch.Tensor) -> torch.Tensor:
        found = torch.zeros(self.rows, dtype=torch.bool)
        if not self.stops:
            return found
        start = max(0, step + 1 - self.window)
        for row in active.nonzero().flatten().tolist():
            tail = self.tokenizer.decode(tokens[row, start : step + 1].tolist(), skip_special_tokens=True)
            found[row] = any(stop in tail for stop in self.stops)
        return found


@torch.no_grad()
def sample_batch(
    model: Any,
    prompts: list[list[int]],
    *,
    eos_ids: Iterable[int],
    pad_id: int,
    sampling: Sampling,
    generator: torch.Generator | None = None,
    allowed: torch.Tensor | None = None,
    tokenizer: Any = None,
) -> list[Sampled]:
    """Sample one response per prompt (prompts left-padded into one batch, one forward pass per token).

    Args:
        model: a causal LM returning `.logits` and `.past_key_values`.
        prompts: token ids per prompt (non-empty).
        eos_ids: tokens that end a response (kept in it: the chat template closes a turn with them).
        pad_id: padding id.
        sampling: length, temperature, top-p, stop strings, top-k alternatives.
        generator: torch RNG (reproducible sampling).
        allowed: bool `[V]`: only these tokens can be sampled; None = all.
        tokenizer: needed for stop strings.

    Returns:
        One `Sampled` per prompt, in order.
    """
    batch, width = len(prompts), max(len(p) for p in prompts)
    device = next(model.parameters()).device
    eos = torch.tensor(sorted(set(eos_ids)), dtype=torch.long)
    ids = torch.full((batch, width), pad_id, dtype=torch.long)
    mask = torch.zeros((batch, width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        mask[row, width - len(prompt) :] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
    past, logits = out.past_key_values, out.logits[:, -1].float()
    next_pos = positions[:, -1] + 1
    steps = max(1, sampling.max_new_tokens)
    tokens = torch.zeros((batch, steps), dtype=torch.long)
    logps = torch.zeros((batch, steps))
    top: list[list[list[tuple[int, float]]]] = [[] for _ in range(batch)]
    done = torch.zeros(batch, dtype=torch.bool)
    lengths = torch.full((batch,), steps, dtype=torch.long)
    stopped = torch.zeros(batch, dtype=torch.bool)
    scanner = _StopScanner(tokenizer, sampling.stop, batch) if sampling.stop else None
    for step in range(steps):
        scaled = restrict_logits(logits, allowed)
        if sampling.temperature > 0:
            scaled = scaled / sampling.temperature
        log_probs = nucleus(torch.log_softmax(scaled, dim=-1), sampling.top_p).cpu()
        if sampling.temperature > 0:
            choice = torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(1)
        else:
            choice = log_probs.argmax(dim=-1)
        tokens[:, step] = choice
        logps[:, step] = log_probs.gather(1, choice[:, None]).squeeze(1)
        if sampling.top_logprobs:
            values, indices = log_probs.topk(sampling.top_logprobs, dim=-1)
            for row in range(batch):
                top[row].append(list(zip(indices[row].tolist(), values[row].tolist(), strict=True)))
        ended = (~done) & torch.isin(choice, eos)
        if scanner is not None:
            ended |= (~done) & scanner.hits(tokens, step, ~done & ~ended)
        lengths[ended] = step + 1
        stopped |= ended
        done |= ended
        if bool(done.all()) or step == steps - 1:
            break
        feed = torch.where(done, torch.full_like(choice, pad_id), choice).to(device)
        mask = torch.cat([mask, (~done).long().to(device)[:, None]], dim=1)
        out = model(input_ids=feed[:, None], attention_mask=mask, position_ids=next_pos[:, None],
                    past_key_values=past, use_cache=True)
        past, logits = out.past_key_values, out.logits[:, -1].float()
        next_pos = next_pos + 1
    results = []
    for row in range(batch):
        n = int(lengths[row])
        results.append(Sampled(tokens[row, :n].tolist(), logps[row, :n].tolist(),
                               "stop" if bool(stopped[row]) else "length",
                               top[row][:n] if sampling.top_logprobs else None))
    return results


def cut_at_stop(text: str, stops: list[str], include: bool) -> tuple[str, bool]:
    """`text` cut at its first stop string (kept when `include`), and whether one was found."""
    cut: tuple[int, str] | None = None
    for stop in stops:
        at = text.find(stop)
        if at >= 0 and (cut is None or at < cut[0]):
            cut = (at, stop)
    if cut is None:
        return text, False
    at, stop = cut
    return (text[: at + len(stop)] if include else text[:at]), True
