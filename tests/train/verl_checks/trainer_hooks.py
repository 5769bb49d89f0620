"""Run inside .venv-verl (verl 0.9.1): the trainer patches of `harness.verl.trainer_hooks` in verl's real trainer
functions. Prints one JSON line of named booleans; the test asserts each."""

from __future__ import annotations

import json
import os

os.environ["VERL_USE_EXTERNAL_MODULES"] = "aem.adapters.verl,harness.verl.trainer_hooks"

import numpy as np  # noqa: E402
import torch  # noqa: E402
import verl  # noqa: E402, F401  (imports both external modules)
from omegaconf import OmegaConf  # noqa: E402
from verl.protocol import DataProto  # noqa: E402
from verl.trainer.ppo import core_algos, ray_trainer  # noqa: E402
from verl.trainer.ppo.v1 import utils as v1_utils  # noqa: E402

from aem.adapters.verl import compute_aem_outcome_advantage  # noqa: E402
from harness.verl import trainer_hooks  # noqa: E402

gen = torch.Generator().manual_seed(0)
BSZ, LENGTH = 8, 10
MASK = torch.tensor([[1, 1, 0, 0, 1, 1, 1, 0, 0, 0]] * 4 + [[1, 0, 1, 0, 1, 0, 0, 0, 0, 0]] * 4, dtype=torch.float32)
REWARDS = torch.zeros(BSZ, LENGTH)
REWARDS[:, 1] = torch.tensor([10.0, 0, 10, 0, 10, 10, 0, 0])
ENTROPY = torch.rand(BSZ, LENGTH, generator=gen) * 2
LOGP = -torch.rand(BSZ, LENGTH, generator=gen) * 3
UID = np.array([f"task-{i // 4}" for i in range(BSZ)], dtype=object)
CONFIG = OmegaConf.create({"adv_estimator": "aem", "norm_adv_by_std_in_grpo": True, "aem": {"lam": 2.0}})


def batch(with_entropy: bool) -> DataProto:
    tensors = {"token_level_rewards": REWARDS.clone(), "response_mask": MASK.clone(), "old_log_probs": LOGP.clone()}
    if with_entropy:
        tensors[trainer_hooks.ENTROPY_KEY] = ENTROPY.clone()
    return DataProto.from_dict(tensors=tensors, non_tensors={"uid": UID.copy()})


def direct(**proxy: torch.Tensor) -> torch.Tensor:
    return compute_aem_outcome_advantage(REWARDS, MASK, UID, CONFIG, **proxy)[0]


def fake_old_log_prob(self, batch):
    return DataProto.from_dict(tensors={"old_log_probs": torch.zeros(2, 3), "entropys": torch.ones(2, 3)}), 0.0


kept, _ = trainer_hooks.wrap_old_log_prob(fake_old_log_prob)(None, None)
kept.batch.pop("entropys")  # what fit() does
legacy = ray_trainer.compute_advantage(batch(True), "aem", config=CONFIG).batch["advantages"]
fallback = ray_trainer.compute_advantage(batch(False), "aem", config=CONFIG).batch["advantages"]
keys = [f"{uid}_{i}_0" for i, uid in enumerate(UID)]
v1 = v1_utils.compute_advantage_for_multi_trajectories(batch(True), keys, "aem", config=CONFIG).batch["advantages"]
rloo = ray_trainer.compute_advantage(batch(False), "rloo", config=CONFIG).batch["advantages"]
verl_rloo, _ = core_algos.compute_rloo_outcome_advantage(REWARDS, MASK, UID)
print(json.dumps({
    "hooks_installed": all(getattr(f, "_aem_hook", False) for f in (
        ray_trainer.compute_advantage, v1_utils.compute_advantage, ray_trainer.RayPPOTrainer._compute_old_log_prob)),
    "estimator_registered": core_algos.get_adv_estimator_fn("aem") is compute_aem_outcome_advantage,
    "legacy_forwards_entropy": torch.allclose(legacy, direct(token_entropy=ENTROPY)),
    "legacy_falls_back_to_surprisal": torch.allclose(fallback, direct(old_log_probs=LOGP)),
    "entropy_and_surprisal_differ": not torch.allclose(legacy, fallback),
    # row 0's two turns (tokens 0-1 and 4-6) each get their own α, uniform inside the turn
    "per_turn": bool(legacy[0, 0] == legacy[0, 1] != legacy[0, 4] == legacy[0, 6]),
    "v1_forwards_entropy": torch.allclose(v1, direct(token_entropy=ENTROPY)),
    "other_estimators_untouched": torch.allclose(rloo, verl_rloo),
    "old_log_prob_keeps_entropy": torch.equal(kept.batch[trainer_hooks.ENTROPY_KEY], torch.ones(2, 3)),
}))
