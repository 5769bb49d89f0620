"""GRPO vs GRPO+AEM vs GRPO+EMPG on Doors with the tiny byte model: ≥ 3 seeds at equal steps, CPU only.

    .venv/bin/python benchmarks/train_grpo_vs_aem.py --seeds 0 1 2 --iterations 60 --jobs 2 --out runs/bench_train

Each (method, seed) is one `aemgym train` run of `harness/train/configs/doors_tiny.yaml` in its own process with one
torch thread. Writes `<out>/<method>_s<seed>/metrics.jsonl`, `<out>/curves.png` (success and response entropy per
iteration, mean ± std over seeds) and `<out>/table.md` (mean ± std per method), and prints the table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "harness" / "train" / "configs" / "doors_tiny.yaml"


def run_one(method: str, seed: int, iterations: int, out: Path, extra: list[str]) -> Path:
    """Train one (method, seed) in a subprocess; returns its run directory."""
    run_dir = out / f"{method}_s{seed}"
    cmd = [sys.executable, "-m", "harness.train", "-c", str(CONFIG), "--learner", method, "--seed", str(seed),
           "--iterations", str(iterations), "--out", str(run_dir), *extra]
    log = (out / f"{method}_s{seed}.log").open("w")
    subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=True,
                   env={**__import__("os").environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"})
    return run_dir


def load(run_dir: Path) -> list[dict]:
    """The metrics rows of a run."""
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


def curve(rows: list[dict], key: str) -> dict[int, float]:
    """iteration → value for rows that have `key`."""
    return {int(r["iteration"]): float(r[key]) for r in rows if key in r}


def mean_std(values: list[float]) -> str:
    """`mean ± std` (sample std; 0 for one value)."""
    if not values:
        return "–"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {std:.3f}"


def window_mean(points: dict[int, float], lo: int, hi: int) -> float:
    """Mean of the points with lo ≤ iteration ≤ hi."""
    chosen = [v for k, v in points.items() if lo <= k <= hi]
    return statistics.mean(chosen) if chosen else float("nan")


def learned_at(points: dict[int, float], level: float = 0.6, window: int = 5) -> int | None:
    """First iteration at which the mean train success of the last `window` iterations reaches `level`."""
    its = sorted(points)
    for k in range(window - 1, len(its)):
        if statistics.mean(points[i] for i in its[k - window + 1 : k + 1]) >= level:
            return its[k]
    return None


def summarise(runs: dict[str, list[Path]], iterations: int, out: Path) -> str:
    """The markdown table and the plot."""
    last = max(1, iterations // 5)
    header = ("| method | seeds | train success (last {k} it.) | eval success (final, T=0.4) | eval success (initial) "
              "| response entropy it. 1–5 | response entropy (last {k} it.) | α std (last {k} it.) | learner tok/s "
              "| learned at it. (per seed) | minutes per run |")
    lines = [header.format(k=last), "|" + "---|" * 11]
    for method, dirs in runs.items():
        keys = ("succ", "eval", "eval0", "h_early", "h_late", "alpha", "tps", "minutes")
        cols: dict[str, list[float]] = {k: [] for k in keys}
        learned: list[int | None] = []
        for d in dirs:
            rows = load(d)
            succ, ent = curve(rows, "train/success"), curve(rows, "learner/response_entropy")
            ev = curve(rows, "eval/success")
            cols["succ"].append(window_mean(succ, iterations - last + 1, iterations))
            cols["eval"].append(ev.get(iterations, float("nan")))
            cols["eval0"].append(ev.get(0, float("nan")))
            cols["h_early"].append(window_mean(ent, 1, 5))
            cols["h_late"].append(window_mean(ent, iterations - last + 1, iterations))
            cols["alpha"].append(window_mean(curve(rows, "learner/alpha_std"), iterations - last + 1, iterations))
            cols["tps"].append(statistics.mean(curve(rows, "learner/learner_tokens_per_s").values()))
            learned.append(learned_at(succ))
            cols["minutes"].append(sum(curve(rows, "iteration_time_s").values()) / 60)
        shown = " / ".join("–" if it is None else str(it) for it in learned)
        lines.append(f"| {method} | {len(dirs)} | " + " | ".join(mean_std(cols[k]) for k in cols if k != "minutes")
                     + f" | {shown} | {mean_std(cols['minutes'])} |")
    table = "\n".join(lines)
    (out / "table.md").write_text(table + "\n")
    plot(runs, out / "curves.png")
    return table


def plot(runs: dict[str, list[Path]], path: Path) -> None:
    """Train success, eval success and response entropy per iteration: mean over seeds with a ±std band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [("train/success", "train success (T=1.0)"), ("eval/success", "eval success (T=0.4)"),
            ("learner/response_entropy", "response entropy (nats/token)"), ("learner/alpha_std", "std of α")]
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.6))
    for ax, (key, title) in zip(axes, keys, strict=True):
        for method, dirs in runs.items():
            curves = [curve(load(d), key) for d in dirs]
            its = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
            if not its:
                continue
            values = np.array([[c[i] for i in its] for c in curves])
            mean, std = values.mean(0), values.std(0)
            ax.plot(its, mean, label=method, marker="o" if len(its) < 8 else None)
            ax.fill_between(its, mean - std, mean + std, alpha=0.2)
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    """Run the grid (skipping finished runs) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["grpo", "aem", "empg"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (each uses one thread)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_train")
    parser.add_argument("extra", nargs="*", help="dotted config overrides passed to every run")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    grid = [(m, s) for s in args.seeds for m in args.methods]
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_one, m, s, args.iterations, args.out, args.extra): (m, s) for m, s in grid}
        for future, (m, s) in futures.items():
            future.result()
            print(f"done {m} seed {s}", flush=True)
    runs = {m: [args.out / f"{m}_s{s}" for s in args.seeds] for m in args.methods}
    print(summarise(runs, args.iterations, args.out))
    print(f"plot: {args.out / 'curves.png'}\ntable: {args.out / 'table.md'}")


if __name__ == "__main__":
    main()
