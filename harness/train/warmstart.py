"""Behaviour-cloning warm start: teach a model the answer format of a code env, but not how to read the hint.

An instruct model starts RL knowing how to answer (a door code, then the end of the turn) without knowing which door
is right. The random tiny byte model knows neither, and RL from scratch first spends its entropy on the format. The
warm start gives it the instruct model's starting point: supervised steps on observations of the env (reached by
random play) whose targets are uniformly random door codes (any door of the room, never the hinted one in
particular), so the best the model can learn is "some valid code, uniformly": it emits valid codes, and succeeds at
chance.

The result is cached under `$AEMGYM_CACHE/warmstart` (default `~/.cache/aemgym/warmstart`), keyed by the initial
weights, the config and the allowed tokens; a cache hit costs one `load_state_dict`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.models.sampler import allowed_mask, restrict_logits

_VERSION = 1  # bump when the data or the loss change: old cache entries are then ignored


@dataclass(frozen=True)
class WarmStartConfig:
    """What a warm start trains on (every field is part of the cache key)."""

    env_id: str = "agent_envs/Codes-v0"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    steps: int = 300
    batch_size: int = 32
    lr: float = 3e-3
    seed: int = 0
    n_prompts: int = 2000
    """Observations collected from random play on the train split (turns of every kind: first, locked, opened)."""


def code_env(config: WarmStartConfig) -> Any:
    """A fresh env of `config` (its `.unwrapped` has `codes`, `alphabet` and `code_length`)."""
    import gymnasium as gym

    import agent_envs  # noqa: F401 - registers the ids

    env = gym.make(config.env_id, **config.env_kwargs)
    for attribute in ("codes", "alphabet", "code_length"):
        if not hasattr(env.unwrapped, attribute):
            raise ValueError(f"{config.env_id} has no {attribute!r}: the warm start needs a code env such as Codes")
    return env


def observation_prompt(tokenizer: Any, observation: str) -> list[int]:
    """Prompt ids as the trainer builds them with `env.prompt="{observation}"` and no system prompt."""
    encoded = tokenizer.apply_chat_template([{"role": "user", "content": observation}], add_generation_prompt=True,
                                            tokenize=True, return_dict=True)
    return list(encoded["input_ids"])


def code_token_ids(tokenizer: Any, alphabet: str) -> tuple[list[int], int]:
    """(ids of the alphabet's letters, id of the end token): the tokens constrained decoding allows."""
    ids = [tokenizer(ch, add_special_tokens=False)["input_ids"] for ch in alphabet]
    if any(len(i) != 1 for i in ids):
        raise ValueError(f"every letter of {alphabet!r} must be one token of this tokenizer")
    return [i[0] for i in ids], int(tokenizer.eos_token_id)


def play_observations(config: WarmStartConfig, n: int, *, split: str = "train", seed: int = 0) -> list[dict[str, Any]]:
    """`n` observations met by a random player (a door code, sometimes a non-door code), with the hinted code.

    Returns:
        Dicts `{"observation", "hint", "task_id", "turn"}`.
    """
    env = code_env(config)
    rng = np.random.default_rng(seed)
    codes, alphabet, length = env.unwrapped.codes, env.unwrapped.alphabet, env.unwrapped.code_length
    out: list[dict[str, Any]] = []
    try:
        while len(out) < n:
            obs, info = env.reset(seed=int(rng.integers(1 << 31)), options={"split": split})
            turn, done = 0, False
            while not done and len(out) < n:
                out.append({"observation": obs, "hint": env.unwrapped.expert_action(), "task_id": info["task_id"],
                            "turn": turn})
                if rng.random() < 0.1:
                    action = "".join(alphabet[int(i)] for i in rng.integers(len(alphabet), size=length))
                else:
                    action = codes[int(rng.integers(len(codes)))]
                obs, _, terminated, truncated, info = env.step(action)
                turn, done = turn + 1, terminated or truncated
    finally:
        env.close()
    return out


def _weights_digest(model: Any) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def cache_dir() -> Path:
    """`$AEMGYM_CACHE/warmstart`, default `~/.cache/aemgym/warmstart`."""
    return Path(os.environ.get("AEMGYM_CACHE", Path.home() / ".cache" / "aemgym")) / "warmstart"


def warm_start(model: Any, tokenizer: Any, config: WarmStartConfig | None = None, *,
               cache: Path | None = None) -> dict[str, Any]:
    """Train `model` in place on random valid codes (or load the cached result); returns what was done.

    Args:
        model: a Hugging Face causal LM (e.g. `harness.models.tiny.tiny_model()`), at its initial weights.
        tokenizer: its tokenizer (each letter of the env's alphabet one token).
        config: data and optimisation settings.
        cache: cache folder (default `cache_dir()`).

    Returns:
        `{"cached": bool, "path": str, "steps": int, "final_loss": float, "seconds": float}`; a perfectly
        calibrated model has loss = log(n_doors) over the code tokens (plus ~0 for the end token).
    """
    config = config or WarmStartConfig()
    env = code_env(config)
    alphabet, codes = env.unwrapped.alphabet, list(env.unwrapped.codes)
    env.close()
    letters, eos = code_token_ids(tokenizer, alphabet)
    key_text = json.dumps({"config": dataclasses.asdict(config), "letters": letters, "eos": eos, "version": _VERSION,
                           "weights": _weights_digest(model)}, sort_keys=True)
    key = hashlib.sha256(key_text.encode()).hexdigest()[:20]
    folder = cache or cache_dir()
    path = folder / f"{key}.pt"
    device = next(model.parameters()).device
    if path.is_file():
        saved = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(saved["model"])
        return {**saved["meta"], "cached": True, "path": str(path)}

    start = time.perf_counter()
    prompts = [observation_prompt(tokenizer, o["observation"])
               for o in play_observations(config, config.n_prompts, seed=config.seed)]
    to_id = dict(zip(alphabet, letters, strict=True))
    targets = torch.tensor([[to_id[ch] for ch in code] + [eos] for code in codes], dtype=torch.long)  # [D, L+1]
    allowed = allowed_mask([*letters, eos], model)
    pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos)
    gen = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.0)
    was_training = model.training
    model.train()
    losses = []
    for _ in range(config.steps):
        rows = torch.randint(len(prompts), (config.batch_size,), generator=gen)
        answer = targets[torch.randint(len(codes), (config.batch_size,), generator=gen)]
        input_ids, attention, positions = _left_padded([prompts[r] for r in rows.tolist()], answer, pad)
        logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                       position_ids=positions.to(device), use_cache=False,
                       logits_to_keep=answer.shape[1] + 1).logits[:, :-1]
        log_probs = torch.log_softmax(restrict_logits(logits.float(), allowed), dim=-1)
        loss = -log_probs.gather(-1, answer.to(device)[..., None]).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(float(loss.detach()))
    model.train(was_training)
    meta = {"steps": config.steps, "final_loss": float(np.mean(losses[-20:])),
            "seconds": time.perf_counter() - start}
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".tmp{os.getpid()}")
    torch.save({"model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "meta": meta}, partial)
    os.replace(partial, path)
    return {**meta, "cached": False, "path": str(path)}


def _left_padded(prompts: list[list[int]], answers: torch.Tensor,
                 pad: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input ids, attention mask, position ids) of prompts left-padded to one width, each followed by its answer."""
    width = max(len(p) for p in prompts)
    batch = len(prompts)
    ids = torch.full((batch, width), pad, dtype=torch.long)
    mask = torch.zeros((batch, width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt):] = torch.tensor(prompt, dtype=torch.long)
        mask[row, width - len(prompt):] = 1
    ids = torch.cat([ids, answers], dim=1)
    mask = torch.cat([mask, torch.ones_like(answers)], dim=1)
    return ids, mask, (mask.cumsum(1) - 1).clamp(min=0)
