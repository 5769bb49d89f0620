"""The harness's data contracts: chat messages, policy responses, per-turn and per-episode records.

Every record is a plain dataclass that round-trips through JSON (`to_dict` / `from_dict`), so trajectories stored
by `harness.storage` can be read without the harness.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, Protocol, runtime_checkable

#: Version of the episode record. Readers ignore unknown fields and refuse records newer than they understand.
SCHEMA_VERSION = 2

#: One chat message in the OpenAI wire format: {"role": "system"|"user"|"assistant"|"tool", "content": "..."}, plus
#: `tool_calls` on assistant messages and `tool_call_id` on tool messages (the `tools` scaffold).
Message = dict[str, Any]

#: `PolicyResponse.finish_reason` of a request refused because the prompt exceeds the model's context window: the
#: episode ends as truncated with reason "context", not as an error.
CONTEXT_EXCEEDED = "context_length"


def message_text(message: Message) -> str:
    """The text a message puts in a prompt: its content and, for tool calls, their JSON."""
    text = str(message.get("content") or "")
    if message.get("tool_calls"):
        text += json.dumps(message["tool_calls"], ensure_ascii=False)
    return text


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
    tool_calls: list[dict[str, Any]] | None = None
    """OpenAI-style tool calls, each `{"id": ..., "name": ..., "arguments": "<JSON text>"}` (the `tools` scaffold)."""


@dataclass
class StepContext:
    """What a policy may know besides the messages: the task, the env's last info (experts read it), the tools it
    may call (JSON schemas in the OpenAI `tools` format; None: answer in text) and how a text action is written.
    """

    task_id: str
    step: int
    info: dict[str, Any] = field(default_factory=dict)
    tools: list[dict[str, Any]] | None = None
    action_format: str = "<action>{action}</action>"


@runtime_checkable
class Policy(Protocol):
    """Messages in, one response out. Implementations: `harness.policies` (openai, hf, scripted, expert)."""

    name: str

    async def respond(self, messages: list[Message], context: StepContext) -> PolicyResponse:
        """Produce the next assistant turn for `messages`."""
        ...


@dataclass
class Turn:
    """One step of an episode: the prompt shown, the response, and what the env did with it.

    A growing conversation is stored without repeating itself: the prompt of this turn is the first `messages_kept`
    messages of the previous turn's prompt followed by `messages` (0: `messages` is the whole prompt). `prompts()`
    rebuilds the full prompts.
    """

    step: int
    messages: list[Message]
    response: PolicyResponse
    observation: str
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]
    env_time_s: float = 0.0
    messages_kept: int = 0
    action: str | None = None
    """What the env received when it differs from `response.text` (a tool call, a ReAct `Action:` line)."""


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
    truncation: str | None = None
    """Why the harness ended the episode early: "context" (the next prompt would not fit the context budget)."""
    iteration: int | None = None  # training runs: the iteration that played it
    phase: str | None = None  # training runs: "train" or "eval"
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Episode:
        """Inverse of `to_dict`; unknown fields (from newer minor versions or other tools) are ignored.

        Raises:
            ValueError: the record's `schema_version` is newer than this code understands.
        """
        version = int(data.get("schema_version", 1))
        if version > SCHEMA_VERSION:
            raise ValueError(f"episode record schema {version} is newer than this aemgym ({SCHEMA_VERSION}): upgrade")
        turns = []
        for t in data.get("turns", []):
            t = _known(Turn, t)
            t["response"] = PolicyResponse(**_known(PolicyResponse, t.get("response") or {"text": ""}))
            turns.append(Turn(**t))
        return cls(turns=turns, **{k: v for k, v in _known(cls, data).items() if k != "turns"})


def prompts(turns: list[Turn]) -> list[list[Message]]:
    """The full prompt of each turn (expands `Turn.messages_kept`)."""
    out: list[list[Message]] = []
    for turn in turns:
        kept = out[-1][: turn.messages_kept] if out and turn.messages_kept else []
        out.append(kept + list(turn.messages))
    return out


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
