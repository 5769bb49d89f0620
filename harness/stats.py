"""Statistics a paper can cite: pass@k, pass^k, task-clustered bootstrap intervals and paired run comparisons.

Pure functions over plain Python containers (numpy for the bootstrap). Outcomes are given per task, as a mapping
`task_id -> [outcome of each sample]` with outcomes in [0, 1] (bools for success). Every random draw comes from a
seeded `numpy.random.Generator`, so a report is reproducible.

- `pass_at_k(n, c, k)`: the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on
  Code", eq. 1): `1 - C(n-c, k) / C(n, k)`, computed as a product so it never forms huge binomials.
- `pass_hat_k(n, c, k)`: tau-bench's pass^k (Yao et al. 2024), the chance that k samples drawn without replacement
  all succeed: `C(c, k) / C(n, k)`.
- `success_rate_ci`: the success rate over all episodes with a bootstrap interval that resamples *tasks* (clusters),
  not episodes: with k > 1 samples per task the samples of a task are correlated and a Wilson interval over
  episodes is too narrow.
- `compare_runs`: run B minus run A per task, with a bootstrap interval over tasks, an exact two-sided sign test and,
  when both runs have exactly one binary sample per task, McNemar's exact test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Outcomes = Mapping[str, Sequence[float]]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided bootstrap interval."""

    point: float
    low: float
    high: float
    confidence: float
    n_tasks: int


@dataclass(frozen=True)
class Comparison:
    """Run B against run A on the tasks both ran (`diff` = B - A, per-task means averaged over tasks)."""

    diff: Interval
    n_better: int  # tasks where B's mean outcome is higher
    n_worse: int  # tasks where B's mean outcome is lower
    n_tied: int
    sign_test_p: float
    mcnemar_p: float | None  # only when both runs have one binary sample per task
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]


def _check_counts(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one task: the chance that at least one of k samples (of n, c correct) is correct.

    Args:
        n: samples drawn for the task.
        c: correct samples among them.
        k: the k of pass@k (1 <= k <= n).

    Returns:
        `1 - C(n-c, k) / C(n, k)`, computed as `1 - prod_{i=n-c+1}^{n} (1 - k/i)` (Chen et al. 2021).
    """
    _check_counts(n, c, k)
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k for one task: the chance that k samples drawn without replacement are all correct.

    Args:
        n: samples drawn for the task.
        c: correct samples among them.
        k: the k of pass^k (1 <= k <= n).

    Returns:
        `C(c, k) / C(n, k) = prod_{i=0}^{k-1} (c-i) / (n-i)` (tau-bench).
    """
    _check_counts(n, c, k)
    if c < k:
        return 0.0
    return float(np.prod((c - np.arange(k)) / (n - np.arange(k))))


def _binary_counts(outcomes: Outcomes) -> dict[str, tuple[int, int]]:
    counts = {}
    for task, samples in outcomes.items():
        if any(s not in (0, 1) for s in samples):
            raise ValueError(f"task {task!r}: pass@k needs binary outcomes (success or not), got {list(samples)}")
        counts[task] = (len(samples), int(sum(samples)))
    return counts


def pass_at_k_per_task(outcomes: Outcomes, k: int) -> dict[str, float]:
    """pass@k of every task (each task needs at least k samples)."""
    return {task: pass_at_k(n, c, k) for task, (n, c) in _binary_counts(outcomes).items()}


def pass_hat_k_per_task(outcomes: Outcomes, k: int) -> dict[str, float]:
    """pass^k of every task (each task needs at least k samples)."""
    return {task: pass_hat_k(n, c, k) for task, (n, c) in _binary_counts(outcomes).items()}


def _percentiles(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def mean_ci(values: Sequence[float], *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> Interval:
    """The mean of per-task values (e.g. per-task pass@k) with a percentile bootstrap interval over tasks.

    Args:
        values: one value per task.
        n_boot: bootstrap resamples.
        confidence: coverage of the interval (0.95: the 2.5th and 97.5th percentiles).
        seed: seed of the resampling.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("mean_ci needs at least one task")
    rng = np.random.default_rng(seed)
    draws = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    low, high = _percentiles(draws, confidence)
    return Interval(float(x.mean()), low, high, confidence, int(x.size))


def success_rate_ci(outcomes: Outcomes, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0) -> Interval:
    """The success rate over all episodes, with a bootstrap interval clustered by task.

    Each resample draws tasks with replacement and keeps all samples of each drawn task, so the interval accounts for
    samples of one task being correlated. With one sample per task it is the ordinary bootstrap over episodes.

    Args:
        outcomes: task id -> outcomes of its samples (bool or in [0, 1]); tasks without samples are ignored.
        n_boot: bootstrap resamples.
        confidence: coverage of the interval.
        seed: seed of the resampling.
    """
    sums = np.array([float(sum(s)) for s in outcomes.values() if len(s)])
    counts = np.array([len(s) for s in outcomes.values() if len(s)], dtype=float)
    if sums.size == 0:
        raise ValueError("success_rate_ci needs at least one task with samples")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, sums.size, size=(n_boot, sums.size))
    draws = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    low, high = _percentiles(draws, confidence)
    return Interval(float(sums.sum() / counts.sum()), low, high, confidence, int(sums.size))


def binomial_two_sided_p(successes: int, trials: int) -> float:
    """Exact two-sided p-value of `successes` in `trials` under Binomial(trials, 1/2) (1.0 when trials = 0).

    The distribution is symmetric, so the p-value is twice the smaller tail, capped at 1; exact integer sums.
    """
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}, {trials}")
    tail = min(successes, trials - successes)
    p = 2 * sum(math.comb(trials, i) for i in range(tail + 1)) / 2**trials
    return min(1.0, p)


def sign_test(n_better: int, n_worse: int) -> float:
    """Exact two-sided sign test on per-task differences (ties already dropped)."""
    return binomial_two_sided_p(n_better, n_better + n_worse)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """McNemar's exact test for paired binary outcomes: `only_a` tasks solved by A alone, `only_b` by B alone."""
    return binomial_two_sided_p(only_a, only_a + only_b)


def compare_runs(a: Outcomes, b: Outcomes, *, n_boot: int = 2000, confidence: float = 0.95,
                 seed: int = 0) -> Comparison:
    """Paired comparison of run B against run A on their common tasks.

    Per task, `d = mean(B's outcomes) - mean(A's outcomes)`. Reported: the mean of `d` over tasks with a bootstrap
    interval over tasks, the exact sign test on the signs of `d` (ties dropped), and McNemar's exact test when every
    common task has exactly one binary outcome in each run (then it equals the sign test). Tasks with no samples in
    a run count as absent from that run.

    Args:
        a: task id -> outcomes of run A.
        b: task id -> outcomes of run B.
        n_boot, confidence, seed: see `mean_ci`.
    """
    a_tasks = {t for t, s in a.items() if len(s)}
    b_tasks = {t for t, s in b.items() if len(s)}
    common = sorted(a_tasks & b_tasks)
    if not common:
        raise ValueError("the two runs share no task with samples")
    diffs = [float(np.mean(b[t])) - float(np.mean(a[t])) for t in common]
    n_better = sum(d > 0 for d in diffs)
    n_worse = sum(d < 0 for d in diffs)
    single = all(len(a[t]) == 1 and len(b[t]) == 1 and a[t][0] in (0, 1) and b[t][0] in (0, 1) for t in common)
    return Comparison(
        diff=mean_ci(diffs, n_boot=n_boot, confidence=confidence, seed=seed),
        n_better=n_better,
        n_worse=n_worse,
        n_tied=len(diffs) - n_better - n_worse,
        sign_test_p=sign_test(n_better, n_worse),
        mcnemar_p=mcnemar_exact(n_worse, n_better) if single else None,
        only_in_a=tuple(sorted(a_tasks - b_tasks)),
        only_in_b=tuple(sorted(b_tasks - a_tasks)),
    )


def wilcoxon_signed_rank(diffs: Sequence[float]) -> tuple[float, float]:
    """Wilcoxon's signed-rank test of paired differences (e.g. per seed): `(W+, exact two-sided p)`.

    Zero differences are dropped; tied absolute differences get their average rank; the p-value is exact: the share of
    the 2^n sign assignments of the observed ranks whose |W+ − n(n+1)/4| is at least the observed one (n ≤ 24).
    """
    nonzero = [float(d) for d in diffs if d != 0]
    n = len(nonzero)
    if n == 0:
        return 0.0, 1.0
    if n > 24:
        raise ValueError(f"the exact test enumerates 2^n sign patterns; n = {n} is too many")
    order = sorted(range(n), key=lambda i: abs(nonzero[i]))
    ranks = [0.0] * n
    i = 0
    while i < n:  # average ranks over ties
        j = i
        while j + 1 < n and abs(nonzero[order[j + 1]]) == abs(nonzero[order[i]]):
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    w_plus = sum(r for r, d in zip(ranks, nonzero, strict=True) if d > 0)
    centre = sum(ranks) / 2
    observed = abs(w_plus - centre)
    sums = np.zeros(1)
    for rank in ranks:  # the null distribution of W+ over all sign patterns
        sums = np.concatenate([sums, sums + rank])
    p = float(np.mean(np.abs(sums - centre) >= observed - 1e-9))
    return w_plus, p
