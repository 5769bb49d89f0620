"""Each turn's prompt: `PromptBuilder` starts one transcript per episode in the scaffold `prompt.scaffold` names
(`harness.scaffolds`), and `with_run_defaults` fills what a scaffold brings to a run configuration.

    builder = PromptBuilder(agent_envs.env_class("agent_envs/Doors-v0"), PromptSection(scaffold="chat"))
    transcript = builder.start(instruction=..., observation=obs, info=info)
    messages, kept = transcript.prompt()          # then transcript.action(response), transcript.record(...)
"""

from __future__ import annotations

from typing import Any, TypeVar

from harness.config import BenchConfig, PromptSection, set_dotted
from harness.scaffolds import SCAFFOLDS, Transcript
from harness.scaffolds.base import TokenCounter, estimate_tokens
from harness.scaffolds.templates import DEFAULT_SYSTEM, check_fields, load_templates, scaffold_defaults

ConfigT = TypeVar("ConfigT", bound=BenchConfig)


class PromptBuilder:
    """The prompt settings of one run (one env class, one `PromptSection`); `start` begins an episode's transcript.

    `config.template` names the main template (the scaffold's own by default): a name in the env's `PROMPTS` or a
    literal `str.format` template (it contains `{`; e.g. `"{observation}"` for the tiny byte model).
    """

    def __init__(self, env_cls: type | None = None, config: PromptSection | None = None):
        self.config = config or PromptSection()
        self.scaffold = self.config.scaffold
        if self.scaffold not in SCAFFOLDS:
            raise ValueError(f"unknown scaffold {self.scaffold!r}; choose one of {', '.join(SCAFFOLDS)}")
        self.templates = load_templates(env_cls)
        name = self.config.template
        if name is not None and "{" in name:
            check_fields(name, "the literal template")
            self.template = self.first_template = name
        else:
            name = name or self.scaffold
            if name not in self.templates:
                raise ValueError(f"no prompt template {name!r}; available: {sorted(self.templates)}")
            self.template = self.templates[name]
            self.first_template = self.templates.get(f"{name}_no_history", self.template)
        self.observation_template = self.templates.get(f"{self.scaffold}_observation", "{observation}")
        system = self.config.system_prompt
        self.system = self.templates.get(f"{self.scaffold}_system", DEFAULT_SYSTEM) if system is None else system
        self.action_format: str = getattr(env_cls, "action_format", "<action>{action}</action>")

    def start(self, *, instruction: str, observation: str, info: dict[str, Any],
              counter: TokenCounter = estimate_tokens, budget: int | None = None) -> Transcript:
        """The transcript of a new episode, from what the env's reset returned.

        Args:
            instruction: the task text.
            observation: the first observation.
            info: the reset's info (admissible actions, tools).
            counter: tokens of one message (`harness.scaffolds.token_counter(policy)`).
            budget: most prompt tokens (None: no limit; the `verl_agent` prompt does not grow and ignores it).
        """
        cls = SCAFFOLDS[self.scaffold]
        if self.scaffold == "verl_agent":
            return cls(self, instruction, observation, info)  # type: ignore[call-arg]
        return cls(self, instruction, observation, info, counter=counter, budget=budget)  # type: ignore[call-arg]

    def budget(self, policy: Any) -> int | None:
        """Most prompt tokens: `prompt.context_tokens`, else the policy's `max_prompt_tokens` (local models)."""
        return self.config.context_tokens or getattr(policy, "max_prompt_tokens", None)

    def stop(self) -> list[str]:
        """Stop strings that end a reply once its action is complete: the closing tag of tag actions, ReAct's
        `Observation:`; none for tool calls and fenced commands (a fence closes like it opens).
        """
        if self.scaffold == "tools":
            return []
        if self.scaffold == "react":
            return ["\nObservation:"]
        closing = self.action_format.rpartition("{action}")[2]
        return [closing] if closing.startswith("</") else []


def with_run_defaults(config: ConfigT, env_cls: type | None) -> ConfigT:
    """`config` with what the user left unset taken from the scaffold (stop strings), the env (its prompt module's
    `SCAFFOLD_DEFAULTS`, e.g. SWE-bench's step limit) and the local model (`LOCAL_SAMPLING`). Bench runs store the
    result, so the run configuration says what was used.
    """
    from harness.policies import LOCAL_SAMPLING

    tree = config.model_dump(mode="json")
    defaults: dict[str, Any] = {"policy.stop": PromptBuilder(env_cls, config.prompt).stop() or None}
    defaults.update(scaffold_defaults(env_cls, config.prompt.scaffold))
    defaults.update({f"policy.{k}": v for k, v in LOCAL_SAMPLING.get(config.policy.name, {}).items()})
    for key, value in defaults.items():
        section, *rest = key.split(".")
        node = tree[section]
        for part in rest[:-1]:
            node = node.setdefault(part, {})
        if node.get(rest[-1]) is None:
            set_dotted(tree, key, value)
    return type(config).model_validate(tree)
