"""`aemgym train`: RL training with GRPO / AEM / EMPG / ... learners (default: the CPU proof on Doors)."""

from __future__ import annotations

from pathlib import Path

import typer

from harness.commands import options as o

ALGO = "Algorithm (every `aem` option)"
#: What `aemgym train` runs without `--config`: the CPU proof (tiny byte model on Doors).
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "train" / "configs" / "doors_tiny.yaml"


def train(
    overrides: list[str] = typer.Argument(None, help="key=value overrides (same as -c key=value)."),
    config: o.Config = None,
    learner: str = typer.Option(None, "--learner", help="Preset: grpo, aem, empg, drgrpo, rloo, gigpo, "
                                                        "rloo_aem, gigpo_aem, drgrpo_aem."),
    iterations: int = typer.Option(None, "--iterations", help="Training iterations (loop.iterations)."),
    seed: o.Seed = None,
    policy: o.Policy = None,
    out: o.Out = None,
    resume: o.Resume = False,
    concurrency: o.Concurrency = None,
    executor: o.Executor = None,
    advantage: str = typer.Option(None, help="Base estimator (learner.advantage): grpo, drgrpo, rloo, gigpo.",
                                  rich_help_panel=ALGO),
    modulator: str = typer.Option(None, help="Modulator (learner.modulator): none, aem, empg.", rich_help_panel=ALGO),
    aem_lambda: float = typer.Option(None, "--aem-lambda", help="AEM λ (learner.aem_lam).", rich_help_panel=ALGO),
    aem_guard: float = typer.Option(None, "--aem-guard", help="AEM degenerate-range guard (learner.aem_min_range).",
                                    rich_help_panel=ALGO),
    aem_scope: str = typer.Option(None, "--aem-scope", help="group, trajectory or batch (learner.aem_scope).",
                                  rich_help_panel=ALGO),
    aem_variant: str = typer.Option(None, "--aem-variant", help="aem, reversed or shuffled (learner.aem_variant).",
                                    rich_help_panel=ALGO),
    ratio: str = typer.Option(None, help="token (PPO) or sequence (GSPO) importance ratio (learner.ratio).",
                              rich_help_panel=ALGO),
    epo: bool = typer.Option(None, "--epo/--no-epo", help="EPO entropy smoothing (learner.epo).", rich_help_panel=ALGO),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and print the config, then exit."),
    output: Path = typer.Option(None, "--output", hidden=True, help="Deprecated: --out."),
    no_resume: bool = typer.Option(False, "--no-resume", hidden=True, help="Deprecated: resuming is explicit now."),
) -> None:
    """Train a policy with RL on an env (default: the tiny byte model on Doors, a CPU run of a few minutes)."""
    from harness.config import LEARNER_PRESETS, TrainConfig, to_yaml

    if output is not None:
        typer.secho("note: --output is deprecated; use --out (-o)", fg="yellow", err=True)
        out = out or output
    if no_resume:
        typer.secho("note: --no-resume is deprecated: runs no longer resume unless --resume is given",
                    fg="yellow", err=True)
    specs, old_concurrency = o.split_deprecated_concurrency(config)
    specs = o.resumed_specs(out, resume, specs + list(overrides or []))
    if not any(Path(s).is_file() for s in specs):
        specs.insert(0, str(DEFAULT_CONFIG))
    flags: dict[str, object] = {
        "loop.iterations": iterations, "loop.seed": seed, "model.seed": seed, "policy.name": policy,
        "output.dir": str(out) if out else None, "output.resume": resume or None,
        "rollout.concurrency": concurrency or old_concurrency, "rollout.executor": executor,
    }
    if learner is not None:
        if learner not in LEARNER_PRESETS:
            raise o.fail(f"unknown learner {learner!r}; choose one of {', '.join(LEARNER_PRESETS)}")
        flags["learner.advantage"], flags["learner.modulator"] = LEARNER_PRESETS[learner]
    flags.update({"learner.advantage": advantage or flags.get("learner.advantage"),
                  "learner.modulator": modulator or flags.get("learner.modulator"), "learner.aem_lam": aem_lambda,
                  "learner.aem_min_range": aem_guard, "learner.aem_scope": aem_scope,
                  "learner.aem_variant": aem_variant, "learner.ratio": ratio, "learner.epo": epo})
    if resume and out is None:
        raise o.fail("--resume needs --out: the run directory to continue")
    cfg = o.build_config(TrainConfig, specs, flags)
    if dry_run:
        typer.echo(to_yaml(cfg))
        return
    from agent_envs.errors import AgentEnvsError
    from harness.report import report_run
    from harness.train.loop import Trainer

    try:
        trainer = Trainer(cfg)
    except (FileExistsError, FileNotFoundError, ValueError, AgentEnvsError) as exc:
        raise o.fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    typer.echo(f"run directory: {trainer.run_dir}")
    if trainer.resumed_from is not None:
        typer.echo(f"resumed from {trainer.resumed_from} (iteration {trainer.iteration})")
    trainer.run()
    _, markdown = report_run(trainer.run_dir)
    typer.echo(markdown)
    typer.echo(f"run directory: {trainer.run_dir} (report.md, curves.png, metrics.jsonl, episodes.jsonl)")


def train_report(
    runs: list[Path] = typer.Argument(..., help="Training run directories."),
    out: Path = typer.Option(None, "--out", help="PNG path (default: <first run>/curves.png)."),
) -> None:
    """Deprecated: `aemgym report RUN...` draws training curves too."""
    from harness.commands.report import report

    typer.secho("note: `aemgym train-report` is deprecated; use `aemgym report RUN...`", fg="yellow", err=True)
    report(runs, out=out)


def register(app: typer.Typer) -> None:
    """Add `train` (and the deprecated `train-report`)."""
    app.command("train")(train)
    app.command("train-report", hidden=True)(train_report)
