"""`run_bench`: play tasks with a policy as a `BenchConfig` says, store the run, and report it (CLI `bench`, `demo`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness.config import BenchConfig
from harness.provenance import run_provenance
from harness.rollout import EpisodeSpec, make_executor, run_episodes_sync
from harness.rollout.env_executors import executor_kwargs, resolve_executor_name
from harness.storage import RunStore, new_run_dir
from harness.tasks import resolve_env_id, task_ids, text_env
from harness.types import Policy


def select_tasks(config: BenchConfig) -> tuple[str | None, list[str]]:
    """The split and task ids a bench run plays: `env.task_ids`, else the first `env.n_tasks` of `env.split`.

    Raises:
        TaskNotFound: an unknown split, an empty split, or an explicit task id the env does not have.
    """
    from agent_envs.errors import TaskNotFound

    env_id = resolve_env_id(config.env.id)
    if config.env.task_ids is not None:
        import gymnasium as gym

        env = gym.make(env_id, **config.env.make_kwargs())
        try:
            missing = [t for t in config.env.task_ids if t not in text_env(env).task_set]
        finally:
            env.close()
        if missing:
            raise TaskNotFound(f"{env_id} has no task {missing[0]!r} ({len(missing)} unknown task id(s))")
        return config.env.split, list(config.env.task_ids)
    split, ids = task_ids(env_id, config.env.make_kwargs(), config.env.split)
    return split, ids[: config.env.n_tasks] if config.env.n_tasks else ids


def run_label(config: BenchConfig) -> str:
    """A short name for the run directory: env and policy."""
    env = config.env.id.split("/")[-1].removesuffix("-v0").lower()
    policy = config.policy.name.replace("/", "_").replace(":", "_")
    return f"{env}-{policy}"


def run_bench(config: BenchConfig, policy: Policy | None = None, *, api_key: str | None = None,
              progress: bool = True) -> tuple[dict[str, Any], str, Path]:
    """Benchmark as `config` says; returns (summary, Markdown report, run directory).

    Args:
        config: the run configuration (what it leaves unset and its scaffold, env or local model brings is filled
            in and stored with the run: `harness.prompting.with_run_defaults`).
        policy: a ready policy (e.g. shared by several runs); None builds the one `config.policy` describes.
        api_key: for `openai` policies (never stored).
        progress: show a progress bar.

    Raises:
        FileExistsError, FileNotFoundError, ValueError: the run directory cannot be used as asked (see `RunStore`).
        TaskNotFound: see `select_tasks`.
    """
    import agent_envs
    from harness.policies import build_policy
    from harness.prompting import with_run_defaults
    from harness.report import report_run

    env_id = resolve_env_id(config.env.id)
    config = with_run_defaults(config, agent_envs.env_class(env_id))
    split, ids = select_tasks(config)
    config = config.model_copy(update={"env": config.env.model_copy(update={"split": split})})
    samples = config.rollout.samples
    specs = [EpisodeSpec(task_id=t, group_id=t, sample_index=i) for t in ids for i in range(samples)]
    run_dir = Path(config.output.dir) if config.output.dir else new_run_dir("runs/bench", run_label(config))
    header = {"command": "bench", "config": config.model_dump(mode="json"), "task_ids": ids,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "provenance": run_provenance(env_id, config.env.make_kwargs(), ids)}
    ro = config.rollout
    with RunStore(run_dir, header=header, resume=config.output.resume) as store:
        if policy is None:
            policy = build_policy(config.policy, config.model, concurrency=ro.concurrency, api_key=api_key)
        name = resolve_executor_name(ro.executor, env_id)
        executor = make_executor(name, **executor_kwargs(name, ro.concurrency, ro.workers, ro.step_timeout_s))
        try:
            run_episodes_sync(env_id, config.env.make_kwargs(), policy, specs, prompt=config.prompt,
                              concurrency=ro.concurrency, store=store, executor=executor,
                              retry_errors=ro.retry_errors, progress=progress)
        finally:
            if hasattr(executor, "shutdown"):
                executor.shutdown()
    summary, markdown = report_run(run_dir)
    return summary, markdown, run_dir
