"""Which env and which tasks a run plays: env ids from short names, task ids from the env as it is configured."""

from __future__ import annotations

from typing import Any

import agent_envs
from agent_envs.core import TextEnv
from agent_envs.errors import TaskNotFound


def resolve_env_id(name: str) -> str:
    """A registered env id from a full id or a short name: "doors", "Doors-v0", "agent_envs/Doors-v0".

    Raises:
        ValueError: no registered env has that name (the message lists the known ids).
    """
    import gymnasium as gym

    if name in gym.registry:
        return name
    wanted = name.lower().removeprefix("agent_envs/").removesuffix("-v0")
    for env_id in agent_envs.ENV_IDS:
        if env_id.split("/")[-1].lower().removesuffix("-v0") == wanted:
            return env_id
    raise ValueError(f"unknown env {name!r}; known: {', '.join(agent_envs.ENV_IDS)}")


def text_env(env: Any) -> TextEnv:
    """The `TextEnv` under a made env's wrappers (a `TypeError` for envs that are not `agent_envs` text envs)."""
    inner = env.unwrapped
    if not isinstance(inner, TextEnv):
        raise TypeError(f"{type(inner).__name__} is not an agent_envs.TextEnv")
    return inner


def task_ids(env_id: str, env_kwargs: dict[str, Any], split: str) -> list[str]:
    """The task ids of `split`, in canonical order, from the env made with exactly `env_kwargs`.

    Raises:
        TaskNotFound: the split does not exist (the message names the splits that do) or holds no tasks.
    """
    import gymnasium as gym

    env = gym.make(env_id, **env_kwargs)
    try:
        task_set = text_env(env).task_set
        ids = task_set.task_ids(split)
    finally:
        env.close()
    if not ids:
        raise TaskNotFound(f"split {split!r} of {env_id} has no tasks; splits: {task_set.sizes()}")
    return ids
