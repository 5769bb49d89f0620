"""Checks of the ``aem`` estimator (``aem.adapters.verl``) against the real verl package; run by
test_verl_adapter.py inside ``.venv-verl``. The trainer patches are checked in tests/train/verl_checks/.

Exits non-zero (AssertionError with a message) on any mismatch; prints one line per passed check.
"""

from __future__ import annotations

import json
import os

os.environ["VERL_USE_EXTERNAL_MODULES"] = "aem.adapters.verl"

import numpy as np  # noqa: E402
import torch  # noqa: E402
import verl  # noqa: E402, F401  (importing verl imports the adapter through its external-module mechanism)
from omegaconf import OmegaConf  # noqa: E402
from verl.trainer.ppo import core_algos  # noqa: E402

import aem  # noqa: E402
from aem import reference as ref  # noqa: E402
from aem.adapters import verl as adapter  # noqa: E402


def multi_turn_batch(seed: int = 0) -> dict:
    """12 trajectories in 3 tasks; each row: 0-3 model turns of ragged lengths separated by env tokens."""
    gen = torch.Generator().manual_seed(seed)
    bsz, length = 12, 24
    mask = torch.zeros(bsz, length)
    for row in range(bsz):
        pos = int(torch.randint(0, 3, (1,), generator=gen))
        for _ in range(row % 4):  # row 0, 4, 8: no turn at all
            span = int(torch.randint(1, 5, (1,), generator=gen))
            mask[row, pos : pos + span] = 1
            pos += span + int(torch.randint(1, 3, (1,), generator=gen))
    rewards = torch.zeros(bsz, length)
    rewards[:, 0] = torch.tensor([10.0, 0, 0, 10, 10, 10, 0, 0, 10, 0, 10, 0])
    return {
        "token_level_rewards": rewards,
        "response_mask": mask,
        "token_entropy": torch.rand(bsz, length, generator=gen) * 2,
        "old_log_probs": -torch.rand(bsz, length, generator=gen) * 3,
        "uid": np.array([f"task-{i // 4}" for i in range(bsz)], dtype=object),
    }


def expected(batch: dict, token_values: torch.Tensor, lam: float, norm: bool = True) -> torch.Tensor:
    """verl's own GRPO advantage (one value per trajectory) × the loop reference's per-turn α."""
    verl_grpo, _ = core_algos.compute_grpo_outcome_advantage(
        batch["token_level_rewards"], batch["response_mask"], batch["uid"], norm_adv_by_std_in_grpo=norm)
    alpha = ref.aem_span_alpha_ref(token_values, batch["response_mask"], list(batch["uid"]), lam=lam)
    return verl_grpo * torch.tensor(alpha, dtype=verl_grpo.dtype)


def main() -> None:
    fn = core_algos.get_adv_estimator_fn("aem")
    assert fn is adapter.compute_aem_outcome_advantage and "aem" in core_algos.ADV_ESTIMATOR_REGISTRY
    print("registered 'aem' in verl's ADV_ESTIMATOR_REGISTRY")

    b = multi_turn_batch()
    config = OmegaConf.create({"adv_estimator": "aem", "norm_adv_by_std_in_grpo": True, "aem": {"lam": 2.0}})
    adv, ret = fn(b["token_level_rewards"], b["response_mask"], b["uid"], config, token_entropy=b["token_entropy"])
    torch.testing.assert_close(adv, expected(b, b["token_entropy"], 2.0))
    assert ret is adv
    groups = adapter.uid_to_index(b["uid"])
    proxy = aem.response_entropy(b["token_entropy"], b["response_mask"], empty_value=float("nan"))
    whole, _ = aem.aem_modulate(aem.grpo_advantages(b["token_level_rewards"].sum(-1), groups), proxy, groups, lam=2.0)
    gap = float((adv - aem.broadcast_to_tokens(whole, b["response_mask"])).abs().max())
    assert gap > 0.1, f"per-turn and whole-trajectory α should differ on this multi-turn batch (gap {gap})"
    print(f"per-turn AEM = verl's GRPO × the loop reference's per-turn α (exact entropy); vs one α per "
          f"trajectory: max |Δ advantage| {gap:.3f}")

    adv, _ = fn(b["token_level_rewards"], b["response_mask"], b["uid"], config, old_log_probs=b["old_log_probs"])
    torch.testing.assert_close(adv, expected(b, -b["old_log_probs"], 2.0))
    print("surprisal fallback from old_log_probs matches")

    no_std = OmegaConf.create({"norm_adv_by_std_in_grpo": False})
    adv, _ = fn(b["token_level_rewards"], b["response_mask"], b["uid"], no_std, token_entropy=b["token_entropy"])
    torch.testing.assert_close(adv, expected(b, b["token_entropy"], 1.0, norm=False))
    os.environ["AEM_VERL_HPARAMS"] = json.dumps({"lam": 0.0})
    adv, _ = fn(b["token_level_rewards"], b["response_mask"], b["uid"], None, token_entropy=b["token_entropy"])
    del os.environ["AEM_VERL_HPARAMS"]
    verl_grpo, _ = core_algos.compute_grpo_outcome_advantage(b["token_level_rewards"], b["response_mask"], b["uid"])
    torch.testing.assert_close(adv, verl_grpo)  # λ = 0: α ≡ 1, exactly verl's GRPO
    print("norm_adv_by_std_in_grpo honoured; AEM_VERL_HPARAMS lam=0 gives verl's GRPO")

    # One turn per sample (verl-agent's layout): identical to whole-response AEM on step-samples.
    single = dict(b, response_mask=(aem.spans_from_mask(b["response_mask"]) == 0).float())
    adv, _ = fn(single["token_level_rewards"], single["response_mask"], single["uid"], None,
                token_entropy=single["token_entropy"])
    groups = adapter.uid_to_index(single["uid"])
    proxy = aem.response_entropy(single["token_entropy"], single["response_mask"], empty_value=float("nan"))
    base = aem.grpo_advantages(single["token_level_rewards"].sum(-1), groups)
    whole, _ = aem.aem_modulate(base, proxy, groups)
    torch.testing.assert_close(adv, aem.broadcast_to_tokens(whole, single["response_mask"]))
    print("one turn per sample: equals step-sample AEM")

    # Our base estimators agree with verl's own implementations on the same batch.
    index, mask = b["uid"], b["response_mask"]
    groups = adapter.uid_to_index(index)
    scores = b["token_level_rewards"].sum(-1)
    for norm in (True, False):
        verl_adv, _ = core_algos.compute_grpo_outcome_advantage(b["token_level_rewards"], mask, index,
                                                                norm_adv_by_std_in_grpo=norm)
        ours = aem.broadcast_to_tokens(aem.grpo_advantages(scores, groups, norm_by_std=norm), mask)
        torch.testing.assert_close(verl_adv, ours)
    verl_rloo, _ = core_algos.compute_rloo_outcome_advantage(b["token_level_rewards"], mask, index)
    torch.testing.assert_close(verl_rloo, aem.broadcast_to_tokens(aem.rloo_advantages(scores, groups), mask))
    logp = b["old_log_probs"]
    torch.testing.assert_close(core_algos.kl_penalty(logp, logp * 0.7, "low_var_kl"), aem.kl_k3(logp, logp * 0.7))
    print("grpo / drgrpo / rloo / k3 match verl's core_algos")

    try:
        fn(torch.zeros(2, 3), torch.ones(2, 3), np.array(["a", "a"]))
    except ValueError as err:
        assert "no entropy source" in str(err) and "harness.verl.trainer_hooks" in str(err)
    else:
        raise AssertionError("missing entropy must raise a clear ValueError")
    print("ALL VERL CHECKS PASSED")


if __name__ == "__main__":
    main()
