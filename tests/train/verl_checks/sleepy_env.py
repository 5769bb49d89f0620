"""A Doors env whose every step sleeps (a stand-in for a slow env such as SWE-bench grading) and counts the steps
in flight across threads. `gym.make(ENV_ID, seconds=..., gather=N, **doors_kwargs)`; `gather=N` makes each env's
first step wait until N first steps are in flight at once (a `threading.Barrier`): it passes only when N
trajectories really step concurrently, and breaks with `BrokenBarrierError` after `gather_timeout` otherwise."""

from __future__ import annotations

import threading
import time
from typing import Any

import gymnasium as gym

import agent_envs  # noqa: F401 - registers Doors

ENV_ID = "tests.train.verl_checks.sleepy_env:aemgym_tests/SleepyDoors-v0"
STATS: dict[str, float] = {"in_flight": 0, "max_in_flight": 0, "steps": 0, "slept_s": 0.0}
_lock = threading.Lock()
_barriers: dict[int, threading.Barrier] = {}


def reset_stats() -> None:
    """Zero the counters and forget the barriers."""
    with _lock:
        STATS.update(in_flight=0, max_in_flight=0, steps=0, slept_s=0.0)
        _barriers.clear()


class SleepyStep(gym.Wrapper):
    """Sleeps `seconds` in every `step` and records how many steps are in flight."""

    def __init__(self, env: gym.Env, seconds: float, gather: int, gather_timeout: float):
        super().__init__(env)
        self.seconds, self.gather, self.gather_timeout, self.first = seconds, gather, gather_timeout, True

    def step(self, action: Any) -> Any:
        with _lock:
            STATS["in_flight"] += 1
            STATS["max_in_flight"] = max(STATS["max_in_flight"], STATS["in_flight"])
            barrier = _barriers.setdefault(self.gather, threading.Barrier(self.gather)) if self.gather else None
        try:
            if barrier is not None and self.first:
                barrier.wait(timeout=self.gather_timeout)
            self.first = False
            time.sleep(self.seconds)
        finally:
            with _lock:
                STATS["in_flight"] -= 1
                STATS["steps"] += 1
                STATS["slept_s"] += self.seconds
        return self.env.step(action)


def make(seconds: float = 1.0, gather: int = 0, gather_timeout: float = 60.0, **doors_kwargs: Any) -> gym.Env:
    """Doors (`agent_envs/Doors-v0` with `doors_kwargs`) behind `SleepyStep`."""
    return SleepyStep(gym.make("agent_envs/Doors-v0", **doors_kwargs), seconds, gather, gather_timeout)


gym.register(id="aemgym_tests/SleepyDoors-v0", entry_point=make)
