"""`run_bench`: play the first N tasks of a split with a policy, store the run, and report it (CLI `bench`, `demo`)."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

import agent_envs
from harness.prompting import PromptConfig
from harness.types import Policy


def resolve_env_id(name: str) -> str:
    """A registered env id from a full id or a short name: "doors", "Doors-v0", "agent_envs/Doors-v0"."""
    import gymnasium as gym

    if name in gym.registry:
        return name
    wanted = name.lower().removeprefix("agent_envs/").removesuffix("-v0")
    for env_id in agent_envs.ENV_IDS:
        short = env_id.split("/")[-1].lower().removesuffix("-v0")
        if short == wanted:
            return env_id
    raise ValueError(f"unknown env {name!r}; known: {', '.join(agent_envs.ENV_IDS)}")


def parse_kv(pairs: list[str] | None) -> dict[str, Any]:
    """`["a=1", "b=x", "c=true"]` → `{"a": 1, "b": "x", "c": True}` (Python literals where they parse)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value, got {pair!r}")
        lowered = raw.lower()
        if lowered in ("true", "false"):
            out[key] = lowered == "true"
            continue
        try:
            out[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key] = raw
    return out


def select_specs(env_id: str, split: str, n_tasks: int | None, samples: int, env_kwargs: dict[str, Any]) -> list[Any]:
    """Episode specs for the first `n_tasks` tasks of `split` (canonical order), `samples` each."""
    from harness.rollout import EpisodeSpec

    task_kwargs = {k: v for k, v in env_kwargs.items() if k != "max_episode_steps"}
    env_cls = agent_envs.env_class(env_id)
    try:
        task_set = env_cls.load_task_set(**task_kwargs)
    except TypeError:  # kwargs meant for the env constructor only
        task_set = env_cls.load_task_set()
    task_ids = task_set.task_ids(split)
    if n_tasks is not None:
        task_ids = task_ids[:n_tasks]
    return [EpisodeSpec(task_id=t, group_id=t, sample_index=i) for t in task_ids for i in range(samples)]


def run_bench(
    env: str,
    policy: Policy,
    *,
    policy_spec: str,
    split: str = "test",
    n_tasks: int | None = 10,
    samples: int = 1,
    concurrency: int = 8,
    executor: str = "thread",
    out: str | Path | None = None,
    resume: bool = False,
    env_kwargs: dict[str, Any] | None = None,
    prompt: PromptConfig | None = None,
    progress: bool = True,
) -> tuple[dict[str, Any], str, Path]:
    """Benchmark `policy` on `env`; returns (summary, markdown report, run directory)."""
    from harness.report import report_run
    from harness.rollout import run_episodes_sync
    from harness.storage import RunStore

    env_id = resolve_env_id(env)
    env_kwargs = dict(env_kwargs or {})
    specs = select_specs(env_id, split, n_tasks, samples, env_kwargs)
    if out is None:
        out = Path("runs") / f"{env_id.split('/')[-1]}-{policy_spec.replace('/', '_').replace(':', '_')}-" \
                              f"{time.strftime('%Y%m%d-%H%M%S')}"
    prompt = prompt or PromptConfig()
    config = {
        "env_id": env_id,
        "split": split,
        "policy": policy_spec,
        "policy_name": getattr(policy, "name", policy_spec),
        "task_ids": sorted({s.task_id for s in specs}),
        "samples_per_task": samples,
        "env_kwargs": env_kwargs,
        "prompt": prompt.to_dict(),
        "concurrency": concurrency,
        "executor": executor,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    with RunStore(out, config=config, resume=resume) as store:
        run_episodes_sync(env_id, env_kwargs, policy, specs, prompt=prompt, concurrency=concurrency, store=store,
                          executor=executor, progress=progress)
    summary, markdown = report_run(out)
    return summary, markdown, Path(out)
