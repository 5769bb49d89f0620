"""What every scaffold's transcript does, the context budget and token counting.

A transcript holds one episode's prompt state: `prompt()` gives the next turn's messages, `action(response)` what the
env receives, `record(response, observation, info)` adds a played turn. Tokens are counted per message once, when the
message is added (with the policy's own tokenizer when it has one, `count_tokens(message)`; else
`estimate_tokens`), so checking the budget costs O(1) per turn however long the conversation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from harness.types import Message, PolicyResponse, message_text

#: The estimate used when the policy has no tokenizer: about 4 characters per token of English text and code, plus
#: 4 tokens of chat-template framing per message (OpenAI's rule of thumb). It errs high on prose, low on dense code.
CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4

TokenCounter = Callable[[Message], int]


class ContextFull(Exception):
    """The next prompt does not fit the context budget: the episode ends as truncated with reason "context"."""


def estimate_tokens(message: Message) -> int:
    """Tokens of one message without a tokenizer (see `CHARS_PER_TOKEN`)."""
    return MESSAGE_OVERHEAD + math.ceil(len(message_text(message)) / CHARS_PER_TOKEN)


def token_counter(policy: Any) -> TokenCounter:
    """The policy's `count_tokens` (local models), else `estimate_tokens`."""
    count = getattr(policy, "count_tokens", None)
    return count if callable(count) else estimate_tokens


class Transcript:
    """One episode's prompts under one scaffold (subclasses: one per scaffold)."""

    #: Tools offered to the policy with every prompt (OpenAI format); None: text actions.
    tools: list[dict[str, Any]] | None = None

    def prompt(self) -> tuple[list[Message], int]:
        """The next prompt and how many of its first messages open the previous prompt unchanged.

        Raises:
            ContextFull: it does not fit the context budget.
        """
        raise NotImplementedError

    def action(self, response: PolicyResponse) -> str:
        """What the env receives for `response` (default: the response text)."""
        return response.text

    def record(self, response: PolicyResponse, observation: str, info: dict[str, Any]) -> None:
        """Add a played turn: the response and the env's answer."""
        raise NotImplementedError
