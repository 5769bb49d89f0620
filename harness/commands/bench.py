"""`aemgym bench`: play tasks of an env with a policy, store every turn, print the report."""

from __future__ import annotations

import typer

from harness.commands import options as o


def bench(
    env: str = typer.Argument(None, help="Env id or short name, e.g. doors, alfworld, agent_envs/WebShop-v0 "
                                         "(default: env.id of the config)."),
    config: o.Config = None,
    split: o.Split = None,
    n_tasks: int = typer.Option(None, "--n-tasks", "-n", help="First N tasks of the split (0 = all)."),
    samples: int = typer.Option(None, "--samples", "-k", help="Samples (episodes) per task."),
    policy: o.Policy = None,
    concurrency: o.Concurrency = None,
    executor: o.Executor = None,
    out: o.Out = None,
    resume: o.Resume = False,
    max_steps: o.MaxSteps = None,
    env_arg: o.EnvArg = None,
    policy_arg: o.PolicyArg = None,
    seed: o.Seed = None,
    temperature: o.Temperature = None,
    max_new_tokens: o.MaxNewTokens = None,
    base_url: o.BaseUrl = None,
    model: o.Model = None,
    api_key: o.ApiKey = None,
    scaffold: o.Scaffold = None,
    template: o.Template = None,
    history: o.History = None,
    retry_errors: bool = typer.Option(None, "--retry-errors/--no-retry-errors",
                                      help="On --resume, play again the episodes that ended in an infrastructure "
                                           "error (default: yes)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Benchmark a policy on an env: play N tasks x k samples, store every turn, print the report."""
    from agent_envs.errors import AgentEnvsError
    from harness.bench import run_bench
    from harness.config import BenchConfig

    specs, old_concurrency = o.split_deprecated_concurrency(config)
    specs = o.resumed_specs(out, resume, specs)
    flags = {
        "env.id": env, "env.split": split, "env.n_tasks": n_tasks or None,
        "rollout.samples": samples, "policy.name": policy, "rollout.concurrency": concurrency or old_concurrency,
        "rollout.executor": executor, "output.dir": str(out) if out else None, "output.resume": resume or None,
        "env.max_steps": max_steps, "policy.seed": seed, "policy.temperature": temperature,
        "policy.max_new_tokens": max_new_tokens, "policy.base_url": base_url, "policy.model": model,
        "prompt.scaffold": scaffold, "prompt.template": template, "prompt.history_length": history,
        "rollout.retry_errors": retry_errors,
        **o.pairs("env.kwargs", env_arg), **o.pairs("policy.args", policy_arg),
    }
    if n_tasks == 0:
        specs.append("env.n_tasks=null")
    cfg = o.build_config(BenchConfig, specs, flags)
    try:
        _, markdown, run_dir = run_bench(cfg, api_key=api_key, progress=progress)
    except (FileExistsError, FileNotFoundError, ValueError, AgentEnvsError) as exc:
        raise o.fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    typer.echo(markdown)
    typer.echo(f"run directory: {run_dir} (report.md, report.png, summary.json, episodes.jsonl)")


def register(app: typer.Typer) -> None:
    """Add `bench`."""
    app.command("bench")(bench)
