"""Parallel ALFWorld episodes: one env per worker process (spawn), our own pool instead of textworld's async mode.

Each worker holds one `ALFWorldEnv` (~100 MB, CPU-bound: one per process so they run truly in parallel) and plays
whole episodes; only small dicts cross process boundaries.

    results = run_expert_episodes(task_ids, n_workers=2, env_kwargs={"data_dir": "..."})
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

_ENV: Any = None


def _init_worker(env_kwargs: dict[str, Any]) -> None:
    global _ENV
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import gymnasium as gym

    import agent_envs  # noqa: F401 - registers the ids

    _ENV = gym.make("agent_envs/ALFWorld-v0", **{"expert": True, **env_kwargs})


def play_expert_episode(env: Any, task_id: str) -> dict[str, Any]:
    """Play one episode of `task_id` by replaying the expert's plan through `env` (a `gymnasium.make` env)."""
    start = time.perf_counter()
    obs, info = env.reset(options={"task_id": task_id})
    steps, reward, terminated, truncated, invalid = 0, 0.0, False, False, 0
    commands = []
    while not (terminated or truncated):
        command = info["expert_action"]
        commands.append(command)
        obs, r, terminated, truncated, info = env.step(f"<action>{command}</action>")
        reward += r
        steps += 1
        invalid += not info["action_valid"]
    return {
        "task_id": task_id,
        "task_type": info["task_type"],
        "won": bool(info["won"]),
        "steps": steps,
        "reward": reward,
        "invalid": invalid,
        "plan_source": env.unwrapped.expert_plan_source,
        "plan_seconds": env.unwrapped.expert_plan_seconds,
        "commands": commands,
        "last_observation": obs,
        "seconds": time.perf_counter() - start,
    }


def _run_one(task_id: str) -> dict[str, Any]:
    try:
        return play_expert_episode(_ENV, task_id)
    except Exception:  # noqa: BLE001 - one broken game must not stop the batch; the caller sees the error
        return {"task_id": task_id, "won": False, "error": traceback.format_exc()}


def run_expert_episodes(
    task_ids: list[str], n_workers: int = 2, env_kwargs: dict[str, Any] | None = None, progress: bool = False
) -> list[dict[str, Any]]:
    """Play the expert on every task id in `n_workers` processes; results in the order of `task_ids`.

    With `progress`, one line per finished episode goes to stderr (won, steps, plan source and time).
    """
    ctx = mp.get_context("spawn")
    start = time.perf_counter()
    with ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_init_worker, initargs=(env_kwargs or {},)) as pool:
        futures = {pool.submit(_run_one, task_id): i for i, task_id in enumerate(task_ids)}
        results: list[dict[str, Any]] = [{} for _ in task_ids]
        for done, future in enumerate(as_completed(futures), 1):
            result = results[futures[future]] = future.result()
            if progress:
                print(f"[alfworld expert {done}/{len(task_ids)} {time.perf_counter() - start:5.0f}s] "
                      f"won={result['won']} steps={result.get('steps')} plan={result.get('plan_source')} "
                      f"{result.get('plan_seconds', 0):.1f}s/{result.get('seconds', 0):.1f}s {result['task_id']}",
                      file=sys.stderr, flush=True)  # fmt: skip
        return results
