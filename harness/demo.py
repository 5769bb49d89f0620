"""`aemgym demo` (the main job of `make demo`): the embedded SmolLM2 on a few tasks of each installed built-in env,
next to two reference rows per env, the env's expert/oracle (what solving looks like) and a uniformly random
admissible action (what chance looks like), so the model's numbers can be read.

Sized for 2 CPU cores: few tasks, short turn limits, responses cut at `</action>`. Envs whose extra or data is
missing are skipped with the reason printed; the job ends with every env's report and a combined table.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

#: env id -> (tasks, turn limit, executor, reference policies; SWE-bench has no admissible-action list to draw from)
DEMO_ENVS: dict[str, tuple[int, int, str, tuple[str, ...]]] = {
    "agent_envs/Doors-v0": (4, 8, "thread", ("expert", "random")),
    "agent_envs/ALFWorld-v0": (2, 10, "process", ("expert", "random")),
    "agent_envs/WebShop-v0": (2, 8, "thread", ("expert", "random")),
    "agent_envs/SWEBench-v0": (1, 5, "thread", ("expert",)),
}
#: Episodes per task of the random reference (it is cheap, and chance needs more than a handful of episodes).
RANDOM_SAMPLES = 5


def _available(env_id: str) -> tuple[str | None, str]:
    """(split to use, "") when the env's task set loads, else (None, reason)."""
    import agent_envs

    try:
        task_set = agent_envs.env_class(env_id).load_task_set()
    except Exception as exc:  # noqa: BLE001 - missing extra / data: skip with the reason
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
    splits = task_set.splits()
    for split in ("test", "valid", "train"):
        if split in splits and task_set.size(split):
            return split, ""
    return (splits[0], "") if splits else (None, "no tasks")


def _row(env_id: str, label: str, section: Any, policy: Any, split: str, n_tasks: int, max_steps: int,
         executor: str, out: Path, samples: int = 1) -> tuple[str, str | None]:
    """One bench run: (its table row, its Markdown report or None when it failed)."""
    from harness.bench import run_bench
    from harness.config import BenchConfig

    t0 = time.perf_counter()
    config = BenchConfig.model_validate({
        "env": {"id": env_id, "split": split, "n_tasks": n_tasks, "max_steps": max_steps},
        "policy": section.model_dump(), "rollout": {"concurrency": 4, "executor": executor, "samples": samples},
        "output": {"dir": str(out / f"{env_id.split('/')[-1]}-{label}")},
    })
    try:
        summary, markdown, run_dir = run_bench(config, policy)
    except Exception as exc:  # noqa: BLE001 - one env failing must not hide the others' results
        print(f"[demo] {env_id} / {label} failed: {type(exc).__name__}: {exc}", flush=True)
        return f"| {env_id} | {label} | failed | - | - | - | {type(exc).__name__} |", None
    lo, hi = summary["success_ci95"]
    row = (f"| {env_id} | {label} | {summary['episodes']} | {100 * summary['success_rate']:.0f}% "
           f"({100 * lo:.0f}–{100 * hi:.0f}%) | {summary['mean_score']:.2f} | {summary['errors']['count']} | "
           f"{time.perf_counter() - t0:.0f} s, {run_dir} |")
    return row, markdown


def run_demo(policy: str = "smollm2", n_tasks: int | None = None, max_new_tokens: int = 48,
             out: Path | None = None) -> int:
    """Run the demo; returns a process exit code (0 when at least one env ran)."""
    from harness.config import PolicySection
    from harness.policies import build_policy

    out = Path(out or Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}")
    print(f"[demo] loading policy {policy} (the first SmolLM2 load converts the GGUF once, ~1-2 min)", flush=True)
    started = time.perf_counter()
    section = PolicySection(name=policy, max_new_tokens=max_new_tokens, stop=["</action>"], seed=0)
    if not section.is_local:
        section = section.model_copy(update={"temperature": 0.7, "seed": None})
    pol = build_policy(section, concurrency=4)
    print(f"[demo] policy ready in {time.perf_counter() - started:.1f} s", flush=True)
    rows, reports = [], []
    for env_id, (tasks, max_steps, executor, references) in DEMO_ENVS.items():
        split, reason = _available(env_id)
        if split is None:
            print(f"[demo] skipping {env_id}: {reason}", flush=True)
            rows.append(f"| {env_id} | - | skipped | - | - | - | {reason[:80]} |")
            continue
        count = n_tasks or tasks
        print(f"[demo] {env_id}: {count} task(s) of split {split!r}, <= {max_steps} turns", flush=True)
        row, markdown = _row(env_id, policy, section, pol, split, count, max_steps, executor, out)
        rows.append(row)
        reports += [markdown] if markdown else []
        for reference in references:
            row, _ = _row(env_id, reference, PolicySection(name=reference), None, split, count, max_steps, executor,
                          out, samples=RANDOM_SAMPLES if reference == "random" else 1)
            rows.append(row)
    print()
    for markdown in reports:
        print(markdown)
    print("# Demo summary\n")
    print(f"`{policy}` next to two references per env: `expert` (the env's expert or oracle: what solving looks "
          f"like) and `random` (a uniformly random admissible action each turn, {RANDOM_SAMPLES} episodes per task: "
          "what chance looks like).\n")
    print("| env | policy | episodes | success (95% CI) | mean score | errors | notes |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nTotal time {time.perf_counter() - started:.0f} s. Runs in {out}/ (report.md, report.png, episodes.jsonl)")
    print("Next: `aemgym train --learner aem` trains a tiny model on Doors with AEM (CPU, a few minutes).")
    return 0 if reports else 1
