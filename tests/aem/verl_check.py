"""Checks of ``aem.adapters.verl`` against the real verl package; run by test_verl_adapter.py inside ``.venv-verl``.

Exits non-zero (AssertionError with a message) on any mismatch; prints one line per passed check.
"""

from __future__ import annotations

import os

os.environ["VERL_USE_EXTERNAL_MODULES"] = "aem.adapters.verl"

import numpy as np  # noqa: E402
import torch  # noqa: E402
import verl  # noqa: E402, F401  (importing verl imports the adapter through its external-module mechanism)
from omegaconf import OmegaConf  # noqa: E402
from verl.protocol import DataProto  # noqa: E402
from verl.trainer.ppo import core_algos, ray_trainer  # noqa: E402
from verl.trainer.ppo.v1 import utils as v1_utils  # noqa: E402

import aem  # noqa: E402
from aem.adapters import verl as adapter  # noqa: E402


def make_batch(with_entropy: bool) -> DataProto:
    gen = torch.Generator().manual_seed(0)
    bsz, length = 12, 6
    mask = torch.ones(bsz, length)
    mask[:, 4:] = 0
    mask[3, 2:] = 0
    rewards = torch.zeros(bsz, length)
    rewards[torch.arange(bsz), 1] = torch.tensor([10.0, 0, 0, 10, 10, 10, 0, 0, 10, 0, 10, 0])
    tensors = {
        "token_level_rewards": rewards,
        "response_mask": mask,
        "old_log_probs": -torch.rand(bsz, length, generator=gen) * 3,
    }
    if with_entropy:
        tensors[adapter.ENTROPY_KEY] = torch.rand(bsz, length, generator=gen) * 2
    uid = np.array([f"task-{i // 4}" for i in range(bsz)], dtype=object)
    return DataProto.from_dict(tensors=tensors, non_tensors={"uid": uid})


def expected(data: DataProto, proxy_key: str, lam: float) -> torch.Tensor:
    mask = data.batch["response_mask"]
    groups = adapter.uid_to_index(data.non_tensor_batch["uid"])
    base = aem.grpo_advantages(data.batch["token_level_rewards"].sum(-1), groups)
    if proxy_key == adapter.ENTROPY_KEY:
        proxy = aem.response_entropy(data.batch[proxy_key], mask)
    else:
        proxy = aem.response_surprisal(data.batch[proxy_key], mask)
    modulated, _ = aem.aem_modulate(base, proxy, groups, lam=lam)
    return aem.broadcast_to_tokens(modulated, mask)


def main() -> None:
    assert core_algos.get_adv_estimator_fn("aem") is adapter.compute_aem_outcome_advantage
    assert "aem" in core_algos.ADV_ESTIMATOR_REGISTRY
    assert getattr(ray_trainer.compute_advantage, "_aem_hook", False)
    assert getattr(v1_utils.compute_advantage, "_aem_hook", False)
    assert getattr(ray_trainer.RayPPOTrainer._compute_old_log_prob, "_aem_hook", False)
    print("registered 'aem' in verl's ADV_ESTIMATOR_REGISTRY; hooks installed")

    config = OmegaConf.create({"adv_estimator": "aem", "norm_adv_by_std_in_grpo": True, "aem": {"lam": 2.0}})
    data = ray_trainer.compute_advantage(make_batch(True), "aem", config=config)
    torch.testing.assert_close(data.batch["advantages"], expected(data, adapter.ENTROPY_KEY, 2.0))
    print("legacy compute_advantage: exact-entropy AEM matches aem")

    data = ray_trainer.compute_advantage(make_batch(False), "aem", config=config)
    torch.testing.assert_close(data.batch["advantages"], expected(data, "old_log_probs", 2.0))
    print("legacy compute_advantage: surprisal fallback from old_log_probs matches aem")

    batch = make_batch(True)
    keys = [f"{uid}_{i}_0" for i, uid in enumerate(batch.non_tensor_batch["uid"])]
    data = v1_utils.compute_advantage_for_multi_trajectories(batch, keys, "aem", config=config)
    torch.testing.assert_close(data.batch["advantages"], expected(data, adapter.ENTROPY_KEY, 2.0))
    print("v1 compute_advantage_for_multi_trajectories: AEM matches aem")

    # Our base estimators agree with verl's own implementations on the same batch.
    data = make_batch(False)
    index = data.non_tensor_batch["uid"]
    groups = adapter.uid_to_index(index)
    scores = data.batch["token_level_rewards"].sum(-1)
    mask = data.batch["response_mask"]
    for norm in (True, False):
        verl_adv, _ = core_algos.compute_grpo_outcome_advantage(
            data.batch["token_level_rewards"], mask, index, norm_adv_by_std_in_grpo=norm
        )
        ours = aem.broadcast_to_tokens(aem.grpo_advantages(scores, groups, norm_by_std=norm), mask)
        torch.testing.assert_close(verl_adv, ours)
    verl_rloo, _ = core_algos.compute_rloo_outcome_advantage(data.batch["token_level_rewards"], mask, index)
    torch.testing.assert_close(verl_rloo, aem.broadcast_to_tokens(aem.rloo_advantages(scores, groups), mask))
    verl_kl = core_algos.kl_penalty(data.batch["old_log_probs"], data.batch["old_log_probs"] * 0.7, "low_var_kl")
    torch.testing.assert_close(verl_kl, aem.kl_k3(data.batch["old_log_probs"], data.batch["old_log_probs"] * 0.7))
    print("grpo / drgrpo / rloo / k3 match verl's core_algos")

    # Other estimators still go through verl's original code.
    data = ray_trainer.compute_advantage(make_batch(False), "rloo", config=config)
    torch.testing.assert_close(data.batch["advantages"], verl_rloo)
    print("non-AEM estimators untouched by the hook")

    # The entropy hook keeps a copy of `entropys` that survives fit()'s pop.
    def fake_old_log_prob(self, batch):
        return DataProto.from_dict(tensors={"old_log_probs": torch.zeros(2, 3), "entropys": torch.ones(2, 3)}), 0.0

    output, _ = adapter._wrap_old_log_prob(fake_old_log_prob)(None, None)
    output.batch.pop("entropys")
    assert torch.equal(output.batch[adapter.ENTROPY_KEY], torch.ones(2, 3))
    print("old-log-prob hook keeps aem_token_entropy")

    try:
        adapter.compute_aem_outcome_advantage(torch.zeros(2, 3), torch.ones(2, 3), np.array(["a", "a"]))
    except ValueError as err:
        assert "no entropy source" in str(err)
    else:
        raise AssertionError("missing entropy must raise a clear ValueError")
    print("ALL VERL CHECKS PASSED")


if __name__ == "__main__":
    main()
