"""Registry by name, diagnostics, the natural-gradient theory check, and the import contract of ``aem``."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
import torch

import aem


def _batch() -> aem.StepBatch:
    return aem.StepBatch(
        scores=torch.tensor([10.0, 10.0, 0.0, 0.0]),
        group_index=torch.zeros(4, dtype=torch.long),
        traj_index=torch.tensor([0, 0, 1, 1]),
        step_index=torch.tensor([0, 1, 0, 1]),
        step_rewards=torch.tensor([0.0, 10.0, 0.0, 0.0]),
        anchor_ids=torch.tensor([0, 1, 0, 2]),
        proxy=torch.tensor([0.2, 1.5, 0.9, 0.4]),
    )


def test_builtin_names() -> None:
    assert {"grpo", "rloo", "gigpo", "drgrpo"} <= set(aem.list_estimators())
    assert {"none", "aem", "empg"} <= set(aem.list_modulators())


def test_registry_calls_the_same_math() -> None:
    batch = _batch()
    base = aem.get_estimator("grpo")(batch)
    assert torch.equal(base, aem.grpo_advantages(batch.scores, batch.group_index))
    gigpo = aem.get_estimator("gigpo")(batch, gamma=0.5)
    direct = aem.gigpo_advantages(batch.scores, batch.step_rewards, batch.group_index, batch.traj_index,
                                  batch.step_index, batch.anchor_ids, gamma=0.5)
    assert torch.equal(gigpo, direct)
    mod, alpha = aem.get_modulator("aem")(base, batch, lam=2.0)
    assert torch.equal(alpha, aem.aem_modulate(base, batch.proxy, batch.group_index, lam=2.0)[1])
    same, ones = aem.get_modulator("none")(base, batch)
    assert torch.equal(same, base) and bool((ones == 1).all())
    empg, g = aem.get_modulator("empg")(base, batch)
    assert empg.shape == (4,) and abs(float(g.mean()) - 1) < 1e-6


def test_register_custom_and_errors() -> None:
    @aem.register_estimator("test_constant")
    def constant(batch: aem.StepBatch, value: float = 1.0) -> torch.Tensor:
        return torch.full_like(batch.scores, value)

    assert aem.get_estimator("test_constant")(_batch(), value=2.0).tolist() == [2.0] * 4
    with pytest.raises(ValueError, match="already registered"):
        aem.register_estimator("test_constant")(lambda batch: batch.scores)
    aem.register_estimator("test_constant", override=True)(lambda batch: batch.scores)
    with pytest.raises(KeyError, match="grpo"):
        aem.get_estimator("nope")
    with pytest.raises(KeyError, match="aem"):
        aem.get_modulator("nope")
    with pytest.raises(ValueError, match="proxy"):
        aem.get_modulator("aem")(torch.zeros(1), aem.StepBatch(torch.zeros(1), torch.zeros(1, dtype=torch.long)))


def test_diagnostics_hand_computed() -> None:
    # Response 0: sampled tokens surprising (S = 3) vs entropy 1 → S − H = +2, A > 0 → entropy up.
    # Response 1: S = 0.5, H = 1.5 → −1, A > 0 → entropy down. Response 2: A < 0, S − H = +2 → down.
    logp = torch.tensor([[-1.0, -2.0], [-0.5, 0.0], [-1.5, -1.5]])
    ent = torch.tensor([[0.5, 0.5], [1.0, 0.5], [0.5, 0.5]])
    mask = torch.tensor([[1, 1], [1, 1], [1, 1]])
    adv = torch.tensor([1.0, 2.0, -1.0])
    rel = aem.relative_surprisal(logp, ent, mask)
    assert rel.tolist() == [2.0, -1.0, 2.0]
    alpha = torch.tensor([0.5, 1.5, 1.0])
    d = aem.diagnostics(adv, logp, ent, mask, torch.zeros(3, dtype=torch.long), alpha=alpha)
    assert d["frac_positive"] == pytest.approx(2 / 3) and d["frac_negative"] == pytest.approx(1 / 3)
    assert d["frac_entropy_up"] == pytest.approx(1 / 3) and d["frac_entropy_down"] == pytest.approx(2 / 3)
    assert d["drift_mean"] == pytest.approx((2 - 2 - 2) / 3)
    assert d["alpha_group_mean_dev"] == pytest.approx(0.0) and d["frac_alpha_above_1"] == pytest.approx(1 / 3)
    assert d["frac_alpha_lt1_entropy_up"] == 1.0 and d["frac_alpha_gt1_entropy_down"] == 0.5
    assert d["corr_alpha_rel_surprisal"] < 0


@pytest.mark.parametrize(("length", "letters"), [(1, 8), (3, 5)])
def test_theory_check_discriminates_natural_from_plain_steps(length: int, letters: int,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Where natural and plain steps change the entropy in opposite directions, the natural one follows A·(S − H)."""
    natural = aem.entropy_drift_agreement(n_cases=2000, length=length, max_responses=letters, seed=0)
    plain = aem.entropy_drift_agreement(n_cases=2000, length=length, max_responses=letters, seed=0, natural=False)
    with capsys.disabled():
        print(f"\n[theory check, length {length}] overall natural {natural['fraction']:.3f} / plain "
              f"{plain['fraction']:.3f}; where they disagree ({int(natural['disagree_cases'])} cases): natural "
              f"{natural['fraction_where_steps_disagree']:.3f} / plain {plain['fraction_where_steps_disagree']:.3f}")
    assert natural["disagree_cases"] == plain["disagree_cases"] >= 50
    assert natural["fraction"] >= 0.98
    assert natural["fraction_where_steps_disagree"] >= 0.9 and plain["fraction_where_steps_disagree"] <= 0.1
    # Finite steps leave the first-order regime: a much larger step must score lower (the check measures something).
    large = aem.entropy_drift_agreement(n_cases=2000, length=length, max_responses=letters, seed=0, step_size=0.3)
    assert large["fraction_where_steps_disagree"] < natural["fraction_where_steps_disagree"] - 0.2


def test_autoregressive_natural_direction_is_the_sign_law() -> None:
    """First order, exactly: ∇H · d_natural = A·(S − H) for a tabular autoregressive policy (3 letters of 4)."""
    from aem.theory import _entropy, _natural_direction, _sequence_logprobs

    gen = torch.Generator().manual_seed(0)
    k, length = 4, 3
    seqs = torch.tensor(list(itertools.product(range(k), repeat=length)))
    levels = [torch.randn(3, k**j, k, generator=gen, dtype=torch.float64) * 2 for j in range(length)]
    action, adv = torch.tensor([5, 40, 63]), torch.tensor([1.3, -0.7, 2.0], dtype=torch.float64)
    direction = _natural_direction(levels, seqs[action], adv)
    leaves = [z.clone().requires_grad_(True) for z in levels]
    grads = torch.autograd.grad(_entropy(_sequence_logprobs(leaves, seqs)).sum(), leaves)
    first_order = sum((g * d).flatten(1).sum(-1) for g, d in zip(grads, direction, strict=True))
    logp = _sequence_logprobs(levels, seqs)
    expected = adv * (-logp[torch.arange(3), action] - _entropy(logp))
    torch.testing.assert_close(first_order, expected, rtol=1e-9, atol=1e-12)


def test_aem_package_imports_only_torch() -> None:
    code = (
        "import sys, aem; bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'verl', 'harness', 'agent_envs', 'transformers', 'gymnasium'}); print(bad); assert not bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
