"""A test env whose step hangs on the action "hang" (made in worker processes as `tests.harness.hang_env:Hang-v0`)."""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym

from agent_envs.spaces import UnicodeText


class HangEnv(gym.Env[str, str]):
    """Answers every action with "ok"; the action "hang" sleeps for an hour first."""

    def __init__(self) -> None:
        self.observation_space = self.action_space = UnicodeText(1000)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        return "start", {"task_id": (options or {}).get("task_id")}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict]:
        if action == "hang":
            time.sleep(3600)
        return "ok", 0.0, False, False, {}


if "Hang-v0" not in gym.registry:
    gym.register("Hang-v0", entry_point=HangEnv)
