"""Rollouts for training: groups of episodes played with `harness.rollout.run_episode` under a trainer's prompt.

The trainer needs prompts the tiny byte model can handle (e.g. only the observation), so besides the env's own
templates it accepts a literal `str.format` template. Envs live in any `harness.rollout` executor (thread, ray, ...).
"""

from __future__ import annotations

import asyncio
from typing import Any

from harness.prompting import PromptBuilder, PromptConfig
from harness.rollout import EpisodeSpec, play_spec
from harness.types import Episode, Policy


def make_prompt_builder(env_id: str, template: str | None, *, history_length: int = 0,
                        system_prompt: str | None = "") -> PromptBuilder:
    """A `PromptBuilder` for `env_id`: `template` is a literal template (contains `{`), a template name, or None."""
    import agent_envs

    env_cls = agent_envs.env_class(env_id)
    literal = template is not None and "{" in template
    config = PromptConfig(template=None if literal else template, history_length=history_length,
                          system_prompt=system_prompt)
    builder = PromptBuilder(env_cls, config)
    if literal:
        builder.template = builder.first_template = template
    return builder


async def play_specs(env_id: str, env_kwargs: dict[str, Any], policy: Policy, specs: list[EpisodeSpec],
                     builder: PromptBuilder, executor: Any, *, concurrency: int = 64) -> list[Episode]:
    """Play `specs` concurrently (at most `concurrency` at once); episodes in `specs` order."""
    semaphore = asyncio.Semaphore(max(1, concurrency))

    async def one(spec: EpisodeSpec) -> Episode:
        async with semaphore:
            return await play_spec(spec, env_id, env_kwargs, policy, builder, executor)

    return list(await asyncio.gather(*(one(s) for s in specs)))
