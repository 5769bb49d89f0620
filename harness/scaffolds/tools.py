"""`tools`: the whole conversation with OpenAI-style tool calls. The env's tools (`TextEnv.tools()`, JSON schemas) are
sent with every request; each assistant message keeps its `tool_calls`, each call gets a `tool` message with the
env's answer. The env receives the calls (`agent_envs.tools.tool_call_action`); a reply without a tool call gets the
env's invalid-action feedback as a user message.
"""

from __future__ import annotations

from typing import Any

from agent_envs.core import TOOLS
from agent_envs.tools import tool_call_action
from harness.scaffolds.chat import ChatTranscript
from harness.types import Message, PolicyResponse


def call_ids(response: PolicyResponse, turn: int) -> list[str]:
    """The id of each tool call (made up where the backend gave none)."""
    return [str(c.get("id") or f"call_{turn}_{i}") for i, c in enumerate(response.tool_calls or [])]


class ToolsTranscript(ChatTranscript):
    """The tool-calling conversation of one episode."""

    def __init__(self, builder: Any, instruction: str, observation: str, info: dict[str, Any], **kwargs: Any):
        super().__init__(builder, instruction, observation, info, **kwargs)
        self.tools = info.get(TOOLS)
        if not self.tools:
            raise ValueError("the tools scaffold needs an env that declares tools (TextEnv.tools())")

    def action(self, response: PolicyResponse) -> str:
        """The response's tool calls as one action."""
        return tool_call_action(response.tool_calls or [], content=response.text)

    def assistant_message(self, response: PolicyResponse) -> Message:
        """The response with its tool calls in the OpenAI format."""
        message: Message = {"role": "assistant", "content": response.text}
        if response.tool_calls:
            ids = call_ids(response, self.turns - 1)
            message["tool_calls"] = [
                {"id": i, "type": "function", "function": {"name": str(c.get("name", "")),
                                                           "arguments": str(c.get("arguments") or "{}")}}
                for i, c in zip(ids, response.tool_calls, strict=True)
            ]
        return message

    def observation_messages(self, response: PolicyResponse, observation: str, info: dict[str, Any]) -> list[Message]:
        """One `tool` message per call (each with the env's answer), or a user message when there was no call."""
        text = self.builder.observation_template.format(**self.values(observation, info))
        if not response.tool_calls:
            return [{"role": "user", "content": text}]
        return [{"role": "tool", "tool_call_id": i, "content": text} for i in call_ids(response, self.turns - 1)]
