"""`harness.stats` against values computed by hand or by brute-force enumeration."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from harness import stats


def _subsets(n: int, c: int, k: int) -> list[tuple[bool, ...]]:
    samples = [True] * c + [False] * (n - c)
    return [tuple(samples[i] for i in chosen) for chosen in itertools.combinations(range(n), k)]


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_and_pass_hat_k_equal_enumeration_over_subsets(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            subsets = _subsets(n, c, k)
            any_correct = sum(any(s) for s in subsets) / len(subsets)
            all_correct = sum(all(s) for s in subsets) / len(subsets)
            assert stats.pass_at_k(n, c, k) == pytest.approx(any_correct, abs=1e-12), (n, c, k)
            assert stats.pass_hat_k(n, c, k) == pytest.approx(all_correct, abs=1e-12), (n, c, k)


def test_pass_at_k_hand_values_and_large_n_stability() -> None:
    assert stats.pass_at_k(2, 1, 1) == 0.5
    assert stats.pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert stats.pass_hat_k(4, 3, 2) == pytest.approx(0.5)  # C(3,2)/C(4,2) = 3/6
    exact = 1 - math.comb(1990, 100) / math.comb(2000, 100)  # exact big-integer binomials
    assert stats.pass_at_k(2000, 10, 100) == pytest.approx(exact, rel=1e-12)
    assert stats.pass_hat_k(2000, 1990, 100) == pytest.approx(math.comb(1990, 100) / math.comb(2000, 100), rel=1e-12)
    with pytest.raises(ValueError):
        stats.pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        stats.pass_hat_k(3, 1, 4)


def test_per_task_estimators_need_binary_outcomes() -> None:
    outcomes = {"t1": [1, 0, 0, 1], "t2": [False, False, False, False]}
    assert stats.pass_at_k_per_task(outcomes, 2) == {"t1": pytest.approx(5 / 6), "t2": 0.0}
    assert stats.pass_hat_k_per_task(outcomes, 2) == {"t1": pytest.approx(1 / 6), "t2": 0.0}
    with pytest.raises(ValueError, match="binary"):
        stats.pass_at_k_per_task({"t": [0.5, 1]}, 1)


def _two_sided_by_enumeration(successes: int, trials: int) -> float:
    """All 2^n sign patterns, summing those no more likely than the observed count (p = 1/2)."""
    observed = math.comb(trials, successes)
    patterns = itertools.product((0, 1), repeat=trials)
    total = sum(1 for pattern in patterns if math.comb(trials, sum(pattern)) <= observed)
    return total / 2**trials


@pytest.mark.parametrize("trials", range(0, 11))
def test_sign_test_equals_exact_binomial_sums(trials: int) -> None:
    for successes in range(trials + 1):
        assert stats.sign_test(successes, trials - successes) == pytest.approx(
            _two_sided_by_enumeration(successes, trials), abs=1e-15
        )


def test_sign_test_hand_values() -> None:
    assert stats.sign_test(0, 0) == 1.0
    assert stats.sign_test(5, 0) == pytest.approx(2 / 32)
    assert stats.sign_test(9, 1) == pytest.approx(2 * 11 / 1024)  # 2 * (C(10,0) + C(10,1)) / 2^10
    assert stats.sign_test(3000, 3000) == 1.0
    assert stats.mcnemar_exact(1, 9) == stats.sign_test(9, 1)


def _outcomes(n_tasks: int, samples: int, rate: float, seed: int) -> dict[str, list[bool]]:
    rng = random.Random(seed)
    return {f"task-{i}": [rng.random() < rate for _ in range(samples)] for i in range(n_tasks)}


def test_success_rate_ci_contains_point_is_seeded_and_shrinks_with_more_tasks() -> None:
    small = stats.success_rate_ci(_outcomes(20, 4, 0.4, seed=1), seed=3)
    large = stats.success_rate_ci(_outcomes(500, 4, 0.4, seed=1), seed=3)
    for ci in (small, large):
        assert ci.low <= ci.point <= ci.high
    assert small.n_tasks == 20 and large.n_tasks == 500
    assert (large.high - large.low) < (small.high - small.low) / 3
    assert stats.success_rate_ci(_outcomes(20, 4, 0.4, seed=1), seed=3) == small
    assert stats.success_rate_ci({"a": [1, 1], "b": [0, 0, 0, 1]}).point == pytest.approx(3 / 6)


def test_clustered_interval_is_wider_than_episode_bootstrap_when_samples_agree() -> None:
    """k identical samples per task carry the information of one: the task bootstrap must not shrink with k."""
    rng = random.Random(0)
    per_task = [rng.random() < 0.5 for _ in range(60)]
    clustered = stats.success_rate_ci({f"t{i}": [x] * 8 for i, x in enumerate(per_task)}, seed=0)
    as_if_independent = stats.success_rate_ci({f"e{i}": [x] for i, x in enumerate(per_task * 8)}, seed=0)
    one_sample = stats.success_rate_ci({f"t{i}": [x] for i, x in enumerate(per_task)}, seed=0)
    assert clustered.point == as_if_independent.point == one_sample.point
    assert clustered.high - clustered.low == pytest.approx(one_sample.high - one_sample.low)
    assert clustered.high - clustered.low > 2 * (as_if_independent.high - as_if_independent.low)


def test_compare_runs_paired_difference_sign_and_mcnemar() -> None:
    a = {"t1": [1], "t2": [0], "t3": [0], "t4": [1], "t5": [0], "only_a": [1]}
    b = {"t1": [1], "t2": [1], "t3": [1], "t4": [0], "t5": [1], "only_b": [0]}
    result = stats.compare_runs(a, b, seed=0)
    assert (result.n_better, result.n_worse, result.n_tied) == (3, 1, 1)
    assert result.diff.point == pytest.approx((0 + 1 + 1 - 1 + 1) / 5)
    assert result.diff.low <= result.diff.point <= result.diff.high
    assert result.sign_test_p == pytest.approx(2 * (1 + 4) / 16)  # 3 of 4 untied: 2 * P(X <= 1), X ~ B(4, 1/2)
    assert result.mcnemar_p == result.sign_test_p
    assert result.only_in_a == ("only_a",) and result.only_in_b == ("only_b",)


def test_compare_runs_with_several_samples_has_no_mcnemar() -> None:
    a = {f"t{i}": [0, 0, 1, 0] for i in range(30)}
    b = {f"t{i}": [1, 1, 1, 0] for i in range(30)}
    result = stats.compare_runs(a, b)
    assert result.mcnemar_p is None and result.n_better == 30
    assert result.diff.point == pytest.approx(0.5) and result.diff.low == result.diff.high == pytest.approx(0.5)
    assert result.sign_test_p == pytest.approx(2 / 2**30)
    with pytest.raises(ValueError, match="share no task"):
        stats.compare_runs({"x": [1]}, {"y": [1]})


def test_wilcoxon_signed_rank_exact_values():
    from harness.stats import wilcoxon_signed_rank

    # all 8 differences positive: W+ = 36, p = 2 / 2^8 (the all-plus and all-minus patterns)
    assert wilcoxon_signed_rank([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]) == (36.0, pytest.approx(2 / 256))
    w, p = wilcoxon_signed_rank([1.0, -2.0, 3.0, 4.0, 5.0])  # ranks 1..5, W+ = 13: |W+ - 7.5| >= 5.5
    assert w == 13.0 and p == pytest.approx(6 / 32)  # W+ in {0, 1, 2, 13, 14, 15}
    assert wilcoxon_signed_rank([0.0, 0.0]) == (0.0, 1.0)
    w, p = wilcoxon_signed_rank([0.5, -0.5, 0.5, 0.5])  # ties: average rank 2.5 each
    assert w == 7.5 and p == pytest.approx(10 / 16)
