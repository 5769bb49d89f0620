"""Trajectories → training samples → token tensors.

Each turn of each episode is one sample (verl-agent's step-independent layout): the prompt token ids and response
token ids exactly as the policy generated them (never re-tokenised), the sample's scalar score, and the ids that tie
samples together: `uid` (task group), `traj_uid` (episode) and `turn`.

Tensor layout of a `TokenBatch`: prompts left-padded to a common length P, responses right-padded to R, so every
response starts at column P and `model(..., logits_to_keep=R + 1)` yields exactly the logits that predict them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from harness.types import Episode


@dataclass
class TurnSample:
    """One training sample: a turn's prompt and response tokens plus what the advantage estimators need."""

    prompt_ids: list[int]
    response_ids: list[int]
    score: float
    """Scalar score: `reward_scale * episode_return - invalid_penalty * (action invalid)`."""
    step_reward: float
    """The env reward of this turn alone (GiGPO step returns)."""
    uid: str
    traj_uid: str
    turn: int
    anchor_obs: str
    valid: bool
    rollout_logprobs: list[float] | None = None
    truncated: bool = False
    """The response hit the token limit (finish_reason "length")."""


def episode_samples(
    episode: Episode, *, reward_scale: float = 1.0, invalid_penalty: float = 0.0
) -> tuple[list[TurnSample], int]:
    """The training samples of one episode.

    Args:
        episode: a finished episode whose turns carry `prompt_token_ids` and `token_ids`.
        reward_scale: multiplier of the episode return.
        invalid_penalty: subtracted from the score of a turn whose action was invalid.

    Returns:
        (samples, dropped): turns without token ids (backend errors) are dropped and counted.
    """
    samples, dropped = [], 0
    episode_return = float(episode.total_reward)
    for index, turn in enumerate(episode.turns):
        response = turn.response
        if not response.prompt_token_ids or response.token_ids is None or response.error:
            dropped += 1
            continue
        valid = bool(turn.info.get("action_valid", True))
        # The anchor is the state the response acted in: the observation before this turn.
        # (turn 0 starts from the task's reset state, shared by the whole group).
        anchor = episode.turns[index - 1].info.get("anchor_obs", "") if index else f"{episode.task_id}#reset"
        samples.append(
            TurnSample(
                prompt_ids=list(response.prompt_token_ids),
                response_ids=list(response.token_ids),
                score=reward_scale * episode_return - (0.0 if valid else invalid_penalty),
                step_reward=float(turn.reward),
                uid=episode.group_id,
                traj_uid=episode.episode_id,
                turn=index,
                anchor_obs=str(anchor) if anchor else f"{episode.task_id}#turn{index}",
                valid=valid,
                rollout_logprobs=list(response.logprobs) if response.logprobs is not None else None,
                truncated=response.finish_reason == "length",
            )
        )
    return samples, dropped


def episodes_to_samples(
    episodes: Sequence[Episode], *, reward_scale: float = 1.0, invalid_penalty: float = 0.0
) -> tuple[list[TurnSample], int]:
    """All samples of `episodes` (episodes with status "error" are skipped); returns (samples, dropped turns)."""
    out: list[TurnSample] = []
    dropped = 0
    for episode in episodes:
        if episode.status != "ok":
            dropped += len(episode.turns)
            continue
        samples, lost = episode_samples(episode, reward_scale=reward_scale, invalid_penalty=invalid_penalty)
        out.extend(samples)
        dropped += lost
    return out, dropped


@dataclass
class TokenBatch:
    """Padded tensors for a list of samples (B samples, P prompt columns, R response columns)."""

    input_ids: torch.Tensor  # [B, P+R] long
    attention_mask: torch.Tensor  # [B, P+R] long
    position_ids: torch.Tensor  # [B, P+R] long
    response_ids: torch.Tensor  # [B, R] long
    response_mask: torch.Tensor  # [B, R] float (1 on response tokens)

    @property
    def response_length(self) -> int:
        """R, the padded response length."""
        return int(self.response_ids.shape[1])

    def select(self, index: torch.Tensor) -> TokenBatch:
        """The rows `index` (then trimmed to the columns they use)."""
        sub = TokenBatch(*(t[index] for t in (self.input_ids, self.attention_mask, self.position_ids,
                                              self.response_ids, self.response_mask)))
        return sub.trimmed()

    def trimmed(self) -> TokenBatch:
        """Drop prompt columns that are padding in every row and response columns beyond the longest response."""
        prompt_len = self.input_ids.shape[1] - self.response_length
        used_prompt = self.attention_mask[:, :prompt_len].any(dim=0).nonzero()
        start = int(used_prompt[0]) if len(used_prompt) else prompt_len
        used_resp = self.response_mask.any(dim=0).nonzero()
        keep_r = int(used_resp[-1]) + 1 if len(used_resp) else 0
        end = prompt_len + keep_r
        return TokenBatch(
            self.input_ids[:, start:end],
            self.attention_mask[:, start:end],
            self.position_ids[:, start:end],
            self.response_ids[:, :keep_r],
            self.response_mask[:, :keep_r],
        )


def collate(samples: Sequence[TurnSample], pad_id: int) -> TokenBatch:
    """Pad `samples` into a `TokenBatch` (prompts left-padded, responses right-padded).

    Args:
        samples: samples with non-empty prompts; empty responses give all-zero mask rows.
        pad_id: the tokenizer's pad id (any id works: padded positions are masked out).
    """
    if not samples:
        raise ValueError("collate needs at least one sample")
    width_p = max(len(s.prompt_ids) for s in samples)
    width_r = max(1, max(len(s.response_ids) for s in samples))
    batch = len(samples)
    input_ids = torch.full((batch, width_p + width_r), pad_id, dtype=torch.long)
    attention = torch.zeros((batch, width_p + width_r), dtype=torch.long)
    response_ids = torch.full((batch, width_r), pad_id, dtype=torch.long)
    response_mask = torch.zeros((batch, width_r), dtype=torch.float32)
    for row, sample in enumerate(samples):
        p, r = len(sample.prompt_ids), len(sample.response_ids)
        input_ids[row, width_p - p : width_p] = torch.tensor(sample.prompt_ids, dtype=torch.long)
        attention[row, width_p - p : width_p] = 1
        if r:
            input_ids[row, width_p : width_p + r] = torch.tensor(sample.response_ids, dtype=torch.long)
            attention[row, width_p : width_p + r] = 1
            response_ids[row, :r] = torch.tensor(sample.response_ids, dtype=torch.long)
            response_mask[row, :r] = 1.0
    position_ids = (attention.cumsum(dim=1) - 1).clamp(min=0)
    return TokenBatch(input_ids, attention, position_ids, response_ids, response_mask)


def group_indices(keys: Sequence[str]) -> torch.Tensor:
    """Map string ids (e.g. `uid`s) to dense integer ids [B] in order of first appearance."""
    table: dict[str, int] = {}
    return torch.tensor([table.setdefault(k, len(table)) for k in keys], dtype=torch.long)
