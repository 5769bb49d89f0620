"""GRPO vs GRPO+AEM and its ablations on Codes with the tiny byte model: paired by seed, CPU only.

    .venv/bin/python benchmarks/train_grpo_vs_aem.py --seeds 0 1 2 3 4 5 6 7 --jobs 2 --out runs/bench_codes
    .venv/bin/python benchmarks/train_grpo_vs_aem.py --config harness/train/configs/doors_tiny.yaml --methods grpo aem

Pre-registered (written before the runs of 2026-12-07; the results are reported whatever they show):
- Testbed: `harness/train/configs/codes_tiny.yaml` (Codes, 3-letter codes over ABCD, constrained decoding, cached
  behaviour-cloning warm start), identical for every method except the advantage modulation.
- Methods: `grpo` (no modulation), `aem` (GRPO+AEM, λ = 1, guard 0.1, group scope), `aem_shuffled` (AEM's α permuted
  within each group), `aem_reversed` (α amplifies high-entropy responses), `empg`.
- Seeds 0–7 (`loop.seed` and `model.seed`; with the warm start cached per seed), equal iterations.
- Primary metric: mean train success over the last third of the iterations, per run. Comparison: each method minus
  GRPO, paired by seed: the mean difference with a 95% bootstrap interval over seeds and Wilcoxon's exact
  signed-rank test (two-sided). Hypotheses (the paper's claims): AEM > GRPO; AEM > AEM-shuffled; AEM > AEM-reversed.
- Secondary: mean response entropy over the first and last third (AEM predicted to keep more entropy early), final
  evaluation success (T = 0.4), α spread within a prompt, and the exact correlation of α − 1 with S − H.

Each (method, seed) is one `aemgym train` run in its own process with one torch thread. Writes
`<out>/<method>_s<seed>/` (run directories), `<out>/curves.png` (train success, eval success and response entropy per
iteration, mean ± std over seeds) and `<out>/table.md`, and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.stats import mean_ci, wilcoxon_signed_rank

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "harness" / "train" / "configs" / "codes_tiny.yaml"
#: method -> `aemgym train` flags
METHODS = {
    "grpo": ["--learner", "grpo"],
    "aem": ["--learner", "aem"],
    "aem_shuffled": ["--learner", "aem", "--aem-variant", "shuffled"],
    "aem_reversed": ["--learner", "aem", "--aem-variant", "reversed"],
    "empg": ["--learner", "empg"],
}


def run_one(config: Path, method: str, seed: int, iterations: int, out: Path, extra: list[str]) -> Path:
    """Train one (method, seed) in a subprocess (a finished run is kept); returns its run directory."""
    run_dir = out / f"{method}_s{seed}"
    if (run_dir / "metrics.jsonl").is_file() and max((r["iteration"] for r in load(run_dir)), default=0) >= iterations:
        return run_dir
    resume = ["--resume"] if (run_dir / "config.json").is_file() else []
    cmd = [sys.executable, "-m", "harness.train", "-c", str(config), *METHODS[method], "--seed", str(seed),
           "--iterations", str(iterations), "--out", str(run_dir), *resume, *extra]
    with (out / f"{method}_s{seed}.log").open("w") as log:
        subprocess.run(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"})
    return run_dir


def load(run_dir: Path) -> list[dict]:
    """The metrics rows of a run."""
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]


def curve(rows: list[dict], key: str) -> dict[int, float]:
    """iteration → value for rows that have `key`."""
    return {int(r["iteration"]): float(r[key]) for r in rows if key in r and r[key] == r[key]}


def window_mean(points: dict[int, float], lo: int, hi: int) -> float:
    """Mean of the points with lo ≤ iteration ≤ hi."""
    chosen = [v for k, v in points.items() if lo <= k <= hi]
    return statistics.mean(chosen) if chosen else float("nan")


def mean_std(values: list[float]) -> str:
    """`mean ± std` over the finite values."""
    values = [v for v in values if v == v]
    if not values:
        return "–"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values) if len(values) > 1 else 0.0:.3f}"


def per_run(run_dir: Path, iterations: int) -> dict[str, float]:
    """The pre-registered numbers of one run."""
    rows = load(run_dir)
    third = max(1, iterations // 3)
    late = (iterations - third + 1, iterations)
    success, entropy = curve(rows, "train/success"), curve(rows, "learner/response_entropy")
    return {
        "primary": window_mean(success, *late),
        "entropy_early": window_mean(entropy, 1, third),
        "entropy_late": window_mean(entropy, *late),
        "eval_final": curve(rows, "eval/success").get(iterations, float("nan")),
        "alpha_prompt_std": window_mean(curve(rows, "learner/diag/alpha_prompt_std"), 1, iterations),
        "exact_corr": window_mean(curve(rows, "learner/diag/exact_corr_alpha_rel_surprisal"), 1, iterations),
        "exact_within": window_mean(curve(rows, "learner/diag/exact_within_prompt_corr"), 1, iterations),
        "minutes": sum(curve(rows, "iteration_time_s").values()) / 60,
    }


def summarise(runs: dict[str, list[Path]], seeds: list[int], iterations: int, out: Path) -> str:
    """The Markdown tables (per method; each method against GRPO, paired by seed) and the plot."""
    numbers = {m: [per_run(d, iterations) for d in dirs] for m, dirs in runs.items()}
    keys = ("primary", "entropy_early", "entropy_late", "eval_final", "alpha_prompt_std", "exact_corr",
            "exact_within", "minutes")
    lines = ["| method | seeds | **train success, last third** | response entropy, first third | ... last third | "
             "eval success (final) | α std within a prompt | r(α − 1, S − H) exact | ... within a prompt | "
             "minutes per run |", "|" + "---|" * 10]
    for method, rows in numbers.items():
        lines.append(f"| {method} | {len(rows)} | " + " | ".join(mean_std([r[k] for r in rows]) for k in keys) + " |")
    if "grpo" in numbers:
        lines += ["", "| method − GRPO (paired by seed) | mean difference | 95% bootstrap CI | better / worse | "
                  "Wilcoxon W+ | p (two-sided, exact) |", "|---|---|---|---|---|---|"]
        for method, rows in numbers.items():
            if method == "grpo":
                continue
            diffs = [r["primary"] - g["primary"] for r, g in zip(rows, numbers["grpo"], strict=True)]
            ci = mean_ci(diffs, seed=0)
            w, p = wilcoxon_signed_rank(diffs)
            lines.append(f"| {method} | {ci.point:+.3f} | {ci.low:+.3f} to {ci.high:+.3f} | "
                         f"{sum(d > 0 for d in diffs)} / {sum(d < 0 for d in diffs)} | {w:g} | {p:.3f} |")
    table = "\n".join(lines) + f"\n\nSeeds {seeds}; {iterations} iterations per run.\n"
    (out / "table.md").write_text(table)
    plot(runs, out / "curves.png")
    return table


def plot(runs: dict[str, list[Path]], path: Path) -> None:
    """Train success, eval success and response entropy per iteration: mean over seeds with a ±std band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [("train/success", "train success (T = 1)"), ("eval/success", "eval success (T = 0.4)"),
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
            ax.fill_between(its, mean - std, mean + std, alpha=0.15)
        ax.set_title(title)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    """Run the grid (finished runs are kept, killed ones resumed) and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(8)))
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (each uses one thread)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_codes")
    parser.add_argument("extra", nargs="*", help="more `aemgym train` arguments for every run (e.g. -c key=value)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    grid = [(m, s) for s in args.seeds for m in args.methods]
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_one, args.config, m, s, args.iterations, args.out, args.extra): (m, s)
                   for m, s in grid}
        for future, (m, s) in futures.items():
            future.result()
            print(f"done {m} seed {s}", flush=True)
    runs = {m: [args.out / f"{m}_s{s}" for s in args.seeds] for m in args.methods}
    print(summarise(runs, args.seeds, args.iterations, args.out))
    print(f"plot: {args.out / 'curves.png'}\ntable: {args.out / 'table.md'}")


if __name__ == "__main__":
    main()
