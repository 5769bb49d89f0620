"""`LocalPolicy`: a local causal LM (CPU or GPU) behind the `Policy` protocol, for bench, train and `aemgym serve`.

Concurrent `respond` calls are gathered into one batch (up to `max_batch`) and sampled by `harness.models.sampler`
in a worker thread, so the event loop keeps driving envs while the model runs. Each response carries the exact prompt
token ids (after the chat template), the sampled token ids and their log-probs under the sampling distribution, the
finish reason and token usage. A trainer shares the model with this policy: the next batch uses the updated weights.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import torch

from harness.models.sampler import Sampled, Sampling, allowed_mask, cut_at_stop, sample_batch
from harness.types import Message, PolicyResponse, StepContext, message_text


@dataclass
class Generation:
    """One completion with token-level detail (`top`: per-token list of (token id, log-prob) alternatives)."""

    text: str
    prompt_token_ids: list[int]
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str
    top: list[list[tuple[int, float]]] | None = None


class LocalPolicy:
    """A local causal LM with a chat template.

    Args:
        model: a transformers causal LM (possibly a peft model); put in eval mode while sampling.
        tokenizer: its tokenizer, with a chat template.
        sampling: default sampling parameters (`Sampling`; temperature 0 = greedy).
        name: shown in reports.
        max_batch: most concurrent requests sampled together.
        max_prompt_tokens: longer prompts keep their last tokens (None: the model's position limit minus the
            response length).
        allowed_token_ids: constrained decoding to these token ids (the learner must get the same ids).
        seed: seed of the sampling RNG (a request's own `Sampling.seed` uses a fresh generator).
        gather_s: how long the batcher waits for more requests after the first one arrives.
        threads: torch threads of the sampling thread (None: the creator's setting).
    """

    def __init__(self, model: Any, tokenizer: Any, *, sampling: Sampling | None = None, name: str = "local",
                 max_batch: int = 8, max_prompt_tokens: int | None = None,
                 allowed_token_ids: list[int] | None = None, seed: int = 0, gather_s: float = 0.002,
                 threads: int | None = None):
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.sampling = sampling or Sampling()
        self.max_batch, self.gather_s = int(max_batch), gather_s
        limit = getattr(model.config, "max_position_embeddings", None) or 4096
        self.max_prompt_tokens = max_prompt_tokens or max(16, limit - self.sampling.max_new_tokens)
        self.allowed_token_ids = allowed_token_ids
        self.allowed = allowed_mask(allowed_token_ids, model)
        self.generator = torch.Generator().manual_seed(seed)
        self.eos_ids = _eos_ids(tokenizer, model)
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
        self.lock = threading.Lock()  # one forward pass at a time on this model
        # OpenMP thread counts are per thread: give the sampling thread the creator's setting (a fresh thread would use
        # every core, 5-30x slower for small models on a busy 2-core box; training.md §3)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sample",
                                            initializer=torch.set_num_threads,
                                            initargs=(threads or torch.get_num_threads(),))
        self._queue: list[tuple[list[int], asyncio.Future[Sampled]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.generated_tokens = 0
        self.generation_time_s = 0.0
        self.batches = 0
        self._message_overhead: int | None = None

    def set_temperature(self, temperature: float) -> None:
        """Sampling temperature of the next requests (training rollouts vs evaluation)."""
        self.sampling = dataclasses.replace(self.sampling, temperature=temperature)

    # ----- synchronous core ---------------------------------------------------------------------------------------
    def encode(self, messages: list[Message]) -> list[int]:
        """Prompt token ids after the chat template (with the generation prompt), left-truncated to the limit."""
        encoded = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                     return_dict=True)
        return list(encoded["input_ids"])[-self.max_prompt_tokens :]

    def count_tokens(self, message: Message) -> int:
        """Tokens `message` adds to a prompt: its text under this tokenizer plus the chat template's framing of one
        message (measured once on this template). For the context budget of conversation scaffolds.
        """
        if self._message_overhead is None:
            system = [{"role": "system", "content": "x"}]
            both = [*system, {"role": "user", "content": "x"}]
            lengths = [len(self.tokenizer.apply_chat_template(m, tokenize=True, return_dict=True)["input_ids"])
                       for m in (system, both)]
            self._message_overhead = max(0, lengths[1] - lengths[0] - len(self._text_ids("x")))
        return self._message_overhead + len(self._text_ids(message_text(message)))

    def _text_ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def sample(self, prompts: list[list[int]], sampling: Sampling | None = None) -> list[Sampled]:
        """Sample one response per prompt of token ids. Thread-safe (one batch at a time)."""
        sampling = sampling or self.sampling
        generator = self.generator
        if sampling.seed is not None:
            generator = torch.Generator().manual_seed(sampling.seed)
        with self.lock:
            was_training = self.model.training
            self.model.eval()
            started = time.perf_counter()
            try:
                results = sample_batch(self.model, prompts, eos_ids=self.eos_ids, pad_id=self.pad_id,
                                       sampling=sampling, generator=generator, allowed=self.allowed,
                                       tokenizer=self.tokenizer)
            finally:
                self.model.train(was_training)
            self.generation_time_s += time.perf_counter() - started
            self.generated_tokens += sum(len(r.token_ids) for r in results)
            self.batches += 1
        return results

    def generate(self, prompts: list[list[Message]], sampling: Sampling | None = None, n: int = 1) -> list[Generation]:
        """`n` completions of each chat prompt (rows ordered prompt-major), decoded and cut at stop strings."""
        sampling = sampling or self.sampling
        encoded = [self.encode(m) for m in prompts for _ in range(n)]
        return [self._generation(ids, s, sampling) for ids, s in zip(encoded, self.sample(encoded, sampling),
                                                                     strict=True)]

    def _generation(self, prompt_ids: list[int], sampled: Sampled, sampling: Sampling) -> Generation:
        text = self.tokenizer.decode([t for t in sampled.token_ids if t not in self.eos_ids], skip_special_tokens=True)
        text, _ = cut_at_stop(text, sampling.stop, sampling.include_stop)
        return Generation(text, prompt_ids, sampled.token_ids, sampled.logprobs, sampled.finish_reason, sampled.top)

    # ----- the Policy protocol ------------------------------------------------------------------------------------
    async def respond(self, messages: list[Message], context: StepContext) -> PolicyResponse:
        """Queue the prompt and wait for its batch; a failed batch gives an error response, never an exception."""
        started = time.perf_counter()
        prompt_ids = self.encode(messages)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Sampled] = loop.create_future()
        self._queue.append((prompt_ids, future))
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._serve())
        try:
            sampled = await future
        except Exception as exc:  # noqa: BLE001 - the episode is marked, the run goes on
            return PolicyResponse(text="", prompt_token_ids=prompt_ids, error=f"{type(exc).__name__}: {exc}",
                                  latency_s=time.perf_counter() - started)
        gen = self._generation(prompt_ids, sampled, self.sampling)
        return PolicyResponse(
            text=gen.text, prompt_token_ids=prompt_ids, token_ids=gen.token_ids, logprobs=gen.logprobs,
            finish_reason=gen.finish_reason,
            usage={"prompt_tokens": len(prompt_ids), "completion_tokens": len(gen.token_ids)},
            latency_s=time.perf_counter() - started,
        )

    async def _serve(self) -> None:
        # Runs while requests are queued, then exits (so no task outlives the caller's event loop).
        loop = asyncio.get_running_loop()
        while self._queue:
            await asyncio.sleep(self.gather_s)  # let concurrent episodes queue their prompts
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                results = await loop.run_in_executor(self._executor, self.sample, [ids for ids, _ in batch])
            except Exception as exc:  # noqa: BLE001 - hand the failure to every waiting episode
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    def close(self) -> None:
        """Stop the sampling thread."""
        self._executor.shutdown(wait=False)


def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
    config = getattr(model, "generation_config", None)
    ids = config.eos_token_id if config is not None else None
    found = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        found.add(int(tokenizer.eos_token_id))
    return found


def single_token_ids(tokenizer: Any, tokens: list[str] | None) -> list[int] | None:
    """The id of each string in `tokens` (each must be exactly one token of `tokenizer`); None stays None."""
    if tokens is None:
        return None
    ids = []
    for text in tokens:
        encoded = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(encoded) != 1:
            raise ValueError(f"policy.allowed_tokens: {text!r} is {len(encoded)} tokens, not one")
        ids.append(int(encoded[0]))
    return ids
