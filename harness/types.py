"""The harness's data contracts: chat messages, policy responses, per-turn and per-episode records.

Every record is a plain dataclass that round-trips through JSON (`to_dict` / `from_dict`), so trajectories stored
by `harness.storage` can be read without the harness.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

SCHEMA_VERSION = 1

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}


@dataclass
class PolicyResponse:
    """One model turn. Token-level fields are filled where the backend provides them."""

    text: str
    prompt_token_ids: list[int] | None = None
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    finish_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    latency_s: float = 0.0
    error: str | None = None  # set when the backend failed and `text` is empty


@dataclass
class StepContext:
    """What a policy may know besides the messages: the task and the env's last info (experts read it)."""

    task_id: str
    step: int
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Policy(Protocol):
    """Messages in, one response out. Implementations: `harness.policies` (openai, hf, scripted, expert)."""

    name: str

    async def respond(self, messages: list[Message], context: StepContext) -> PolicyResponse:
        """Produce the next assistant turn for `messages`."""
        ...


@dataclass
class Turn:
    """One step of an episode: the prompt shown, the response, and what the env did with it."""

    step: int
    messages: list[Message]
    response: PolicyResponse
    observation: str
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]
    env_time_s: float = 0.0


EpisodeStatus = Literal["ok", "error"]


@dataclass
class Episode:
    """A finished episode. `group_id` ties the G samples of one task together (`uid` in verl-agent)."""

    episode_id: str
    env_id: str
    task_id: str
    group_id: str
    sample_index: int
    turns: list[Turn]
    total_reward: float
    success: bool
    score: float
    status: EpisodeStatus = "ok"
    error: str | None = None
    task_type: str = "default"
    wall_time_s: float = 0.0
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Episode:
        """Inverse of `to_dict`."""
        data = dict(data)
        turns = []
        for t in data.pop("turns", []):
            t = dict(t)
            t["response"] = PolicyResponse(**t["response"])
            turns.append(Turn(**t))
        return cls(turns=turns, **data)
