"""`chat`: the whole conversation, as LLM agents are benchmarked (mini-swe-agent, SWE-agent, AgentBench, AgentGym):
the system message, the task as the first user message, then each response as an assistant message and each
observation as a user message.

The prompt only grows, so each turn stores only its new messages (`Turn.messages_kept`). When the next prompt would
exceed the context budget, `prompt.on_context_full` decides: `truncate` ends the episode (reason "context"); `drop`
first replaces the oldest observations, oldest first, by a marker saying so (never the task, the responses or the
latest observation), and ends the episode only when that is not enough.
"""

from __future__ import annotations

from typing import Any

from agent_envs.core import ADMISSIBLE_ACTIONS
from harness.scaffolds.base import ContextFull, TokenCounter, Transcript, estimate_tokens
from harness.scaffolds.templates import format_admissible
from harness.types import Message, PolicyResponse

DROPPED = "[observation dropped to fit the context budget: {chars} characters]"


class ChatTranscript(Transcript):
    """The conversation of one episode.

    Args:
        builder: the run's `PromptBuilder` (templates, system message, config).
        instruction, observation, info: what the env's reset returned.
        counter: tokens of one message (the policy's tokenizer or an estimate).
        budget: most prompt tokens (None: no limit).
    """

    def __init__(self, builder: Any, instruction: str, observation: str, info: dict[str, Any], *,
                 counter: TokenCounter = estimate_tokens, budget: int | None = None):
        self.builder, self.instruction = builder, instruction
        self.counter, self.budget = counter, budget
        self.messages: list[Message] = []
        self.tokens: list[int] = []
        self.total = 0
        self.turns = 0
        self._sent = 0  # length of the last prompt
        self._changed = 0  # lowest index changed since the last prompt
        self._next_drop = 0  # oldest observation not yet dropped
        if builder.system:
            self._add({"role": "system", "content": builder.system})
        self._add({"role": "user", "content": builder.first_template.format(**self.values(observation, info))})
        self._first_observation = len(self.messages)
        self._next_drop = self._first_observation

    def values(self, observation: str, info: dict[str, Any]) -> dict[str, Any]:
        """The template fields for an observation message."""
        return {"instruction": self.instruction, "step": self.turns, "history_length": 0, "history": "",
                "observation": observation, "admissible_actions": format_admissible(info.get(ADMISSIBLE_ACTIONS))}

    def _add(self, message: Message) -> None:
        count = self.counter(message)
        self.messages.append(message)
        self.tokens.append(count)
        self.total += count

    def prompt(self) -> tuple[list[Message], int]:
        """The conversation so far (fitted to the budget) and how much of it the previous prompt already held."""
        if self.budget is not None and self.total > self.budget:
            self._fit(self.budget)
        kept = min(self._sent, self._changed)
        self._sent = self._changed = len(self.messages)
        return list(self.messages), kept

    def _fit(self, budget: int) -> None:
        if self.builder.config.on_context_full == "drop":
            latest = self._latest_observation_start()
            while self.total > budget and self._next_drop < latest:
                i = self._next_drop
                self._next_drop += 1
                message = self.messages[i]
                if message["role"] == "assistant":
                    continue
                dropped = {**message, "content": DROPPED.format(chars=len(str(message.get("content") or "")))}
                count = self.counter(dropped)
                self.total += count - self.tokens[i]
                self.messages[i], self.tokens[i] = dropped, count
                self._changed = min(self._changed, i)
        if self.total > budget:
            raise ContextFull(f"the next prompt needs about {self.total} tokens; the budget is {budget}")

    def _latest_observation_start(self) -> int:
        i = len(self.messages)
        while i > self._first_observation and self.messages[i - 1]["role"] != "assistant":
            i -= 1
        return i

    def assistant_message(self, response: PolicyResponse) -> Message:
        """The response as the conversation keeps it."""
        return {"role": "assistant", "content": response.text}

    def observation_messages(self, response: PolicyResponse, observation: str, info: dict[str, Any]) -> list[Message]:
        """The env's answer as the conversation keeps it."""
        return [{"role": "user", "content": self.builder.observation_template.format(**self.values(observation, info))}]

    def record(self, response: PolicyResponse, observation: str, info: dict[str, Any]) -> None:
        """Append the response and the observation."""
        self.turns += 1
        self._add(self.assistant_message(response))
        for message in self.observation_messages(response, observation, info):
            self._add(message)
