"""Prompt templates: the harness's generic ones and each env's `PROMPTS`, with the values they are filled with.

An env class names a `prompt_module` holding `PROMPTS: dict[str, str]` of `str.format` templates using only
{instruction} {step} {history_length} {history} {observation} {admissible_actions}; its templates override the
generic ones of the same name (and the generic `<name>_no_history`). Each scaffold reads the templates named after it:

- `<scaffold>_system`: the system message;
- `<scaffold>`: `verl_agent`: the one user message of every turn (`verl_agent_no_history` on the first turn, if
  present); the other scaffolds: the first user message (the task);
- `<scaffold>_observation`: conversation scaffolds: each later observation message.
"""

from __future__ import annotations

import importlib
import string
from typing import Any

from agent_envs.parsing import clean_action, extract_tag

FIELDS = ("instruction", "step", "history_length", "history", "observation", "admissible_actions")

# Short and literal: in a hand check (6 samples, one Doors prompt) SmolLM2-135M answered with an action 2/6 times
# with this wording and 0/6 with a longer one.
DEFAULT_SYSTEM = (
    "You are an agent in a text environment. You reply only with one action, written as <action>ACTION</action>."
)
_ANSWER = "Choose one admissible action. Reply in the form <action>ACTION</action>."

GENERIC: dict[str, str] = {
    "verl_agent_system": DEFAULT_SYSTEM,
    "verl_agent": (
        "Task: {instruction}\n\n"
        "Before this turn you took {step} step(s). Your last {history_length} observation(s) and action(s):\n"
        "{history}\n\n"
        "Current observation:\n{observation}\n\n"
        "Admissible actions:\n{admissible_actions}\n\n" + _ANSWER
    ),
    "verl_agent_no_history": (
        "Task: {instruction}\n\nCurrent observation:\n{observation}\n\nAdmissible actions:\n{admissible_actions}\n\n"
        + _ANSWER
    ),
    "chat_system": DEFAULT_SYSTEM,
    "chat": (
        "Task: {instruction}\n\nObservation:\n{observation}\n\nAdmissible actions:\n{admissible_actions}\n\n" + _ANSWER
    ),
    "chat_observation": "Observation:\n{observation}\n\nAdmissible actions:\n{admissible_actions}",
    "react_system": (
        "You are an agent in a text environment. Solve the task step by step. Every reply has two lines:\n"
        "Thought: your reasoning about what to do next\nAction: exactly one action"
    ),
    "react": "Task: {instruction}\n\nObservation: {observation}\nAvailable actions:\n{admissible_actions}",
    "react_observation": "Observation: {observation}\nAvailable actions:\n{admissible_actions}",
    "tools_system": (
        "You are an agent in a text environment. Act by calling exactly one of the provided tools in every reply."
    ),
    "tools": "Task: {instruction}\n\nObservation:\n{observation}\n\nAvailable actions:\n{admissible_actions}",
    "tools_observation": "{observation}\n\nAvailable actions:\n{admissible_actions}",
}


def load_templates(env_cls: type | None) -> dict[str, str]:
    """`GENERIC` updated with the env's `PROMPTS` (checked: only known fields)."""
    templates = dict(GENERIC)
    module_name = getattr(env_cls, "prompt_module", None) if env_cls is not None else None
    if not module_name:
        return templates
    prompts = getattr(importlib.import_module(module_name), "PROMPTS", None)
    if not prompts:
        raise ValueError(f"{module_name} has no PROMPTS dict")
    for name, text in prompts.items():
        check_fields(text, f"template {module_name}.PROMPTS[{name!r}]")
        if f"{name}_no_history" not in prompts:
            templates.pop(f"{name}_no_history", None)  # a generic first-turn variant would not match the env's
    templates.update(prompts)
    return templates


def scaffold_defaults(env_cls: type | None, scaffold: str) -> dict[str, Any]:
    """The env's run settings for a scaffold (`SCAFFOLD_DEFAULTS` of its prompt module; dotted config keys)."""
    module_name = getattr(env_cls, "prompt_module", None) if env_cls is not None else None
    if not module_name:
        return {}
    return dict(getattr(importlib.import_module(module_name), "SCAFFOLD_DEFAULTS", {}).get(scaffold, {}))


def check_fields(template: str, what: str) -> None:
    """Raise `ValueError` when `template` uses a field outside `FIELDS`."""
    unknown = {f for _, f, _, _ in string.Formatter().parse(template) if f} - set(FIELDS)
    if unknown:
        raise ValueError(f"{what} uses unknown fields {sorted(unknown)}; known: {', '.join(FIELDS)}")


def clip(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, keeping its head and tail."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n...[{len(text) - limit} characters cut]...\n{text[-half:]}"


def action_of(response: str, limit: int = 300) -> str:
    """What to show as the action of a past turn: the tagged action if any, else the start of the response."""
    tagged = extract_tag(response, "action")
    return clean_action(tagged if tagged is not None else response, limit) or "(empty response)"


def format_admissible(actions: list[str] | None) -> str:
    """Admissible actions one per line, or a note that any action is allowed."""
    if actions is None:
        return "(any action)"
    if not actions:
        return "(none)"
    return "\n".join(f"- {a}" for a in actions)
