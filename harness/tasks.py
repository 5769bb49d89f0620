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


#: The split a benchmark plays when none is named: the first of these the env has.
EVALUATION_SPLITS = ("test", "valid", "train")


def task_ids(env_id: str, env_kwargs: dict[str, Any], split: str | None) -> tuple[str, list[str]]:
    """The split and its task ids, in canonical order, from the env made with exactly `env_kwargs`.

    Args:
        env_id: a registered id.
        env_kwargs: the `gymnasium.make` kwargs of the run (they select the task set).
        split: a split name or alias; None = the first of `EVALUATION_SPLITS` the env has (the bundled ALFWorld games
            have only `train`).

    Raises:
        TaskNotFound: the split does not exist (the message names the splits that do) or holds no tasks.
    """
    import gymnasium as gym

    env = gym.make(env_id, **env_kwargs)
    try:
        task_set = text_env(env).task_set
        if split is None:
            split = next((s for s in EVALUATION_SPLITS if s in task_set.splits() or s in task_set.aliases),
                         task_set.splits()[0] if task_set.splits() else "test")
        ids = task_set.task_ids(split)
    finally:
        env.close()
    if not ids:
        raise TaskNotFound(f"split {split!r} of {env_id} has no tasks; splits: {task_set.sizes()}")
    return split, ids
