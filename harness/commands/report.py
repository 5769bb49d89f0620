"""`aemgym report RUN...`: the report of a run (bench or training), or the training curves of several runs."""

from __future__ import annotations

from pathlib import Path

import typer

from harness.commands import options as o


def report(
    runs: list[Path] = typer.Argument(..., help="Run directories: one run, or several training runs to plot together."),
    out: Path = typer.Option(None, "--out", "-o", help="Curves PNG of several training runs (default: "
                                                       "<first run>/curves.png)."),
) -> None:
    """Summarise a run: success rate with its 95% CI, score, per task type, tokens, latency, errors (Markdown + PNG).

    Training runs also get their training curves (`curves.png`); several training runs are plotted together.
    """
    from harness.report import report_run
    from harness.storage import read_run_config

    missing = [str(r) for r in runs if not r.is_dir()]
    if missing:
        raise o.fail(f"no run directory {missing[0]}")
    if len(runs) > 1:
        from harness.train.report import plot_runs, summary_line

        not_train = [str(r) for r in runs if read_run_config(r).get("command") != "train"]
        if not_train:
            raise o.fail(f"several runs are plotted together only for training runs; {not_train[0]} is not one")
        target = plot_runs(list(runs), out or runs[0] / "curves.png")
        for run in runs:
            typer.echo(summary_line(run))
        typer.echo(f"plot: {target}")
        return
    try:
        _, markdown = report_run(runs[0])
    except (FileNotFoundError, ValueError) as exc:
        raise o.fail(str(exc)) from None
    typer.echo(markdown)
    extra = ", curves.png" if (runs[0] / "curves.png").is_file() else ""
    typer.echo(f"wrote {runs[0] / 'report.md'}, report.png{extra}, summary.json")


def compare(
    run_a: Path = typer.Argument(..., help="The baseline run."),
    run_b: Path = typer.Argument(..., help="The run compared with it."),
    out: Path = typer.Option(None, "--out", "-o", help="Output path without suffix (default: <run_b>/compare-<a>)."),
) -> None:
    """Paired comparison of two runs on their common tasks: B − A with a bootstrap CI over tasks, sign test and
    McNemar, overall and per task type (Markdown + PNG).
    """
    from harness.compare import compare as compare_runs

    for run in (run_a, run_b):
        if not run.is_dir():
            raise o.fail(f"no run directory {run}")
    try:
        result, markdown = compare_runs(run_a, run_b, out)
    except ValueError as exc:
        raise o.fail(str(exc)) from None
    typer.echo(markdown)
    typer.echo(f"wrote {result['markdown']}, {result['plot']}")


def register(app: typer.Typer) -> None:
    """Add `report` and `compare`."""
    app.command("report")(report)
    app.command("compare")(compare)
