"""`verl_agent`: one user message per turn with the task, the last k (observation, action) pairs, the current
observation and the admissible actions (verl-agent's prompt; the RL default). The prompt does not grow with the
episode: past actions are cut to 300 characters, observations to `prompt.max_observation_chars`.
"""

from __future__ import annotations

from typing import Any

from agent_envs.core import ADMISSIBLE_ACTIONS
from harness.scaffolds.base import Transcript
from harness.scaffolds.templates import action_of, clip, format_admissible
from harness.types import Message, PolicyResponse


class VerlAgentTranscript(Transcript):
    """The verl-agent prompt of each turn of one episode."""

    def __init__(self, builder: Any, instruction: str, observation: str, info: dict[str, Any]):
        self.builder, self.instruction = builder, instruction
        self.observation, self.admissible = observation, info.get(ADMISSIBLE_ACTIONS)
        self.history: list[tuple[str, str]] = []  # (observation shown, raw response), oldest first

    def prompt(self) -> tuple[list[Message], int]:
        """The system message and the one user message of this turn (nothing is carried over)."""
        config = self.builder.config
        limit = config.max_observation_chars
        k = max(0, config.history_length)
        shown = self.history[-k:] if k else []
        first = len(self.history) - len(shown)
        lines = [
            f"[Observation {first + i + 1}: {clip(obs, limit)!r}, Action {first + i + 1}: {action_of(resp)!r}]"
            for i, (obs, resp) in enumerate(shown)
        ]
        values = {
            "instruction": self.instruction,
            "step": len(self.history),
            "history_length": len(shown),
            "history": "\n".join(lines) if lines else "(none)",
            "observation": clip(self.observation, limit),
            "admissible_actions": format_admissible(self.admissible),
        }
        template = self.builder.first_template if not self.history else self.builder.template
        messages: list[Message] = [{"role": "system", "content": self.builder.system}] if self.builder.system else []
        messages.append({"role": "user", "content": template.format(**values)})
        return messages, 0

    def record(self, response: PolicyResponse, observation: str, info: dict[str, Any]) -> None:
        """Remember the pair for the history window; the next observation becomes current."""
        self.history.append((self.observation, response.text))
        self.observation, self.admissible = observation, info.get(ADMISSIBLE_ACTIONS)
