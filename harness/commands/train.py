"""`aemgym train` (RL training with GRPO / AEM / EMPG learners) and `aemgym train-report` (training curves)."""

from __future__ import annotations

from pathlib import Path

import typer


def train(
    overrides: list[str] = typer.Argument(None, help="Dotted overrides, e.g. learner.lr=3e-3 loop.iterations=20."),
    config: list[Path] = typer.Option(None, "--config", "-c",
                                      help="YAML config file(s), applied in order (default: configs/doors_tiny.yaml)."),
    learner: str = typer.Option(None, "--learner", help="Preset: grpo, aem, empg, rloo, rloo_aem, gigpo, gigpo_aem."),
    iterations: int = typer.Option(None, "--iterations", help="Training iterations (loop.iterations)."),
    seed: int = typer.Option(None, "--seed", help="Seed (loop.seed and model.seed)."),
    output: Path = typer.Option(None, "--output", "-o", help="Run directory (loop.output_dir)."),
    executor: str = typer.Option(None, "--executor", help="Env executor: thread, inline, process, ray."),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Continue from the run's last checkpoint."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and print the config, then exit."),
) -> None:
    """Train a policy with RL on an env (default: the tiny byte model on Doors, a CPU run of a few minutes)."""
    from harness.train.config import CPU_PROOF_CONFIG, load_config

    specs = [str(p) for p in config or [CPU_PROOF_CONFIG]] + list(overrides or [])
    flags = {"loop.iterations": iterations, "loop.seed": seed, "model.seed": seed,
             "loop.output_dir": str(output) if output else None, "rollout.executor": executor}
    specs += [f"{key}={value}" for key, value in flags.items() if value is not None]
    try:
        cfg = load_config(specs, learner=learner)
    except (ValueError, FileNotFoundError) as exc:
        typer.echo(f"invalid config: {exc}", err=True)
        raise typer.Exit(2) from None
    if dry_run:
        typer.echo(cfg.to_yaml())
        return
    from harness.train.loop import Trainer

    trainer = Trainer(cfg, resume=resume)
    if trainer.resumed_from is not None:
        typer.echo(f"resumed from {trainer.resumed_from} (iteration {trainer.iteration})")
    trainer.run()
    from harness.train.report import summary

    typer.echo(summary(Path(cfg.loop.output_dir)))


def train_report(
    runs: list[Path] = typer.Argument(..., help="Training run directories (each with metrics.jsonl)."),
    out: Path = typer.Option(None, "--out", help="PNG path (default: <first run>/curves.png)."),
) -> None:
    """Plot training curves (success, entropies, α spread, ...) of one or more runs and print a summary."""
    from harness.train.report import is_training_run, plot_runs, summary

    missing = [str(r) for r in runs if not is_training_run(r)]
    if missing:
        typer.echo(f"not training run directories: {', '.join(missing)}", err=True)
        raise typer.Exit(2)
    target = plot_runs(list(runs), out or runs[0] / "curves.png")
    for run in runs:
        typer.echo(summary(run))
    typer.echo(f"plot: {target}")


def register(app: typer.Typer) -> None:
    """Add `train` and `train-report`."""
    app.command("train")(train)
    app.command("train-report")(train_report)
