"""The `aemgym` command line: list envs, play an env, serve a model, run the demo; `bench`, `train`, `report` and
the env-specific groups come from `harness/commands/<name>.py` modules that define `register(app)`.
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
def play(
    env: str = typer.Argument("doors", help="Env id or short name."),
    task_id: str = typer.Option(None, help="Task id (default: drawn from the split with --seed)."),
    split: str = typer.Option(None, help="Split to draw from (default: the env's own default split)."),
    seed: int = typer.Option(0, help="Seed for the task draw."),
) -> None:
    """Play an env yourself in the terminal. Type an action (tags optional); `quit` to stop."""
    import gymnasium as gym

    from agent_envs.errors import AgentEnvsError
    from harness.commands.options import fail
    from harness.tasks import resolve_env_id

    try:
        env_obj = gym.make(resolve_env_id(env))
        options = {"task_id": task_id} if task_id else ({"split": split} if split else None)
        obs, info = env_obj.reset(seed=seed, options=options)
    except (AgentEnvsError, ValueError) as exc:
        raise fail(str(exc).splitlines()[0]) from None
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
            total += float(reward)
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
