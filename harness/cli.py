"""The `aemgym` command line: list envs, benchmark a policy, report a run, play an env, serve a model, run the demo.

Other components add commands through `harness/commands/<name>.py` modules that define `register(app)`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import typer

app = typer.Typer(
    name="aemgym",
    help="AEM Gym: multi-turn LLM agent environments, a benchmark harness and RL training.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

SAMPLING_HELP = "Sampling"


def build_policy(
    spec: str,
    *,
    max_new_tokens: int | None = None,
    temperature: float | None = None,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    concurrency: int = 8,
    policy_args: list[str] | None = None,
):
    """A policy from a spec and the CLI's sampling flags (each family gets the flags it understands)."""
    from harness.bench import parse_kv
    from harness.policies import make_policy

    kwargs = parse_kv(policy_args)
    family = spec.partition(":")[0]
    if family == "openai":
        for key, value in {"max_tokens": max_new_tokens, "temperature": temperature, "base_url": base_url,
                           "model": model, "api_key": api_key}.items():
            if value is not None:
                kwargs.setdefault(key, value)
        kwargs.setdefault("concurrency", concurrency)
    elif family in ("hf", "smollm2", "tiny"):
        if max_new_tokens is not None:
            kwargs.setdefault("max_new_tokens", max_new_tokens)
        if temperature is not None:
            kwargs.setdefault("temperature", temperature)
        kwargs.setdefault("max_batch", max(1, concurrency))
    return make_policy(spec, **kwargs)


@app.command()
def envs() -> None:
    """List the registered envs with their splits and sizes (and why an env is unavailable)."""
    from rich.console import Console
    from rich.table import Table

    import agent_envs

    table = Table(title="agent_envs environments")
    for column in ("id", "max turns", "splits (tasks)", "status"):
        table.add_column(column)
    import gymnasium as gym

    for env_id in agent_envs.ENV_IDS:
        turns = str(gym.spec(env_id).max_episode_steps)
        try:
            task_set = agent_envs.env_class(env_id).load_task_set()
            sizes = ", ".join(f"{s} {n}" for s, n in task_set.sizes().items())
            table.add_row(env_id, turns, sizes, "[green]ok[/green]")
        except Exception as exc:  # noqa: BLE001 - an env without its extra or data is reported, not fatal
            reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
            table.add_row(env_id, turns, "-", f"[red]unavailable[/red] ({reason})")
    Console().print(table)


@app.command()
def bench(
    env: str = typer.Argument(..., help="Env id or short name, e.g. doors, alfworld, agent_envs/WebShop-v0."),
    split: str = typer.Option("test", help="Task split."),
    n_tasks: int = typer.Option(10, "--n-tasks", "-n", help="First N tasks of the split (0 = all)."),
    samples: int = typer.Option(1, "--samples", "-k", help="Samples (episodes) per task."),
    policy: str = typer.Option("smollm2", "--policy", "-p",
                               help="smollm2, tiny, openai[:model], hf:<dir>, expert, random, or pkg.module:Class."),
    concurrency: int = typer.Option(8, "--concurrency", "-c", help="Episodes in flight."),
    executor: str = typer.Option("thread", help="Where envs run: thread, inline, process, ray."),
    out: Path = typer.Option(None, "--out", "-o", help="Run directory (default runs/<env>-<policy>-<time>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed run in --out, skipping finished episodes."),
    max_steps: int = typer.Option(None, "--max-steps", help="Turn limit (default: the env's registered limit)."),
    env_arg: list[str] = typer.Option(None, "--env-arg", help="Env constructor argument key=value (repeatable)."),
    policy_arg: list[str] = typer.Option(None, "--policy-arg", help="Policy argument key=value (repeatable)."),
    max_new_tokens: int = typer.Option(None, help="Max tokens per response.", rich_help_panel=SAMPLING_HELP),
    temperature: float = typer.Option(None, help="Sampling temperature (0 = greedy).", rich_help_panel=SAMPLING_HELP),
    base_url: str = typer.Option(None, help="OpenAI-compatible base URL (or AEMGYM_BASE_URL).",
                                 rich_help_panel=SAMPLING_HELP),
    model: str = typer.Option(None, help="Model name for openai (or AEMGYM_MODEL).", rich_help_panel=SAMPLING_HELP),
    api_key: str = typer.Option(None, help="API key (or AEMGYM_API_KEY / OPENAI_API_KEY).",
                                rich_help_panel=SAMPLING_HELP),
    template: str = typer.Option(None, help="Prompt template name from the env's PROMPTS."),
    history: int = typer.Option(2, help="Past (observation, action) pairs shown in the prompt."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Benchmark a policy on an env: play N tasks x k samples, store every turn, print the report."""
    from harness.bench import parse_kv, run_bench
    from harness.prompting import PromptConfig

    env_kwargs = parse_kv(env_arg)
    if max_steps:
        env_kwargs["max_episode_steps"] = max_steps
    pol = build_policy(policy, max_new_tokens=max_new_tokens, temperature=temperature, base_url=base_url,
                       model=model, api_key=api_key, concurrency=concurrency, policy_args=policy_arg)
    try:
        _, markdown, run_dir = run_bench(
            env, pol, policy_spec=policy, split=split, n_tasks=n_tasks or None, samples=samples,
            concurrency=concurrency, executor=executor, out=out, resume=resume, env_kwargs=env_kwargs,
            prompt=PromptConfig(template=template, history_length=history), progress=progress,
        )
    except (FileExistsError, ValueError) as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(markdown)
    typer.echo(f"run directory: {run_dir} (report.md, report.png, summary.json, episodes.jsonl)")


@app.command()
def report(
    run_dirs: list[Path] = typer.Argument(..., help="A run directory of `aemgym bench`, or training runs to compare."),
) -> None:
    """Summarise a run: success rate with 95% Wilson CI, score, per task type, tokens, latency (Markdown + PNG).

    Training runs (`aemgym train`) get their training curves instead, as `aemgym train-report` draws them.
    """
    from harness.report import report_run
    from harness.train.report import is_training_run

    if any(is_training_run(run) for run in run_dirs):
        from harness.commands.train import train_report

        train_report(run_dirs, out=None)
        return
    if len(run_dirs) > 1:
        typer.secho("error: several directories are compared only for training runs", fg="red", err=True)
        raise typer.Exit(2)
    run_dir = run_dirs[0]
    try:
        _, markdown = report_run(run_dir)
    except FileNotFoundError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(markdown)
    typer.echo(f"wrote {run_dir / 'report.md'}, {run_dir / 'report.png'}, {run_dir / 'summary.json'}")


@app.command()
def play(
    env: str = typer.Argument("doors", help="Env id or short name."),
    task_id: str = typer.Option(None, help="Task id (default: drawn from the split with --seed)."),
    split: str = typer.Option("test", help="Split to draw from."),
    seed: int = typer.Option(0, help="Seed for the task draw."),
) -> None:
    """Play an env yourself in the terminal. Type an action (tags optional); `quit` to stop."""
    import gymnasium as gym

    from harness.bench import resolve_env_id

    env_obj = gym.make(resolve_env_id(env), split=split)
    options = {"task_id": task_id} if task_id else None
    obs, info = env_obj.reset(seed=seed, options=options)
    typer.secho(f"task {info.get('task_id')} ({info.get('task_type')})", bold=True)
    total = 0.0
    try:
        while True:
            typer.echo(f"\n{obs}")
            if info.get("admissible_actions"):
                typer.secho("actions: " + " | ".join(map(str, info["admissible_actions"][:40])), dim=True)
            try:
                line = input("> ")
            except EOFError:
                break
            if line.strip() in ("quit", "exit"):
                break
            action = line if "<action>" in line else f"<action>{line}</action>"
            obs, reward, terminated, truncated, info = env_obj.step(action)
            total += reward
            if not info.get("action_valid", True):
                typer.secho("(invalid action)", fg="yellow")
            if terminated or truncated:
                typer.echo(f"\n{obs}")
                break
        typer.secho(f"\nreward {total:.2f} · success {info.get('success')} · score {info.get('score')}", bold=True)
    finally:
        env_obj.close()


@app.command()
def serve(
    model: str = typer.Option("smollm2", help="tiny, smollm2, or a local checkpoint directory."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (local only by default)."),
    port: int = typer.Option(8000, help="Port."),
    max_batch: int = typer.Option(8, help="Requests generated together."),
) -> None:
    """Serve a local model over an OpenAI-compatible API (/v1/models, /v1/chat/completions)."""
    from harness.serve.openai_server import serve_forever

    serve_forever(model, host=host, port=port, max_batch=max_batch)


@app.command()
def demo(
    n_tasks: int = typer.Option(0, "--n-tasks", "-n", help="Tasks per env (0 = the demo's defaults)."),
    max_new_tokens: int = typer.Option(48, help="Max tokens per response."),
    policy: str = typer.Option("smollm2", help="Policy spec (default: the embedded SmolLM2-135M-Instruct)."),
    out: Path = typer.Option(None, help="Directory for the runs (default runs/demo-<time>)."),
) -> None:
    """The main job: the embedded SmolLM2 on a few tasks of every installed built-in env, then the reports."""
    from harness.demo import run_demo

    raise typer.Exit(run_demo(policy=policy, n_tasks=n_tasks or None, max_new_tokens=max_new_tokens, out=out))


def _register_plugins() -> None:
    """Call `register(app)` of every module in `harness/commands/` (a broken plug-in is reported, not fatal)."""
    import harness.commands as commands

    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        try:
            module = importlib.import_module(f"harness.commands.{module_info.name}")
            register = getattr(module, "register", None)
            if register is not None:
                register(app)
        except Exception as exc:  # noqa: BLE001
            print(f"aemgym: command module {module_info.name!r} failed to load: {exc}", file=sys.stderr)


_register_plugins()

if __name__ == "__main__":
    app()
