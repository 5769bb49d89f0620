"""Tool calls as actions: an env declares its tools as JSON schemas (`TextEnv.tools()`, the OpenAI `tools` format)
and receives a model's tool calls as one action string, so every executor and wrapper keeps passing text.

    action = tool_call_action([{"name": "search", "arguments": '{"query": "red shoes"}'}])
    env.step(action)             # the env parses the call, as it parses `<action>...</action>` otherwise

The action string is a JSON object whose first key is `tool_calls`; a response with no tool call at all is
`tool_call_action([], content=text)`, which the env answers with its invalid-action feedback.
"""

from __future__ import annotations

import json
from typing import Any

_PREFIX = '{"tool_calls":'


def function_tool(name: str, description: str, properties: dict[str, Any] | None = None,
                  required: list[str] | None = None) -> dict[str, Any]:
    """One tool in the OpenAI `tools` format: `{"type": "function", "function": {name, description, parameters}}`."""
    parameters = {"type": "object", "properties": properties or {}, "required": list(required or [])}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def tool_name(tool: dict[str, Any]) -> str:
    """The function name of a tool schema."""
    return str(tool["function"]["name"])


def tool_call_action(calls: list[dict[str, Any]], content: str = "") -> str:
    """The action string carrying `calls` (each with `name` and `arguments`, a JSON text or a dict)."""
    shown = [{"name": str(c.get("name", "")), "arguments": c.get("arguments", "")} for c in calls]
    return json.dumps({"tool_calls": shown, "content": content}, ensure_ascii=False)


def parse_tool_calls(action: str) -> list[dict[str, Any]] | None:
    """The tool calls an action string carries, or None when it is an ordinary text action."""
    if not action.startswith(_PREFIX):
        return None
    try:
        data = json.loads(action)
    except ValueError:
        return None
    calls = data.get("tool_calls") if isinstance(data, dict) else None
    if not isinstance(calls, list):
        return None
    return [c if isinstance(c, dict) else {"name": "", "arguments": c} for c in calls]


def call_arguments(call: dict[str, Any]) -> dict[str, Any]:
    """The arguments of one call as a dict.

    Raises:
        ValueError: the arguments are not a JSON object (the message is fed back to the model).
    """
    raw = call.get("arguments")
    if isinstance(raw, dict):
        return raw
    if raw in (None, ""):
        return {}
    try:
        value = json.loads(str(raw))
    except json.JSONDecodeError as exc:
        raise ValueError(f"the arguments of {call.get('name')!r} are not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise ValueError(f"the arguments of {call.get('name')!r} must be a JSON object")
    return value
