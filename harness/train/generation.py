"""Batched local sampling for RL rollouts: many concurrent episodes, one forward pass per token for all of them.

`sample_batch` is a plain temperature sampler with a KV cache over any Hugging Face causal LM: no top-k/top-p, so the
returned log-probs are exactly `log softmax(logits / T)` of the sampled tokens (what the PPO ratio needs). An optional
set of allowed tokens restricts sampling (constrained decoding); the learner applies the same restriction
(`restrict_logits`), so both see one policy.
`BatchedLocalPolicy` implements the harness `Policy` protocol: each `respond` call queues its prompt; a background
task gathers the queued prompts (up to `max_batch`) and samples them together in a worker thread. The policy shares
the module with the learner, so weight sync in the local case is free: the next batch uses the updated weights.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import torch

from harness.types import Message, PolicyResponse, StepContext


@dataclass
class Sampled:
    """One generated response."""

    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str  # "stop" (eos) or "length"


# Far below any real logit yet finite: exp() underflows to exactly 0 and 0 · logit stays 0 in entropies (-inf: nan).
_EXCLUDED = -1e9


def restrict_logits(logits: torch.Tensor, allowed: torch.Tensor | None) -> torch.Tensor:
    """`logits` `[..., V]` with every token outside `allowed` (bool `[V]`, None = all) pushed to probability 0."""
    if allowed is None:
        return logits
    return logits.masked_fill(~allowed.to(logits.device), _EXCLUDED)


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


@torch.no_grad()
def sample_batch(
    model: Any,
    prompts: list[list[int]],
    *,
    eos_id: int,
    pad_id: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    allowed: torch.Tensor | None = None,
) -> list[Sampled]:
    """Sample one response per prompt with a KV cache (prompts left-padded into one batch).

    Args:
        model: a causal LM returning `.logits` and `.past_key_values`.
        prompts: token ids per prompt (non-empty).
        eos_id: stop token (kept in the response, as the chat template closes the turn with it).
        pad_id: padding id for the batch.
        max_new_tokens: response length limit.
        temperature: > 0 samples from softmax(logits / T); 0 is greedy (log-probs then at T = 1).
        generator: torch RNG for reproducible sampling.
        allowed: bool `[V]`: only these tokens can be sampled (their log-probs renormalised over them); None = all.

    Returns:
        One `Sampled` per prompt, in order.
    """
    batch, width = len(prompts), max(len(p) for p in prompts)
    device = next(model.parameters()).device
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
    tokens = torch.zeros((batch, max_new_tokens), dtype=torch.long)
    logps = torch.zeros((batch, max_new_tokens))
    done = torch.zeros(batch, dtype=torch.bool)
    lengths = torch.full((batch,), max_new_tokens, dtype=torch.long)
    for step in range(max_new_tokens):
        logits = restrict_logits(logits, allowed)
        log_probs = torch.log_softmax(logits / temperature if temperature > 0 else logits, dim=-1).cpu()
        if temperature > 0:
            choice = torch.multinomial(log_probs.exp(), 1, generator=generator).squeeze(1)
        else:
            choice = log_probs.argmax(dim=-1)
        tokens[:, step] = choice
        logps[:, step] = log_probs.gather(1, choice[:, None]).squeeze(1)
        newly_done = (~done) & (choice == eos_id)
        lengths[newly_done] = step + 1
        done |= newly_done
        if bool(done.all()) or step == max_new_tokens - 1:
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
        stopped = n > 0 and int(tokens[row, n - 1]) == eos_id
        results.append(Sampled(tokens[row, :n].tolist(), logps[row, :n].tolist(), "stop" if stopped else "length"))
    return results


@dataclass
class _Request:
    prompt_ids: list[int]
    future: asyncio.Future[Sampled]


class BatchedLocalPolicy:
    """A harness `Policy` that batches concurrent requests into one sampling pass of a local model.

    Args:
        model: the (shared) causal LM; put in eval mode for sampling.
        tokenizer: Hugging Face tokenizer with a chat template.
        max_new_tokens: response length limit.
        temperature: sampling temperature (change it between training and evaluation with `set_temperature`).
        max_prompt_tokens: longer prompts keep their last tokens.
        max_batch: largest batch per forward pass.
        seed: seed of the sampling RNG.
        allowed_token_ids: if given, only these tokens are sampled (constrained decoding); the learner must get the
            same ids.
        gather_s: how long the batcher waits for more requests after the first one arrives.
    """

    def __init__(self, model: Any, tokenizer: Any, *, max_new_tokens: int = 32, temperature: float = 1.0,
                 max_prompt_tokens: int = 1024, max_batch: int = 64, seed: int = 0,
                 allowed_token_ids: list[int] | None = None, gather_s: float = 0.002, name: str = "local"):
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.temperature = max_new_tokens, temperature
        self.max_prompt_tokens, self.max_batch, self.gather_s = max_prompt_tokens, max_batch, gather_s
        self.name = name
        self.allowed = allowed_mask(allowed_token_ids, model)
        self.generator = torch.Generator().manual_seed(seed)
        self.eos_id = int(tokenizer.eos_token_id)
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id)
        self._queue: list[_Request] = []
        self._worker: asyncio.Task[None] | None = None
        self.generated_tokens = 0
        self.generation_time_s = 0.0
        self.batches = 0

    def set_temperature(self, temperature: float) -> None:
        """Sampling temperature for the next requests."""
        self.temperature = temperature

    def encode(self, messages: list[Message]) -> list[int]:
        """Chat-template token ids of `messages` with the generation prompt, truncated on the left."""
        encoded = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                     return_dict=True)
        ids = list(encoded["input_ids"])
        return ids[-self.max_prompt_tokens :]

    async def respond(self, messages: list[Message], context: StepContext) -> PolicyResponse:
        """Queue the prompt and wait for its batch; never raises for generation failures (sets `error`)."""
        start = time.perf_counter()
        prompt_ids = self.encode(messages)
        loop = asyncio.get_running_loop()
        request = _Request(prompt_ids, loop.create_future())
        self._queue.append(request)
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._serve())
        try:
            sampled = await request.future
        except Exception as exc:  # a failed batch must not crash the rollout
            return PolicyResponse(text="", prompt_token_ids=prompt_ids, error=f"{type(exc).__name__}: {exc}",
                                  latency_s=time.perf_counter() - start)
        text = self.tokenizer.decode([t for t in sampled.token_ids if t != self.eos_id], skip_special_tokens=True)
        return PolicyResponse(
            text=text, prompt_token_ids=prompt_ids, token_ids=sampled.token_ids, logprobs=sampled.logprobs,
            finish_reason=sampled.finish_reason,
            usage={"prompt_tokens": len(prompt_ids), "completion_tokens": len(sampled.token_ids)},
            latency_s=time.perf_counter() - start,
        )

    async def _serve(self) -> None:
        # Runs while requests are queued, then exits (so no task outlives the caller's event loop).
        while self._queue:
            await asyncio.sleep(self.gather_s)  # let concurrent episodes queue their prompts
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                start = time.perf_counter()
                results = await asyncio.to_thread(self._generate, [r.prompt_ids for r in batch])
                self.generation_time_s += time.perf_counter() - start
                self.batches += 1
                for request, result in zip(batch, results, strict=True):
                    self.generated_tokens += len(result.token_ids)
                    if not request.future.done():
                        request.future.set_result(result)
            except Exception as exc:
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)

    def _generate(self, prompts: list[list[int]]) -> list[Sampled]:
        was_training = self.model.training
        self.model.eval()
        try:
            return sample_batch(self.model, prompts, eos_id=self.eos_id, pad_id=self.pad_id,
                                max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                                generator=self.generator, allowed=self.allowed)
        finally:
            self.model.train(was_training)
