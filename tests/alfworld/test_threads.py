"""Several ALFWorld envs created, reset and stepped at the same time in threads (the harness's thread executor).

textworld parses grammars and text with module-level tatsu parsers; before `ENGINE_LOCK`, concurrent loads failed
with `IndexError: pop from empty list` (or a spurious `FailedToken`) within the first reset.
"""

from __future__ import annotations

import threading
import traceback

import gymnasium as gym

import agent_envs  # noqa: F401 - registers the ids
from agent_envs.alfworld.pool import play_expert_episode

N_THREADS = 6


def test_envs_created_reset_and_stepped_concurrently_in_threads() -> None:
    barrier = threading.Barrier(N_THREADS)
    results: dict[int, list[dict]] = {}
    errors: list[str] = []

    def worker(i: int) -> None:
        env = None
        try:
            barrier.wait(timeout=60)  # start together: construction and the first load overlap
            env = gym.make("agent_envs/ALFWorld-v0", expert=True, plan_cache=None)
            ids = env.unwrapped.task_set.task_ids("train")
            # two different bundled games per thread, so loads, resets, steps and expert plans all interleave
            results[i] = [play_expert_episode(env, ids[(i + k) % len(ids)]) for k in range(2)]
        except Exception:  # noqa: BLE001 - collected and asserted in the main thread
            errors.append(traceback.format_exc())
        finally:
            if env is not None:
                env.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(N_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung (deadlock?)"
    assert not errors, errors[0]
    assert sorted(results) == list(range(N_THREADS))
    episodes = [r for runs in results.values() for r in runs]
    assert len(episodes) == 2 * N_THREADS
    assert all(r["won"] and r["invalid"] == 0 and r["plan_source"] == "planner" for r in episodes), episodes
    # the six bundled games, each one played by two threads
    assert len({r["task_id"] for r in episodes}) == 6
