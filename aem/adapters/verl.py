"""Switch on AEM in verl (0.9.x) without forking it.

Usage (every process that imports verl, Ray workers included, imports this module)::

    VERL_USE_EXTERNAL_MODULES=aem.adapters.verl python -m verl.trainer.main_ppo algorithm.adv_estimator=aem \\
        +algorithm.aem.lam=1.0 +algorithm.aem.base=grpo +algorithm.aem.proxy=entropy ...

Importing the module (``install()``, idempotent):

1. registers the advantage estimator ``"aem"`` in verl's own registry (``core_algos.register_adv_est``): group base
   advantage (``base``: ``grpo`` | ``drgrpo`` | ``rloo``; ``norm_adv_by_std_in_grpo`` is honoured for ``grpo``) from
   the summed token-level rewards, then ``aem_modulate`` with the response proxy, broadcast over the response mask;
2. **the smallest hook** for the missing input: verl's generic estimator call passes only ``token_level_rewards,
   response_mask, index (uid), config`` — no entropy, no log-probs. ``install`` wraps the module-level
   ``ray_trainer.compute_advantage`` (and the name bound in ``v1.utils``) so that, for AEM estimator names only, the
   estimator also receives ``token_entropy`` (batch key ``aem_token_entropy``) and ``old_log_probs`` from the batch;
   every other estimator goes through verl's original code unchanged;
3. keeps the exact entropies in the legacy trainer: ``RayPPOTrainer._compute_old_log_prob`` computes ``entropys`` and
   ``fit`` pops them before the batch union; the wrapper copies them to ``aem_token_entropy``, which survives.

Proxy choice (``proxy``): ``"entropy"`` (default) uses ``aem_token_entropy`` when present and otherwise falls back to
the sampled-token surprisal from ``old_log_probs`` (an unbiased estimate of the same mean token entropy); the v1
trainer (``trainer.use_v1=True``) selects only fixed fields for ``_compute_advantage`` (``old_log_probs`` among them,
``entropy`` not), so it gets the surprisal proxy unless you subclass its ``_compute_advantage`` to also select
``"entropy"`` and store it as ``aem_token_entropy``. ``"surprisal"`` forces the NLL proxy.

Hyper-parameters travel in ``config.aem`` (a mapping: ``lam``, ``min_range``, ``scope``, ``variant``, ``base``,
``proxy``) or, when the config object cannot hold extra keys (``AlgoConfig`` dataclass), in the JSON env var
``AEM_VERL_HPARAMS``.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import torch

from aem.advantages import drgrpo_advantages, grpo_advantages, rloo_advantages
from aem.modulation import aem_modulate, broadcast_to_tokens
from aem.proxies import response_entropy, response_surprisal

ESTIMATOR_NAMES = ("aem",)
ENTROPY_KEY = "aem_token_entropy"
DEFAULTS: dict[str, Any] = {
    "lam": 1.0, "min_range": 0.1, "scope": "group", "variant": "aem", "base": "grpo", "proxy": "entropy",
}
_BASES = {"grpo": grpo_advantages, "drgrpo": drgrpo_advantages, "rloo": rloo_advantages}


def hparams_from(config: Any) -> dict[str, Any]:
    """AEM hyper-parameters: defaults, overridden by ``AEM_VERL_HPARAMS`` (JSON), then by ``config.aem``."""
    merged = dict(DEFAULTS)
    if os.environ.get("AEM_VERL_HPARAMS"):
        merged.update(json.loads(os.environ["AEM_VERL_HPARAMS"]))
    section = None
    if config is not None:
        getter = getattr(config, "get", None)
        section = getter("aem", None) if callable(getter) else getattr(config, "aem", None)
    if section is not None:
        merged.update({key: section[key] for key in section})
    unknown = set(merged) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown AEM hyper-parameters {sorted(unknown)}; valid: {sorted(DEFAULTS)}")
    return merged


def uid_to_index(index: Any) -> torch.Tensor:
    """verl's ``uid`` array (any hashable objects) → dense ``LongTensor[B]`` group ids."""
    table: dict[Any, int] = {}
    return torch.tensor([table.setdefault(uid, len(table)) for uid in list(index)], dtype=torch.long)


@torch.no_grad()
def compute_aem_outcome_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: Any = None,
    config: Any = None,
    token_entropy: torch.Tensor | None = None,
    old_log_probs: torch.Tensor | None = None,
    epsilon: float = 1e-6,
    **_: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """verl estimator convention: ``(token_level_rewards[bs,L], response_mask[bs,L], index, config) -> (adv, ret)``.

    Raises:
        ValueError: no ``index`` (uid) or no proxy source (neither ``token_entropy`` nor ``old_log_probs``: the
            hook from ``install()`` is not active).
    """
    if index is None:
        raise ValueError("AEM needs the group ids (uid) that verl passes as `index`")
    hp = hparams_from(config)
    if hp["base"] not in _BASES:
        raise ValueError(f"unknown AEM base {hp['base']!r}; choose from {sorted(_BASES)}")
    groups = uid_to_index(index).to(token_level_rewards.device)
    scores = token_level_rewards.sum(dim=-1)
    if hp["base"] == "grpo":
        norm = True if config is None else bool(getattr(config, "norm_adv_by_std_in_grpo", True))
        base = grpo_advantages(scores, groups, norm_by_std=norm, eps=epsilon)
    else:
        base = _BASES[hp["base"]](scores, groups)
    if hp["proxy"] == "entropy" and token_entropy is not None:
        proxy = response_entropy(token_entropy.float(), response_mask)
    elif old_log_probs is not None and hp["proxy"] in ("entropy", "surprisal"):
        proxy = response_surprisal(old_log_probs.float(), response_mask)
    else:
        raise ValueError(
            "AEM found no entropy source: pass token_entropy or old_log_probs. In verl, import "
            "aem.adapters.verl (VERL_USE_EXTERNAL_MODULES=aem.adapters.verl) so its compute_advantage hook forwards "
            f"'{ENTROPY_KEY}' / 'old_log_probs' from the batch (proxy={hp['proxy']!r})"
        )
    modulated, _alpha = aem_modulate(
        base, proxy, groups, lam=hp["lam"], min_range=hp["min_range"], scope=hp["scope"], variant=hp["variant"]
    )
    advantages = broadcast_to_tokens(modulated.to(token_level_rewards.dtype), response_mask)
    return advantages, advantages


def _wrap_compute_advantage(original: Any) -> Any:
    """The hook: forward the batch's entropy / old log-probs to AEM estimators, defer to verl for the rest."""
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


def _wrap_old_log_prob(original: Any) -> Any:
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
    """Register ``"aem"`` in verl's estimator registry and install both hooks (idempotent)."""
    from verl.trainer.ppo import core_algos, ray_trainer

    for name in ESTIMATOR_NAMES:
        if core_algos.ADV_ESTIMATOR_REGISTRY.get(name) is not compute_aem_outcome_advantage:
            core_algos.register_adv_est(name)(compute_aem_outcome_advantage)
    ray_trainer.compute_advantage = _wrap_compute_advantage(ray_trainer.compute_advantage)
    trainer = ray_trainer.RayPPOTrainer
    trainer._compute_old_log_prob = _wrap_old_log_prob(trainer._compute_old_log_prob)
    try:
        from verl.trainer.ppo.v1 import utils as v1_utils
    except ImportError:  # older verl without the v1 trainer
        return
    v1_utils.compute_advantage = _wrap_compute_advantage(v1_utils.compute_advantage)


install()
