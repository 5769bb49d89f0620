"""Paired comparison of two runs on the tasks both played (`aemgym compare RUN_A RUN_B`): B − A per task with a
bootstrap interval over tasks, an exact sign test and McNemar's test, overall and per task type (Markdown + PNG).

Outcomes are the successes of completed episodes; infrastructure errors are left out of both runs.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.stats import Comparison, compare_runs


def run_outcomes(run_dir: Path) -> tuple[dict[str, Any], dict[str, list[float]], dict[str, str]]:
    """(the run's config.json, task id -> successes of its completed episodes, task id -> task type)."""
    from harness.report import report_episodes
    from harness.storage import read_run_config

    header = read_run_config(run_dir)
    episodes, _ = report_episodes(run_dir, header)
    outcomes: dict[str, list[float]] = defaultdict(list)
    types: dict[str, str] = {}
    for e in episodes:
        if e.status == "ok":
            outcomes[e.task_id].append(float(e.success))
            types[e.task_id] = e.task_type
    return header, dict(outcomes), types


def _row(name: str, c: Comparison) -> str:
    mcnemar = f"{c.mcnemar_p:.3g}" if c.mcnemar_p is not None else "–"
    return (f"| {name} | {c.diff.n_tasks} | {100 * c.diff.point:+.1f} | {100 * c.diff.low:+.1f} to "
            f"{100 * c.diff.high:+.1f} | {c.n_better} / {c.n_worse} / {c.n_tied} | {c.sign_test_p:.3g} | {mcnemar} |")


def compare(run_a: Path, run_b: Path, out: Path | None = None) -> tuple[dict[str, Any], str]:
    """Compare run B against run A; writes `<out>.md` and `<out>.png` (default `<run_b>/compare-<run_a name>`).

    Raises:
        ValueError: the runs share no task.
    """
    _, a, types_a = run_outcomes(run_a)
    _, b, types_b = run_outcomes(run_b)
    overall = compare_runs(a, b)
    by_type: dict[str, Comparison] = {}
    for task_type in sorted(set(types_a.values()) & set(types_b.values())):
        a_t = {t: v for t, v in a.items() if types_a[t] == task_type}
        b_t = {t: v for t, v in b.items() if types_b.get(t) == task_type}
        if set(a_t) & set(b_t):
            by_type[task_type] = compare_runs(a_t, b_t)
    lines = [
        f"# {run_b.name} vs {run_a.name}",
        "",
        f"B − A in success rate (percentage points) on the tasks both runs completed; 95% bootstrap interval over "
        f"tasks; sign test on per-task differences; McNemar when both have one sample per task. Only in A: "
        f"{len(overall.only_in_a)} tasks, only in B: {len(overall.only_in_b)}.",
        "",
        "| tasks | n | B − A | 95% CI | better / worse / tied | sign test p | McNemar p |",
        "|---|---|---|---|---|---|---|",
        _row("all", overall),
        *(_row(name, c) for name, c in by_type.items()),
    ]
    markdown = "\n".join(lines) + "\n"
    target = out or run_b / f"compare-{run_a.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.with_suffix(".md").write_text(markdown, encoding="utf-8")
    _plot({"all": overall, **by_type}, target.with_suffix(".png"), f"{run_b.name} − {run_a.name}")
    result = {"overall": overall, "per_task_type": by_type, "markdown": str(target.with_suffix(".md")),
              "plot": str(target.with_suffix(".png"))}
    return result, markdown


def _plot(rows: dict[str, Comparison], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(rows)
    points = [100 * c.diff.point for c in rows.values()]
    errors = [[max(0.0, 100 * (c.diff.point - c.diff.low)) for c in rows.values()],
              [max(0.0, 100 * (c.diff.high - c.diff.point)) for c in rows.values()]]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(names)), 3.2))
    ax.bar(names, points, yerr=errors, capsize=4, color=["#444"] + ["#4a7"] * (len(names) - 1))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("B − A, success (points, 95% CI)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
