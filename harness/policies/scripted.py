"""Policies without a model: scripted replies (tests), the env's expert (upper bound / smoke runs), uniform random."""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from harness.types import Message, PolicyResponse, StepContext

_BRACKETED = re.compile(r"^(\w+)\[(.*)\]$", re.DOTALL)

Reply = str | PolicyResponse


def _as_response(reply: Reply, started: float) -> PolicyResponse:
    if isinstance(reply, PolicyResponse):
        return reply
    return PolicyResponse(text=str(reply), finish_reason="stop", latency_s=time.perf_counter() - started)


def tool_call_for(action: str, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A tool call meaning the engine action `action`: `name[arg]` → tool `name` with its one parameter, a tool's
    name → that tool without arguments, else the first tool with one required parameter, given `action`.
    """
    by_name = {t["function"]["name"]: t["function"].get("parameters", {}) for t in tools}

    def call(name: str, value: str | None) -> dict[str, Any]:
        params = list(by_name[name].get("properties", {}))
        arguments = {params[0]: value} if value is not None and params else {}
        return {"name": name, "arguments": json.dumps(arguments)}

    bracketed = _BRACKETED.match(action)
    if bracketed and bracketed.group(1) in by_name:
        return call(bracketed.group(1), bracketed.group(2))
    if action in by_name and not by_name[action].get("required"):
        return call(action, None)
    for name, params in by_name.items():
        if len(params.get("required", [])) == 1:
            return call(name, action)
    return None


def action_reply(action: str, context: StepContext, started: float) -> PolicyResponse:
    """`action` written as the scaffold expects: a tool call when tools are offered, else the env's text format."""
    if context.tools:
        call = tool_call_for(action, context.tools)
        return PolicyResponse(text="", tool_calls=[call] if call else None, finish_reason="tool_calls",
                              latency_s=time.perf_counter() - started)
    return _as_response(context.action_format.format(action=action), started)


async def _pause(delay_s: float) -> float:
    """Wait `delay_s` (a simulated slow model); returns the start time of the reply."""
    started = time.perf_counter()
    if delay_s:
        await asyncio.sleep(delay_s)
    return started


class ScriptedPolicy:
    """Replies from a list (indexed by the episode's turn, the last one repeated) or from a function.

    Args:
        replies: a list of replies, or `fn(messages, context) -> str | PolicyResponse` (may be async).
        delay_s: seconds to wait before each reply (simulates a slow model; used by the kill/resume test).
        name: shown in reports.
    """

    def __init__(
        self,
        replies: Sequence[Reply] | Callable[[list[Message], StepContext], Any] = ("<action>noop</action>",),
        *,
        delay_s: float = 0.0,
        name: str = "scripted",
    ):
        if not callable(replies) and not replies:
            raise ValueError("ScriptedPolicy needs at least one reply")
        self.replies = replies
        self.delay_s = float(delay_s)
        self.name = name

    async def respond(self, messages: list[Message], context: StepContext) -> PolicyResponse:
        """The scripted reply for this turn (turn index = `context.step`)."""
        started = await _pause(self.delay_s)
        if callable(self.replies):
            reply = self.replies(messages, context)
            if inspect.isawaitable(reply):
                reply = await reply
        else:
            reply = self.replies[min(context.step, len(self.replies) - 1)]
        return _as_response(reply, started)


class ExpertPolicy:
    """Answers the env's expert action (`context.info["expert_action"]`) in the env's action format (a tool call with
    the `tools` scaffold).

    The runner builds envs with `expert=True` for policies whose `needs_expert` is true.
    """

    needs_expert = True

    def __init__(self, *, delay_s: float = 0.0, name: str = "expert"):
        self.delay_s = float(delay_s)
        self.name = name

    async def respond(self, messages: list[Message], context: StepContext) -> PolicyResponse:
        """The env expert's next action, in the env's format; an error response if the env exposes no expert action."""
        started = await _pause(self.delay_s)
        action = context.info.get("expert_action")
        if action is None:
            return PolicyResponse(text="", error="no expert_action in info: build the env with expert=True")
        return action_reply(str(action), context, started)


class RandomPolicy:
    """A uniformly random admissible action from one seeded generator; `fallback` when the action set is open."""

    def __init__(self, *, seed: int = 0, fallback: str = "look", name: str = "random"):
        self.rng = random.Random(seed)
        self.fallback = fallback
        self.name = name

    async def respond(self, messages: list[Message], context: StepContext) -> PolicyResponse:
        """A random choice among `context.info["admissible_actions"]`."""
        started = time.perf_counter()
        actions = context.info.get("admissible_actions") or [self.fallback]
        return action_reply(str(self.rng.choice(list(actions))), context, started)
