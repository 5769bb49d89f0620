"""`aemgym alfworld ...`: inspect ALFWorld data and run the planner expert (imports happen inside the commands)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

alfworld_app = typer.Typer(help="ALFWorld: splits as loaded, planner-expert runs.", no_args_is_help=True)


@alfworld_app.command("splits")
def splits(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="alfworld-download dir (default $ALFWORLD_DATA)."),  # noqa: UP045
    archive: Optional[Path] = typer.Option(None, "--archive", help="tar.xz of game files (e.g. all 3553 train)."),  # noqa: UP045
    strict: bool = typer.Option(False, "--strict", help="Fail unless the splits have 3553/140/134 games."),
) -> None:
    """Print the usable games per split and task type (after the standard filter)."""
    from agent_envs.alfworld.data import load_tasks, split_summary

    task_set = load_tasks(data_dir, archive=archive, strict_counts=strict)
    for split, counts in split_summary(task_set).items():
        typer.echo(f"{split:28s} " + "  ".join(f"{k}={v}" for k, v in counts.items()))


@alfworld_app.command("expert")
def expert(
    split: str = typer.Option("eval_in_distribution", help="Split to play."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="alfworld-download dir (default $ALFWORLD_DATA)."),  # noqa: UP045
    limit: int = typer.Option(0, help="Play only the first N games (0: all)."),
    workers: int = typer.Option(2, help="Worker processes (one env each)."),
) -> None:
    """Replay the planner expert (walkthrough or one Fast Downward plan per game) and print the success rate."""
    from collections import Counter

    from agent_envs.alfworld.data import load_tasks
    from agent_envs.alfworld.pool import run_expert_episodes

    ids = load_tasks(data_dir).task_ids(split)
    ids = ids[:limit] if limit else ids
    results = run_expert_episodes(ids, workers, {"data_dir": str(data_dir) if data_dir else None})
    won: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for result in results:
        kind = result.get("task_type", "error")
        total[kind] += 1
        won[kind] += bool(result["won"])
    for kind in sorted(total):
        typer.echo(f"{kind:34s} {won[kind]}/{total[kind]}")
    typer.echo(f"success {sum(won.values())}/{len(results)}")


def register(app: typer.Typer) -> None:
    """Add `aemgym alfworld` to the CLI."""
    app.add_typer(alfworld_app, name="alfworld")
