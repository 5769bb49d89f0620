"""Agent scaffolds: how each turn's messages are built, what the env receives, which tools the policy is offered.

- `chat` (bench default): the whole conversation (system, task, each response as an assistant message, each
  observation as a user message) within a context budget; the env receives the response.
- `verl_agent` (train default): one user message with the task, the last `history_length` (observation, action)
  pairs, the observation and the admissible actions; the env receives the response.
- `react`: the conversation with `Thought:` / `Action:` replies and `Observation:` messages (AgentBench, AgentGym);
  the env receives the `Action:`, in its own action format.
- `tools`: the conversation with OpenAI tool calls and `tool` messages, the env's tools sent with each request; the
  env receives the tool calls.

`harness.prompting.PromptBuilder` picks one; the templates come from `templates.py` and the env's `PROMPTS`.
"""

from __future__ import annotations

from harness.scaffolds.base import ContextFull, Transcript, estimate_tokens, token_counter
from harness.scaffolds.chat import ChatTranscript
from harness.scaffolds.react import ReactTranscript
from harness.scaffolds.tools import ToolsTranscript
from harness.scaffolds.verl_agent import VerlAgentTranscript

#: scaffold name -> its transcript class
SCAFFOLDS: dict[str, type[Transcript]] = {
    "chat": ChatTranscript,
    "verl_agent": VerlAgentTranscript,
    "react": ReactTranscript,
    "tools": ToolsTranscript,
}

__all__ = ["SCAFFOLDS", "ContextFull", "Transcript", "estimate_tokens", "token_counter"]
