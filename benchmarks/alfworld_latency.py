"""ALFWorld speed: reset/step latency through `agent_envs/ALFWorld-v0` vs the raw engine, and K worker processes vs 1.

    .venv/bin/python benchmarks/alfworld_latency.py [--data-dir ../shared/data/alfworld] [--games 6] [--workers 2]

Same games, same run, interleaved (raw, ours, raw, ours, ...) so machine load affects both alike. The raw engine is
TextWorld's `PddlEnv` + `AlfredDemangler` + `AlfredInfos` driven directly; ours is `gymnasium.make(...)` with its
wrappers, parsing `<action>` tags and checking admissibility. Commands: each game's shipped walkthrough (train split).
Targets: step/reset overhead <= 5 %; K=2 workers >= 1.8x the episodes/s of one worker.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import gymnasium as gym

import agent_envs  # noqa: F401
from agent_envs.alfworld.data import load_tasks
from agent_envs.alfworld.engine import read_game
from agent_envs.alfworld.pool import run_expert_episodes

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "alfworld"


def raw_episode(raw, game_file: str, commands: list[str]) -> tuple[float, list[float]]:
    """Load+reset time and per-step times on the raw engine."""
    t0 = time.perf_counter()
    raw.load(game_file)
    raw.reset()
    reset_s = time.perf_counter() - t0
    steps = []
    for command in commands:
        t0 = time.perf_counter()
        raw.step(command)
        steps.append(time.perf_counter() - t0)
    return reset_s, steps


def our_episode(env, task_id: str, commands: list[str]) -> tuple[float, list[float]]:
    """Reset time (new game: load+reset) and per-step times through gymnasium.make."""
    t0 = time.perf_counter()
    env.reset(options={"task_id": task_id})
    reset_s = time.perf_counter() - t0
    steps = []
    for command in commands:
        t0 = time.perf_counter()
        env.step(f"<think>next</think><action>{command}</action>")
        steps.append(time.perf_counter() - t0)
    return reset_s, steps


class EngineTimer:
    """Wraps an env's engine methods to time the engine alone, so our own per-call cost can be isolated from load."""

    def __init__(self, engine) -> None:
        self.inner = 0.0
        for name in ("load", "reset", "step"):
            setattr(engine, name, self._timed(getattr(engine, name)))

    def _timed(self, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.inner += time.perf_counter() - t0

        return wrapper


def own_overhead(env, task_id: str, commands: list[str]) -> tuple[float, float, float, float]:
    """(env step total, engine step time, env reset total, engine load+reset time) for one episode."""
    timer = EngineTimer(env.unwrapped.engine)
    t0 = time.perf_counter()
    env.reset(options={"task_id": task_id})
    reset_total, reset_inner = time.perf_counter() - t0, timer.inner
    timer.inner = 0.0
    t0 = time.perf_counter()
    for command in commands:
        env.step(f"<think>next</think><action>{command}</action>")
    return time.perf_counter() - t0, timer.inner, reset_total, reset_inner


def main() -> None:
    """Run both benchmarks and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--games", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--throughput-games", type=int, default=12)
    args = parser.parse_args()

    import textworld
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
    from textworld.envs.pddl import PddlEnv

    tasks = load_tasks(args.data_dir).tasks("train")[: args.games]
    walks = [read_game(dict(t.data))["walkthrough"] for t in tasks]
    infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])
    raw = AlfredInfos(AlfredDemangler(PddlEnv(infos), shuffle=False))
    ours = {
        "ours": gym.make("agent_envs/ALFWorld-v0", data_dir=str(args.data_dir), plan_cache=None),
        "ours_no_reuse": gym.make("agent_envs/ALFWorld-v0", data_dir=str(args.data_dir), plan_cache=None),
    }
    ours["ours_no_reuse"].unwrapped.engine.reuse_loaded_state = False
    resets: dict[str, list[float]] = {"raw": [], "ours": [], "ours_no_reuse": []}
    steps: dict[str, list[float]] = {"raw": [], "ours": [], "ours_no_reuse": []}
    for _ in range(args.rounds):
        for task, walk in zip(tasks, walks, strict=True):
            r, s = raw_episode(raw, task.data["game_file"], walk)
            resets["raw"].append(r)
            steps["raw"] += s
            for name, env in ours.items():
                r, s = our_episode(env, task.task_id, walk)
                resets[name].append(r)
                steps[name] += s
    print(f"ALFWorld latency: {len(tasks)} train games x {args.rounds} rounds, walkthrough commands, same run")
    base_r, base_s = statistics.median(resets["raw"]), statistics.median(steps["raw"])
    for name in resets:
        med_r, med_s = statistics.median(resets[name]), statistics.median(steps[name])
        print(f"  {name:14s} reset (load+reset) median {med_r * 1000:7.1f} ms  ({med_r / base_r:5.3f}x raw)   "
              f"step median {med_s * 1000:6.1f} ms ({med_s / base_s:5.3f}x raw, n={len(steps[name])})")
    totals = [0.0, 0.0, 0.0, 0.0]
    for task, walk in zip(tasks, walks, strict=True):
        fresh = gym.make("agent_envs/ALFWorld-v0", data_dir=str(args.data_dir), plan_cache=None)
        totals = [a + b for a, b in zip(totals, own_overhead(fresh, task.task_id, walk), strict=True)]
        fresh.close()
    step_pct = (totals[0] - totals[1]) / totals[1] * 100
    reset_pct = (totals[2] - totals[3]) / totals[3] * 100
    print(f"  our own code per call (env time minus engine time, load-independent): "
          f"step +{step_pct:.2f}%, reset +{reset_pct:.2f}%")
    for env in ours.values():
        env.close()

    ids = [t.task_id for t in load_tasks(args.data_dir).tasks("train")[: args.throughput_games]]
    kwargs = {"data_dir": str(args.data_dir), "plan_cache": None}
    rates = {}
    for k in (1, args.workers):
        run_expert_episodes(ids[:k], k, kwargs)  # warm the OS file cache
        t0 = time.perf_counter()
        results = run_expert_episodes(ids, k, kwargs)
        elapsed = time.perf_counter() - t0
        assert all(r["won"] for r in results), [r for r in results if not r["won"]][:1]
        rates[k] = len(ids) / elapsed
        print(f"  {k} worker(s): {len(ids)} expert episodes in {elapsed:6.1f} s = {rates[k]:.3f} episodes/s")
    print(f"  throughput {args.workers} workers / 1 worker: {rates[args.workers] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
