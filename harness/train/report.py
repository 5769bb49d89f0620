"""Training curves from one or more training runs (`metrics.jsonl`): a PNG grid and a one-line summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.train.metrics import read_metrics

DEFAULT_KEYS = (
    "train/success",
    "eval/success",
    "learner/token_entropy",
    "learner/response_entropy",
    "learner/alpha_std",
    "learner/negative_frac",
    "train/invalid_frac",
    "learner/kl_ref",
    "learner/clip_frac",
)


def series(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(iterations, values) of `key` over the rows that have it."""
    points = [(int(r["iteration"]), float(r[key])) for r in rows if key in r]
    return [p[0] for p in points], [p[1] for p in points]


def plot_runs(run_dirs: list[Path], out: Path, keys: tuple[str, ...] = DEFAULT_KEYS) -> Path:
    """Plot every key present in any run (one panel per key, one line per run) into `out` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {str(d): read_metrics(d) for d in run_dirs}
    present = [k for k in keys if any(series(rows, k)[0] for rows in runs.values())]
    if not present:
        raise ValueError("none of the metric keys occur in these runs")
    cols = min(3, len(present))
    rows_n = (len(present) + cols - 1) // cols
    fig, axes = plt.subplots(rows_n, cols, figsize=(5 * cols, 3.4 * rows_n), squeeze=False)
    for ax, key in zip(axes.flat, present, strict=False):
        for name, rows in runs.items():
            xs, ys = series(rows, key)
            if xs:
                ax.plot(xs, ys, marker="." if len(xs) < 40 else None, label=Path(name).name)
        ax.set_title(key)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(present):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def summary_line(run_dir: Path) -> str:
    """One text line per run: iterations, first/last train success, last eval success, entropies."""
    rows = read_metrics(run_dir)
    parts = [f"{Path(run_dir).name}: {max((int(r['iteration']) for r in rows), default=0)} iterations"]
    for key in ("train/success", "eval/success", "learner/token_entropy", "learner/response_entropy"):
        _, ys = series(rows, key)
        if ys:
            parts.append(f"{key} {ys[0]:.3f} → {ys[-1]:.3f}")
    return "; ".join(parts)
