r"""The ``aem`` advantage estimator for verl (0.9.x), registered in verl's own registry on import.

Usage (every process that imports verl, Ray workers included, imports the modules)::

    VERL_USE_EXTERNAL_MODULES=aem.adapters.verl,harness.verl.trainer_hooks python -m verl.trainer.main_ppo \
        algorithm.adv_estimator=aem +algorithm.aem.lam=1.0 +algorithm.aem.base=grpo +algorithm.aem.proxy=entropy ...

Layout: verl's agent loop makes one sample per trajectory; ``response_mask`` is 1 on the model's turns and 0 on the
environment's replies. The estimator applies AEM **per turn**, as the paper defines it: the turns are the runs of
ones of ``response_mask`` (``aem.spans_from_mask``); each turn's α comes from its own mean token entropy, min–max
normalised over all turns of all trajectories of the task group (``uid``), and multiplies that turn's tokens only;
the base advantage (``base``: ``grpo`` | ``drgrpo`` | ``rloo`` over the summed token-level rewards;
``norm_adv_by_std_in_grpo`` honoured for ``grpo``) stays one value per trajectory. With one turn per sample
(verl-agent's one sample per step) this is exactly step-sample AEM.

Why the mask and no turn-index tensor: verl hands estimators ``response_mask`` already, and every agent loop that
puts env or tool replies between the model's turns (ours in ``harness/verl``, verl's tool agent loop) leaves at
least one mask-0 token between two turns, so the runs are the turns; a turn that generated no token has nothing
to weigh. A per-token turn index would have to travel through verl's ``extra_fields`` and padding for no gain. A
caller whose turns can touch can still pass its own span ids to ``aem.aem_span_modulate``.

Inputs beyond verl's generic call (``token_level_rewards, response_mask, index (uid), config``): the per-token proxy,
``token_entropy=`` (exact entropies, ``proxy="entropy"``) or ``old_log_probs=`` (the sampled-token surprisal,
``proxy="surprisal"``, and the fallback of ``"entropy"``). verl's trainer passes neither: the two small patches of
its trainer that forward them live in ``harness/verl/trainer_hooks.py``.

Hyper-parameters travel in ``config.aem`` (a mapping: ``lam``, ``min_range``, ``scope`` = ``group`` | ``trajectory``
| ``batch``, ``variant`` = ``aem`` | ``reversed`` | ``shuffled``, ``base``, ``proxy``) or, when the config object
cannot hold extra keys (``AlgoConfig`` dataclass), in the JSON env var ``AEM_VERL_HPARAMS``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import torch

from aem.advantages import drgrpo_advantages, grpo_advantages, rloo_advantages
from aem.spans import aem_span_modulate, spans_from_mask

ESTIMATOR_NAMES = ("aem",)
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
    """Verl's ``uid`` array (any hashable objects) → dense ``LongTensor[B]`` group ids."""
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
    """Verl estimator convention: ``(token_level_rewards[bs,L], response_mask[bs,L], index, config) -> (adv, ret)``.

    Args:
        token_level_rewards: ``[bs, L]``; a trajectory's score is the sum of its row.
        response_mask: ``[bs, L]``; its runs of ones are the trajectory's turns.
        index: ``[bs]`` uids (task groups), any hashable objects.
        config: verl's algorithm config (``norm_adv_by_std_in_grpo``, ``aem``), or None.
        token_entropy: ``[bs, L]`` old-policy token entropies.
        old_log_probs: ``[bs, L]`` old-policy log-probs of the sampled tokens.
        epsilon: GRPO's std epsilon.

    Returns:
        ``(advantages[bs, L], returns[bs, L])``, both the per-turn modulated advantages (verl's GRPO convention).

    Raises:
        ValueError: no ``index`` (uid), an unknown option, or no proxy source (neither ``token_entropy`` nor
            ``old_log_probs``: the trainer hooks of ``harness.verl.trainer_hooks`` are not installed).
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
        token_values = token_entropy.float()
    elif old_log_probs is not None and hp["proxy"] in ("entropy", "surprisal"):
        token_values = -old_log_probs.float()
    else:
        raise ValueError(
            "AEM found no entropy source: pass token_entropy or old_log_probs. In verl, import "
            "harness.verl.trainer_hooks (VERL_USE_EXTERNAL_MODULES=aem.adapters.verl,harness.verl.trainer_hooks) so "
            f"verl's compute_advantage forwards them from the batch (proxy={hp['proxy']!r})"
        )
    advantages, _alpha = aem_span_modulate(
        base.to(token_level_rewards.dtype), token_values, spans_from_mask(response_mask), groups, lam=hp["lam"],
        min_range=hp["min_range"], scope=hp["scope"], variant=hp["variant"],
    )
    return advantages, advantages


def install() -> None:
    """Register ``"aem"`` in verl's advantage-estimator registry (idempotent)."""
    from verl.trainer.ppo import core_algos

    for name in ESTIMATOR_NAMES:
        if core_algos.ADV_ESTIMATOR_REGISTRY.get(name) is not compute_aem_outcome_advantage:
            core_algos.register_adv_est(name)(compute_aem_outcome_advantage)


install()
