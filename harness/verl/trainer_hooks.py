"""The two small patches of verl's (0.9.x) trainer that AEM needs; installed on import (idempotent).

    VERL_USE_EXTERNAL_MODULES=aem.adapters.verl,harness.verl.trainer_hooks,harness.verl.agent_loop ...

verl's generic estimator call passes ``token_level_rewards, response_mask, index (uid), config`` — no entropy, no
log-probs — and ``fit`` pops the entropies the old-log-prob pass computed. So:

1. ``ray_trainer.compute_advantage`` (and the name bound in ``v1.utils``) is wrapped: for AEM estimator names only
   (``aem.adapters.verl.ESTIMATOR_NAMES``) the estimator also receives ``token_entropy`` (batch key
   ``aem_token_entropy``) and ``old_log_probs``; every other estimator goes through verl's code unchanged;
2. ``RayPPOTrainer._compute_old_log_prob`` is wrapped to copy ``entropys`` to ``aem_token_entropy``, which survives
   the pop (needs ``actor_rollout_ref.actor.calculate_entropy=True``).

The v1 trainer (``trainer.use_v1=True``) selects only fixed fields for ``_compute_advantage`` (``old_log_probs``
among them, ``entropy`` not), so there AEM falls back to the surprisal proxy unless ``_compute_advantage`` is
subclassed to also select ``"entropy"`` and store it as ``aem_token_entropy``.
"""

from __future__ import annotations

import functools
from typing import Any

from aem.adapters.verl import ESTIMATOR_NAMES

ENTROPY_KEY = "aem_token_entropy"


def wrap_compute_advantage(original: Any) -> Any:
    """Forward the batch's entropy / old log-probs to AEM estimators; defer to verl's ``original`` for the rest."""
    if getattr(original, "_aem_hook", False):
        return original

    @functools.wraps(original)
    def compute_advantage(data: Any, adv_estimator: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(adv_estimator, "value", adv_estimator)
        if name not in ESTIMATOR_NAMES:
            return original(data, adv_estimator, *args, **kwargs)
        from verl.trainer.ppo import core_algos
        from verl.trainer.ppo.ray_trainer import compute_response_mask

        if "response_mask" not in data.batch.keys():
            data.batch["response_mask"] = compute_response_mask(data)
        keys = data.batch.keys()
        norm = kwargs.get("norm_adv_by_std_in_grpo", args[3] if len(args) > 3 else True)
        config = kwargs.get("config", args[4] if len(args) > 4 else None)
        fn = core_algos.get_adv_estimator_fn(name)
        advantages, returns = fn(
            token_level_rewards=data.batch["token_level_rewards"],
            response_mask=data.batch["response_mask"],
            index=data.non_tensor_batch.get("uid"),
            config=_NormOverride(config, norm),
            token_entropy=data.batch[ENTROPY_KEY] if ENTROPY_KEY in keys else None,
            old_log_probs=data.batch["old_log_probs"] if "old_log_probs" in keys else None,
        )
        data.batch["advantages"] = advantages
        data.batch["returns"] = returns
        return data

    compute_advantage._aem_hook = True  # type: ignore[attr-defined]
    return compute_advantage


class _NormOverride:
    """A read-only view of verl's algorithm config whose ``norm_adv_by_std_in_grpo`` is the call's argument."""

    def __init__(self, config: Any, norm: bool) -> None:
        self._config, self.norm_adv_by_std_in_grpo = config, bool(norm)

    def get(self, key: str, default: Any = None) -> Any:
        if key == "norm_adv_by_std_in_grpo":
            return self.norm_adv_by_std_in_grpo
        getter = getattr(self._config, "get", None)
        return getter(key, default) if callable(getter) else getattr(self._config, key, default)

    def __getattr__(self, key: str) -> Any:
        return self.get(key)


def wrap_old_log_prob(original: Any) -> Any:
    """Copy ``entropys`` to ``aem_token_entropy`` in the legacy trainer's old-log-prob output (``fit`` pops it)."""
    if getattr(original, "_aem_hook", False):
        return original

    @functools.wraps(original)
    def _compute_old_log_prob(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        output = result[0] if isinstance(result, tuple) else result
        if "entropys" in output.batch.keys():
            output.batch[ENTROPY_KEY] = output.batch["entropys"].clone()
        return result

    _compute_old_log_prob._aem_hook = True  # type: ignore[attr-defined]
    return _compute_old_log_prob


def install() -> None:
    """Install both patches (idempotent); also registers the ``aem`` estimator through its import."""
    from verl.trainer.ppo import ray_trainer

    ray_trainer.compute_advantage = wrap_compute_advantage(ray_trainer.compute_advantage)
    trainer = ray_trainer.RayPPOTrainer
    trainer._compute_old_log_prob = wrap_old_log_prob(trainer._compute_old_log_prob)
    try:
        from verl.trainer.ppo.v1 import utils as v1_utils
    except ImportError:  # older verl without the v1 trainer
        return
    v1_utils.compute_advantage = wrap_compute_advantage(v1_utils.compute_advantage)


install()
