"""Registry by name, diagnostics, the natural-gradient theory check, and the import contract of ``aem``."""

from __future__ import annotations

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


def test_theory_check_natural_gradient_sign(capsys: pytest.CaptureFixture[str]) -> None:
    """Natural-gradient step on a toy categorical policy: entropy moves with sign(A·(S − H)) in ≥ 90% of cases."""
    natural = aem.entropy_drift_agreement(n_cases=2000, seed=0)
    vanilla = aem.entropy_drift_agreement(n_cases=2000, seed=0, natural=False)
    with capsys.disabled():
        print(f"\n[theory check] natural-gradient sign agreement {natural['fraction']:.4f} "
              f"({int(natural['agree'])}/{int(natural['cases'])}); vanilla gradient {vanilla['fraction']:.4f}")
    assert natural["fraction"] >= 0.9
    # Tiny steps are first-order: agreement must approach 1 (a broken law would not).
    assert aem.entropy_drift_agreement(n_cases=500, step_size=1e-3, seed=1)["fraction"] >= 0.99


def test_aem_package_imports_only_torch() -> None:
    code = (
        "import sys, aem; bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'verl', 'harness', 'agent_envs', 'transformers', 'gymnasium'}); print(bad); assert not bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
