"""Rollouts at training scale through the trainer's rollout path: many concurrent episodes per iteration, one env
executor for the whole run, every episode stored, for several iterations.

    .venv/bin/python benchmarks/rollout_scale.py --env alfworld --episodes 128 --iterations 20 --workers 2
    .venv/bin/python benchmarks/rollout_scale.py --env alfworld --iterations 5 --compare-reuse   # envs kept vs not
    .venv/bin/python benchmarks/rollout_scale.py --env alfworld --iterations 3 --workers 1 2      # scaling
    .venv/bin/python benchmarks/rollout_scale.py --env webshop --episodes 128
    .venv/bin/python benchmarks/rollout_scale.py --env swebench --episodes 8 --executor thread

Per configuration it prints one line per iteration (RSS of the harness plus all its worker processes, peak sampled
every 0.2 s, and at the end of the iteration; worker count; steps/s; reset latency p50/p95) and a summary: RSS growth
after the first iteration, steps per second, CPU per step of the engine (worker processes) and of the harness itself
(prompt building, storage, scheduling: this process), and a 16-core extrapolation from the per-process figures.
`--compare-reuse` runs the same load with envs closed after every episode (what the harness did before envs
outlived episodes) next to the default, in the same invocation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from harness.config import PromptSection
from harness.policies.scripted import ExpertPolicy, RandomPolicy
from harness.rollout import EpisodeSpec, make_executor, run_episodes
from harness.rollout.env_executors import executor_kwargs, resolve_executor_name
from harness.storage import RunStore
from harness.tasks import task_ids

ENVS = {"alfworld": "agent_envs/ALFWorld-v0", "webshop": "agent_envs/WebShop-v0", "swebench": "agent_envs/SWEBench-v0",
        "doors": "agent_envs/Doors-v0"}


class Sampler:
    """Peak RSS of this process and its descendants, sampled in a background thread."""

    def __init__(self, period_s: float = 0.2):
        self.me = psutil.Process()
        self.peak = 0
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def tree(self) -> list[psutil.Process]:
        return [self.me, *self.me.children(recursive=True)]

    def rss(self) -> int:
        total = 0
        for proc in self.tree():
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.peak = max(self.peak, self.rss())

    def reset_peak(self) -> None:
        self.peak = self.rss()

    def stop(self) -> None:
        self._stop.set()


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def run_config(args: argparse.Namespace, workers: int, reuse: bool, sampler: Sampler) -> dict[str, Any]:
    env_id = ENVS[args.env]
    kwargs = {"max_episode_steps": args.max_steps}
    ids = task_ids(env_id, kwargs, args.split)[1]
    name = resolve_executor_name(args.executor, env_id)
    exec_kwargs = executor_kwargs(name, args.episodes, workers)
    if not reuse:
        exec_kwargs["max_idle"] = 0
    executor = make_executor(name, **exec_kwargs)
    resets: list[float] = []
    original_call = executor.call

    async def timed_call(raw: Any, method: str, *a: Any, **kw: Any) -> Any:
        start = time.perf_counter()
        try:
            return await original_call(raw, method, *a, **kw)
        finally:
            if method == "reset":
                resets.append(time.perf_counter() - start)

    executor.call = timed_call  # type: ignore[method-assign]
    policy = ExpertPolicy() if args.policy == "expert" else RandomPolicy(seed=0)
    label = f"{args.env} {name} workers={workers if name == 'process' else '-'} reuse={reuse}"
    rows = []
    sampler.reset_peak()
    with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "run", header={"command": "bench"}) as store:
        try:
            for iteration in range(1, args.iterations + 1):
                specs = [EpisodeSpec(task_id=ids[(iteration * args.episodes + i) % len(ids)],
                                     group_id=f"it{iteration}-{i}", iteration=iteration, phase="train")
                         for i in range(args.episodes)]
                resets.clear()
                me_cpu0 = cpu_seconds([sampler.me])
                workers_cpu0 = cpu_seconds(sampler.tree()[1:])
                sampler.reset_peak()
                started = time.perf_counter()
                episodes = asyncio.run(run_episodes(env_id, kwargs, policy, specs, prompt=PromptSection(),
                                                    concurrency=args.episodes, store=store, executor=executor,
                                                    progress=False))
                wall = time.perf_counter() - started
                steps = sum(len(e.turns) for e in episodes)
                errors = [e for e in episodes if e.status != "ok"]
                children = sampler.tree()[1:]
                row = {
                    "iteration": iteration, "wall_s": wall, "steps": steps, "steps_per_s": steps / wall,
                    "rss_peak_mb": sampler.peak / 2**20, "rss_end_mb": sampler.rss() / 2**20,
                    "processes": len(children), "reset_p50_s": statistics.median(resets) if resets else 0.0,
                    "reset_p95_s": sorted(resets)[int(0.95 * (len(resets) - 1))] if resets else 0.0,
                    "harness_cpu_s": cpu_seconds([sampler.me]) - me_cpu0,
                    "engine_cpu_s": cpu_seconds(children) - workers_cpu0, "errors": len(errors),
                    "success": sum(e.success for e in episodes) / len(episodes),
                }
                rows.append(row)
                print(f"[{label}] it {iteration}: {steps} steps in {wall:.1f} s = {row['steps_per_s']:.1f} steps/s; "
                      f"RSS peak {row['rss_peak_mb']:.0f} MB, end {row['rss_end_mb']:.0f} MB; "
                      f"{row['processes']} child processes; reset p50 {row['reset_p50_s']:.3f} s p95 "
                      f"{row['reset_p95_s']:.3f} s; errors {row['errors']}; success {row['success']:.2f}",
                      flush=True)
                if errors:
                    print(f"   first error: {(errors[0].error or '').strip().splitlines()[-1][:200]}", flush=True)
        finally:
            if hasattr(executor, "shutdown"):
                executor.shutdown()
    made = getattr(executor, "made", 0)
    steps = sum(r["steps"] for r in rows)
    later = rows[1:] or rows
    summary = {
        "label": label, "steps_per_s": steps / sum(r["wall_s"] for r in rows),
        "rss_first_mb": rows[0]["rss_end_mb"], "rss_last_mb": rows[-1]["rss_end_mb"],
        "rss_growth_after_first_mb": rows[-1]["rss_end_mb"] - rows[0]["rss_end_mb"],
        "rss_peak_mb": max(r["rss_peak_mb"] for r in rows),
        "engine_cpu_ms_per_step": 1000 * sum(r["engine_cpu_s"] for r in later) / max(1, sum(r["steps"] for r in later)),
        "harness_cpu_ms_per_step": 1000 * sum(r["harness_cpu_s"] for r in later) / max(1,
                                                                                      sum(r["steps"] for r in later)),
        "envs_made": made, "episodes": args.episodes * len(rows),
    }
    print(f"[{label}] summary: {summary['steps_per_s']:.1f} steps/s; RSS after it. 1 {summary['rss_first_mb']:.0f} MB "
          f"-> last {summary['rss_last_mb']:.0f} MB (growth {summary['rss_growth_after_first_mb']:+.0f} MB), peak "
          f"{summary['rss_peak_mb']:.0f} MB; envs made {made} for {summary['episodes']} episodes; CPU per step: engine "
          f"{summary['engine_cpu_ms_per_step']:.1f} ms, harness {summary['harness_cpu_ms_per_step']:.2f} ms",
          flush=True)
    return summary


def main() -> None:
    """Parse flags and run each configuration."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", choices=sorted(ENVS), default="alfworld")
    parser.add_argument("--split", default="train")
    parser.add_argument("--episodes", type=int, default=128, help="episodes per iteration, all in flight at once")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--max-steps", type=int, default=10, help="turn limit of each episode")
    parser.add_argument("--policy", choices=("random", "expert"), default="random")
    parser.add_argument("--executor", default="auto")
    parser.add_argument("--workers", type=int, nargs="+", default=[2], help="worker processes (several: scaling)")
    parser.add_argument("--compare-reuse", action="store_true", help="also run with envs closed after each episode")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sampler = Sampler()
    print(f"machine: {os.cpu_count()} cores; {args.env}: {args.episodes} episodes x {args.iterations} iterations, "
          f"<= {args.max_steps} turns, {args.policy} policy", flush=True)
    results = []
    for workers in args.workers:
        for reuse in ((False, True) if args.compare_reuse else (True,)):
            results.append(run_config(args, workers, reuse, sampler))
    sampler.stop()
    if len(args.workers) > 1:
        base = results[0]["steps_per_s"]
        for workers, result in zip(args.workers, results, strict=False):
            ratio = result["steps_per_s"] / base
            print(f"scaling: {workers} worker(s) {result['steps_per_s']:.1f} steps/s = {ratio:.2f}x")
    best = results[-1]
    if best["engine_cpu_ms_per_step"] < 1e-3:  # thread / inline executor: the env runs in this process
        print(f"the envs ran in this process: {best['harness_cpu_ms_per_step']:.2f} ms CPU per step for harness and "
              "engine together (no per-worker figure to extrapolate from)")
        return
    cores = 16
    per_core = 1000 / best["engine_cpu_ms_per_step"]
    print(f"extrapolation to {cores} cores ({cores} workers, the engine's CPU per step measured here): "
          f"~{per_core * cores:.0f} steps/s if the engine scales as measured; the harness needs "
          f"{best['harness_cpu_ms_per_step'] * per_core * cores / 1000:.2f} cores for it")

if __name__ == "__main__":
    main()
