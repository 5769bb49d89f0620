"""Run reports: success rate with its 95% interval, pass@k, mean score, per task type, tokens, latency, errors.

Infrastructure failures are not task failures: the success rate is over completed episodes (`status="ok"`), with
the error episodes counted beside it and the errors-as-failures figure given too. The interval is Wilson's over
episodes with one sample per task, and a bootstrap over tasks (clustered) with k > 1 samples per task, where the
samples of a task are correlated; pass@k (unbiased) and pass^k come with it. Output: a summary dict
(`summary.json`), Markdown, and a PNG plot.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from harness.types import Episode

Z95 = 1.959963984540054


class _Phased(Protocol):
    """A record of a training run's phase and iteration (an `Episode`, or the viewer's index entry)."""

    phase: str | None
    iteration: int | None


EpisodeT = TypeVar("EpisodeT", bound=_Phased)


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion; (0, 1) when n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def rate_block(task_ids: Sequence[str], statuses: Sequence[str], successes: Sequence[bool],
               scores: Sequence[float], rewards: Sequence[float], turns: Sequence[int]) -> dict[str, Any]:
    """Success over completed episodes (errors apart) with its 95% interval, pass@k and pass^k when k > 1, and mean
    score, reward and turns of completed episodes; one value per episode in each sequence.
    """
    from harness.stats import pass_at_k_per_task, pass_hat_k_per_task, success_rate_ci

    rows = list(zip(task_ids, statuses, successes, scores, rewards, turns, strict=True))
    completed = [r for r in rows if r[1] == "ok"]
    n, n_all = len(completed), len(rows)
    wins = sum(1 for r in completed if r[2])
    outcomes: dict[str, list[float]] = defaultdict(list)
    for r in completed:
        outcomes[r[0]].append(float(bool(r[2])))
    k = min((len(v) for v in outcomes.values()), default=1)
    if k > 1:
        # When every task agrees (all solved, or none) the bootstrap has nothing to resample and gives a zero-width
        # interval; the interval is therefore never narrower than Wilson's over the tasks (each task's mean success
        # counted once): 0 of 10 episodes on 2 tasks is 0–66%, not 0–0%.
        ci = success_rate_ci(outcomes)
        task_low, task_high = wilson_interval(sum(sum(v) / len(v) for v in outcomes.values()), len(outcomes))
        low, high, method = min(ci.low, task_low), max(ci.high, task_high), "bootstrap over tasks"
    else:
        (low, high), method = wilson_interval(wins, n), "Wilson"
    block: dict[str, Any] = {
        "episodes": n_all,
        "completed": n,
        "errors_count": n_all - n,
        "successes": wins,
        "success_rate": wins / n if n else 0.0,
        "success_ci95": [low, high],
        "ci_method": method,
        "success_rate_errors_as_failures": wins / n_all if n_all else 0.0,
        "tasks": len(outcomes),
        "samples_per_task": k,
        "mean_score": sum(r[3] for r in completed) / n if n else 0.0,
        "mean_reward": sum(r[4] for r in completed) / n if n else 0.0,
        "mean_turns": sum(r[5] for r in completed) / n if n else 0.0,
    }
    if k > 1:
        block[f"pass@{k}"] = sum(pass_at_k_per_task(outcomes, k).values()) / len(outcomes)
        block[f"pass^{k}"] = sum(pass_hat_k_per_task(outcomes, k).values()) / len(outcomes)
    return block


def _rate_block(episodes: list[Episode]) -> dict[str, Any]:
    return rate_block([e.task_id for e in episodes], [e.status for e in episodes], [e.success for e in episodes],
                      [e.score for e in episodes], [e.total_reward for e in episodes], [len(e.turns) for e in episodes])


def summarize(episodes: list[Episode], header: dict[str, Any] | None = None) -> dict[str, Any]:
    """The summary of a run (what `summary.json` holds); `header` is the run's `config.json`."""
    config = (header or {}).get("config", {})
    summary: dict[str, Any] = {"env_id": (config.get("env") or {}).get("id", "?"),
                               "policy": (config.get("policy") or {}).get("name", "?"), **_rate_block(episodes)}
    by_type: dict[str, list[Episode]] = defaultdict(list)
    for e in episodes:
        by_type[e.task_type].append(e)
    summary["per_task_type"] = {t: _rate_block(eps) for t, eps in sorted(by_type.items())}
    turns = [t for e in episodes for t in e.turns]
    prompt_tokens = sum(int(t.response.usage.get("prompt_tokens", 0)) for t in turns)
    completion_tokens = sum(int(t.response.usage.get("completion_tokens", 0)) for t in turns)
    latencies = [t.response.latency_s for t in turns]
    invalid = sum(1 for t in turns if t.info and t.info.get("action_valid") is False)
    summary["turns"] = len(turns)
    summary["invalid_action_rate"] = invalid / len(turns) if turns else 0.0
    summary["tokens"] = {
        "prompt": prompt_tokens,
        "completion": completion_tokens,
        "per_episode": (prompt_tokens + completion_tokens) / len(episodes) if episodes else 0.0,
    }
    summary["latency_s"] = {
        "policy_mean": sum(latencies) / len(latencies) if latencies else 0.0,
        "policy_p50": _percentile(latencies, 0.5),
        "policy_p95": _percentile(latencies, 0.95),
        "env_mean": sum(t.env_time_s for t in turns) / len(turns) if turns else 0.0,
        "episode_mean": sum(e.wall_time_s for e in episodes) / len(episodes) if episodes else 0.0,
    }
    errors = [e for e in episodes if e.status == "error"]
    summary["errors"] = {
        "count": len(errors),
        "examples": [{"episode_id": e.episode_id, "error": (e.error or "")[-300:]} for e in errors[:5]],
    }
    return summary


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def to_markdown(summary: dict[str, Any]) -> str:
    """A Markdown report of a summary."""
    low, high = summary["success_ci95"]
    errors = summary["errors"]["count"]
    k = summary.get("samples_per_task", 1)
    lines = [
        f"# Run report: {summary['env_id']} / {summary['policy']}",
        "",
        f"- Episodes: {summary['episodes']} on {summary.get('tasks', '?')} tasks × {k} ({summary.get('completed', 0)} "
        f"completed, {errors} infrastructure errors)",
        f"- **Success rate: {_pct(summary['success_rate'])}** of completed episodes (95% CI {_pct(low)}–{_pct(high)}, "
        f"{summary.get('ci_method', 'Wilson')}; {summary['successes']}/{summary.get('completed', 0)}); "
        f"errors counted as failures: {_pct(summary.get('success_rate_errors_as_failures', 0.0))}",
    ]
    if k > 1:
        lines.append(f"- pass@{k}: {_pct(summary[f'pass@{k}'])} · pass^{k}: {_pct(summary[f'pass^{k}'])} "
                     f"(unbiased estimators over {k} samples per task)")
    lines += [
        f"- Mean score: {summary['mean_score']:.3f} · mean reward: {summary['mean_reward']:.3f} · "
        f"mean turns: {summary['mean_turns']:.2f} · invalid actions: {_pct(summary['invalid_action_rate'])}",
        f"- Tokens: {summary['tokens']['prompt']} prompt + {summary['tokens']['completion']} completion "
        f"({summary['tokens']['per_episode']:.0f} per episode)",
        f"- Policy latency per turn: mean {summary['latency_s']['policy_mean']:.3f} s, "
        f"p50 {summary['latency_s']['policy_p50']:.3f} s, p95 {summary['latency_s']['policy_p95']:.3f} s; "
        f"env step mean {1000 * summary['latency_s']['env_mean']:.2f} ms",
        "",
        "| task type | episodes | errors | success | 95% CI | mean score | mean turns |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, block in summary["per_task_type"].items():
        lo, hi = block["success_ci95"]
        lines.append(
            f"| {name} | {block['episodes']} | {block['errors_count']} | {_pct(block['success_rate'])} | "
            f"{_pct(lo)}–{_pct(hi)} | {block['mean_score']:.3f} | {block['mean_turns']:.2f} |"
        )
    if summary["errors"]["examples"]:
        lines += ["", "Infrastructure errors (first ones):", ""]
        for example in summary["errors"]["examples"]:
            last = example["error"].strip().splitlines()[-1] if example["error"].strip() else "?"
            lines.append(f"- `{example['episode_id']}`: {last[:200]}")
    return "\n".join(lines) + "\n"


def plot(summary: dict[str, Any], path: str | Path) -> Path:
    """A PNG: success rate per task type (and overall) with 95% Wilson error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["all", *summary["per_task_type"]]
    blocks = [summary, *summary["per_task_type"].values()]
    rates = [b["success_rate"] for b in blocks]
    # max(0, ...): at p = 0 or 1 the bound equals the rate up to rounding
    errs = [[max(0.0, r - b["success_ci95"][0]) for r, b in zip(rates, blocks, strict=True)],
            [max(0.0, b["success_ci95"][1] - r) for r, b in zip(rates, blocks, strict=True)]]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(names)), 3.2))
    ax.bar(names, rates, yerr=errs, capsize=4, color=["#444"] + ["#4a7"] * (len(names) - 1))
    ax.set_ylim(0, 1)
    ax.set_ylabel("success rate (95% CI)")
    ax.set_title(f"{summary['env_id']} · {summary['policy']}", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def report_scope(episodes: Sequence[EpisodeT], command: str | None) -> tuple[list[EpisodeT], str]:
    """The episodes a run's report is about, and a note saying which: all of a bench run; for a training run, the
    evaluation episodes of its last evaluation (the final policy), else its last iteration's rollouts.

    `episodes` may be any records with `phase` and `iteration` (episodes, or the viewer's index entries).
    """
    if command != "train":
        return list(episodes), ""
    for phase in ("eval", "train"):
        chosen = [e for e in episodes if e.phase == phase]
        if chosen:
            last = max(e.iteration or 0 for e in chosen)
            what = "evaluation" if phase == "eval" else "training rollouts"
            return [e for e in chosen if (e.iteration or 0) == last], f"{what} at iteration {last}"
    return [], "no episodes yet"


def report_episodes(run_dir: Path, header: dict[str, Any]) -> tuple[list[Episode], str]:
    """The episodes of `run_dir` its report is about (`report_scope`), and the note saying which."""
    from harness.storage import read_episodes

    return report_scope(read_episodes(run_dir), header.get("command"))


def report_run(run_dir: str | Path) -> tuple[dict[str, Any], str]:
    """Summarise a run directory: writes `summary.json`, `report.md`, `report.png` (and `curves.png` for training
    runs); returns (summary, markdown).

    Raises:
        FileNotFoundError: `run_dir` is not a run directory.
    """
    from harness.storage import EPISODES, SUMMARY, read_run_config, write_json

    run_dir = Path(run_dir)
    if not run_dir.is_dir() or not ((run_dir / EPISODES).is_file() or (run_dir / "config.json").is_file()):
        raise FileNotFoundError(f"{run_dir} is not a run directory (no episodes.jsonl or config.json)")
    header = read_run_config(run_dir)
    episodes, scope = report_episodes(run_dir, header)
    summary = summarize(episodes, header)
    markdown = to_markdown(summary)
    if header.get("command") == "train":
        from harness.train.report import plot_runs, summary_line

        summary["scope"] = scope
        markdown = f"# Training run {run_dir.name}\n\n{summary_line(run_dir)}\n\nBelow: {scope}.\n\n" + markdown
        if (run_dir / "metrics.jsonl").is_file():
            try:
                plot_runs([run_dir], run_dir / "curves.png")
            except ValueError:  # no metric rows yet
                pass
    write_json(run_dir / SUMMARY, summary)
    (run_dir / "report.md").write_text(markdown, encoding="utf-8")
    plot(summary, run_dir / "report.png")
    return summary, markdown
