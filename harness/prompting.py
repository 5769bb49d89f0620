"""Chat prompts for text envs, verl-agent style: the task, the last k (observation, action) pairs, the current
observation and the admissible actions, in one user message after an optional system prompt.

Templates come from the env class's `prompt_module` (a module with `PROMPTS: dict[str, str]` of `str.format`
templates using only {instruction} {step} {history_length} {history} {observation} {admissible_actions}); a
template named `<name>_no_history` (if present) is used on the first turn. Envs without templates get `GENERIC`.
"""

from __future__ import annotations

import importlib
import string

from agent_envs.parsing import clean_action, extract_tag
from harness.config import PromptSection
from harness.types import Message

FIELDS = ("instruction", "step", "history_length", "history", "observation", "admissible_actions")

# Short and literal: in a hand check (6 samples, one Doors prompt) SmolLM2-135M answered with an action 2/6 times
# with this wording and 0/6 with a longer one.
DEFAULT_SYSTEM = (
    "You are an agent in a text environment. You reply only with one action, written as <action>ACTION</action>."
)

GENERIC: dict[str, str] = {
    "default": (
        "Task: {instruction}\n\n"
        "Before this turn you took {step} step(s). Your last {history_length} observation(s) and action(s):\n"
        "{history}\n\n"
        "Current observation:\n{observation}\n\n"
        "Admissible actions:\n{admissible_actions}\n\n"
        "Choose one admissible action. Reply in the form <action>ACTION</action>."
    ),
    "default_no_history": (
        "Task: {instruction}\n\n"
        "Current observation:\n{observation}\n\n"
        "Admissible actions:\n{admissible_actions}\n\n"
        "Choose one admissible action. Reply in the form <action>ACTION</action>."
    ),
}


def load_templates(env_cls: type | None) -> dict[str, str]:
    """The env's PROMPTS dict, or `GENERIC` when the env defines no `prompt_module`."""
    module_name = getattr(env_cls, "prompt_module", None) if env_cls is not None else None
    if not module_name:
        return dict(GENERIC)
    prompts = getattr(importlib.import_module(module_name), "PROMPTS", None)
    if not prompts:
        raise ValueError(f"{module_name} has no PROMPTS dict")
    for name, text in prompts.items():
        _check_fields(text, f"template {module_name}.PROMPTS[{name!r}]")
    return dict(prompts)


def _check_fields(template: str, what: str) -> None:
    unknown = {f for _, f, _, _ in string.Formatter().parse(template) if f} - set(FIELDS)
    if unknown:
        raise ValueError(f"{what} uses unknown fields {sorted(unknown)}; known: {', '.join(FIELDS)}")


def _clip(text: str, limit: int) -> str:
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


class PromptBuilder:
    """Builds the messages of each turn for one env class and one `PromptSection`.

    `config.template` is a template name of the env, a literal `str.format` template (it contains `{`; e.g.
    `"{observation}"` for the tiny byte model), or None for the env's default.
    """

    def __init__(self, env_cls: type | None = None, config: PromptSection | None = None):
        self.config = config or PromptSection()
        self.templates = load_templates(env_cls)
        name = self.config.template
        if name is not None and "{" in name:
            _check_fields(name, "the literal template")
            self.template = self.first_template = name
        else:
            if name is None:
                name = "verl_agent" if "verl_agent" in self.templates else next(iter(self.templates))
            if name not in self.templates:
                raise ValueError(f"no prompt template {name!r}; available: {sorted(self.templates)}")
            self.template = self.templates[name]
            self.first_template = self.templates.get(f"{name}_no_history", self.template)
        system = self.config.system_prompt
        self.system = DEFAULT_SYSTEM if system is None else system

    def build(
        self,
        *,
        instruction: str,
        history: list[tuple[str, str]],
        observation: str,
        admissible_actions: list[str] | None,
    ) -> list[Message]:
        """Messages for the next turn.

        Args:
            instruction: the task text.
            history: all past (observation shown, raw response) pairs of the episode, oldest first.
            observation: the current observation.
            admissible_actions: the actions allowed now (None: open action set).
        """
        limit = self.config.max_observation_chars
        k = max(0, self.config.history_length)
        shown = history[-k:] if k else []
        first = len(history) - len(shown)
        lines = [
            f"[Observation {first + i + 1}: {_clip(obs, limit)!r}, Action {first + i + 1}: {action_of(resp)!r}]"
            for i, (obs, resp) in enumerate(shown)
        ]
        values = {
            "instruction": instruction,
            "step": len(history),
            "history_length": len(shown),
            "history": "\n".join(lines) if lines else "(none)",
            "observation": _clip(observation, limit),
            "admissible_actions": format_admissible(admissible_actions),
        }
        template = self.first_template if not history else self.template
        messages: list[Message] = [{"role": "system", "content": self.system}] if self.system else []
        messages.append({"role": "user", "content": template.format(**values)})
        return messages
