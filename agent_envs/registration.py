"""Registration of the built-in envs with `gymnasium.register` (string entry points: nothing heavy is imported)."""

from __future__ import annotations

import importlib

import gymnasium as gym
from gymnasium.envs.registration import WrapperSpec

from agent_envs.core import TextEnv

NAMESPACE = "agent_envs"
#: Added by `gymnasium.make` outside its `TimeLimit`: tells the env its turn limit (`TextEnv.turn_limit`).
TURN_LIMIT_NOTICE = WrapperSpec("TurnLimitNotice", "agent_envs.wrappers:TurnLimitNotice", {})

#: env id -> (entry point, max_episode_steps, default kwargs)
BUILTIN_ENVS: dict[str, tuple[str, int, dict]] = {
    "Doors-v0": ("agent_envs.doors.env:DoorsEnv", 8, {}),
    "Codes-v0": ("agent_envs.codes.env:CodesEnv", 6, {}),
    "ALFWorld-v0": ("agent_envs.alfworld.env:ALFWorldEnv", 50, {}),
    "WebShop-v0": ("agent_envs.webshop.env:WebShopEnv", 15, {}),
    "WebShopBrowser-v0": ("agent_envs.webshop.browser_env:WebShopBrowserEnv", 15, {}),
    "SWEBench-v0": ("agent_envs.swebench.env:SWEBenchEnv", 50, {}),
}
ENV_IDS = [f"{NAMESPACE}/{name}" for name in BUILTIN_ENVS]


def register_all() -> None:
    """Register every built-in env (idempotent: ids already registered are left alone)."""
    for name, (entry_point, max_steps, kwargs) in BUILTIN_ENVS.items():
        env_id = f"{NAMESPACE}/{name}"
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, max_episode_steps=max_steps, kwargs=dict(kwargs),
                         additional_wrappers=(TURN_LIMIT_NOTICE,))


def env_class(env_id: str) -> type[TextEnv]:
    """The `TextEnv` subclass behind a registered id (imports its module), e.g. to call `load_task_set()`."""
    spec = gym.spec(env_id)
    entry_point = spec.entry_point
    if not isinstance(entry_point, str):
        return entry_point  # type: ignore[return-value]
    module, _, attr = entry_point.partition(":")
    return getattr(importlib.import_module(module), attr)
