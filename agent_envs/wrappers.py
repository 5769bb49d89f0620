"""Wrappers `gymnasium.make` adds to every built-in env (see `registration.py`)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from gymnasium.wrappers import TimeLimit


class TurnLimitNotice(gym.Wrapper[str, str, str, str], gym.utils.RecordConstructorArgs):
    """Hands the turn limit of `gymnasium.make` to the env.

    `gymnasium.make(id, max_episode_steps=N)` keeps N in its `TimeLimit` wrapper only. An env that must act before
    the limit truncates it (SWE-bench grades the current diff on the last turn) reads `env.unwrapped.turn_limit`,
    which this outermost wrapper sets from the `TimeLimit` beneath it (None when there is none).
    """

    def __init__(self, env: gym.Env[Any, Any]):
        gym.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        limit, inner = None, env
        while isinstance(inner, gym.Wrapper):
            if isinstance(inner, TimeLimit):
                limit = inner._max_episode_steps
                break
            inner = inner.env
        env.unwrapped.turn_limit = limit  # type: ignore[attr-defined]
