"""Token-in-token-out multi-turn episodes for engines that generate from token ids (verl's agent loop).

One trajectory = one append-only token buffer: the first prompt (chat template of the first observation), then per
turn the generated tokens (mask 1, their log-probs) and the template tokens of the env's reply (mask 0, log-prob 0).
Nothing is re-tokenised, so the trainer sees exactly the sampled tokens (training.md §5.3). No verl import here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

#: generate(prompt_ids) -> (token_ids, logprobs or None)
Generate = Callable[[list[int]], Awaitable[tuple[list[int], list[float] | None]]]


def _ids(encoded: Any) -> list[int]:
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


class ChatTokens:
    """Template token pieces of a tokenizer: the first prompt and the suffix that appends a user turn.

    The suffix is found by difference, so it works for any chat template that renders earlier messages the same way
    whatever follows them (ChatML, Llama-3, Qwen, SmolLM2).
    """

    def __init__(self, tokenizer: Any, system_prompt: str | None = None):
        self.tokenizer = tokenizer
        self.system = [{"role": "system", "content": system_prompt}] if system_prompt else []
        self.eos_id = int(tokenizer.eos_token_id)
        probe = [*self.system, {"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]
        closed = self._encode(probe, generation=False)
        # What the template puts after the assistant's eos (e.g. "\n" in ChatML).
        last_eos = len(closed) - 1 - closed[::-1].index(self.eos_id) if self.eos_id in closed else len(closed) - 1
        self.after_eos = closed[last_eos + 1 :]
        self._closed_len = len(closed)
        self._probe = probe

    def _encode(self, messages: list[dict[str, str]], generation: bool) -> list[int]:
        return _ids(self.tokenizer.apply_chat_template(messages, add_generation_prompt=generation, tokenize=True,
                                                       return_dict=True))

    def first_prompt(self, observation: str) -> list[int]:
        """Token ids of the opening prompt (system + first observation + generation prompt)."""
        return self._encode([*self.system, {"role": "user", "content": observation}], generation=True)

    def user_suffix(self, observation: str, *, ended_with_eos: bool) -> list[int]:
        """Tokens to append after a generated turn to add `observation` as the next user message."""
        full = self._encode([*self._probe, {"role": "user", "content": observation}], generation=True)
        delta = full[self._closed_len :]
        return ([] if ended_with_eos else [self.eos_id]) + self.after_eos + delta


@dataclass
class TokenEpisode:
    """A finished multi-turn episode as one token buffer."""

    prompt_ids: list[int]
    response_ids: list[int] = field(default_factory=list)
    response_mask: list[int] = field(default_factory=list)
    response_logprobs: list[float] = field(default_factory=list)
    total_reward: float = 0.0
    success: bool = False
    num_turns: int = 0
    invalid_actions: int = 0
    truncated: bool = False


async def play_token_episode(env: Any, chat: ChatTokens, generate: Generate, *, task_id: str, max_turns: int,
                             max_response_tokens: int, seed: int | None = None) -> TokenEpisode:
    """Play one episode with token-level bookkeeping.

    Args:
        env: an async env handle (`harness.rollout.env_executors.EnvHandle`: awaitable `reset` and `step`), so
            env calls run wherever its executor puts them (a thread pool in the verl agent loop).
        chat: the tokenizer's template pieces.
        generate: the model call.
        task_id, seed: passed to `reset`.
        max_turns: model turns at most.
        max_response_tokens: the response buffer's budget (generated and env tokens together).

    Stops when the env terminates/truncates, after `max_turns`, or when the response budget would be exceeded.
    """
    observation, info = await env.reset(seed=seed, options={"task_id": task_id})
    episode = TokenEpisode(prompt_ids=chat.first_prompt(observation))
    context = list(episode.prompt_ids)
    for _ in range(max_turns):
        token_ids, logprobs = await generate(context)
        if len(episode.response_ids) + len(token_ids) > max_response_tokens:
            token_ids = token_ids[: max(0, max_response_tokens - len(episode.response_ids))]
            episode.truncated = True
        episode.response_ids += token_ids
        episode.response_mask += [1] * len(token_ids)
        episode.response_logprobs += list(logprobs[: len(token_ids)]) if logprobs else [0.0] * len(token_ids)
        context += token_ids
        episode.num_turns += 1
        text = chat.tokenizer.decode([t for t in token_ids if t != chat.eos_id], skip_special_tokens=True)
        observation, reward, terminated, truncated, info = await env.step(text)
        episode.total_reward += float(reward)
        episode.invalid_actions += int(not info.get("action_valid", True))
        episode.success = bool(info.get("success", False))
        if terminated or truncated or episode.truncated:
            break
        suffix = chat.user_suffix(observation, ended_with_eos=bool(token_ids) and token_ids[-1] == chat.eos_id)
        if len(episode.response_ids) + len(suffix) >= max_response_tokens:
            episode.truncated = True
            break
        episode.response_ids += suffix
        episode.response_mask += [0] * len(suffix)
        episode.response_logprobs += [0.0] * len(suffix)
        context += suffix
    return episode
