"""aem: Adaptive Entropy Modulation and its peers as small pure tensor functions (imports only torch).

Layout: one training sample per agent turn; ``group_index`` (task group / uid), ``traj_index``, ``step_index`` are
``LongTensor[B]``. Typical use::

    proxy = aem.response_entropy(token_entropy, response_mask)            # [B]
    base = aem.grpo_advantages(scores, group_index)                       # [B]
    adv, alpha = aem.aem_modulate(base, proxy, group_index)               # [B], [B]
    loss, metrics = aem.policy_loss(logp, old_logp, aem.broadcast_to_tokens(adv, response_mask), response_mask)

Multi-turn samples (one sample = one trajectory, turns = runs of ones of the response mask)::

    adv, alpha = aem.aem_span_modulate(base, token_entropy, aem.spans_from_mask(response_mask), group_index)

Math and defaults: ``../shared/docs/algorithms.md``; see ``aem/README.md``.
"""

from __future__ import annotations

from aem.advantages import (
    anchor_ids_from_observations,
    drgrpo_advantages,
    gigpo_advantages,
    gigpo_step_advantages,
    grpo_advantages,
    rloo_advantages,
    step_discounted_returns,
)
from aem.diagnostics import diagnostics, relative_surprisal
from aem.epo import EPOState, epo_loss_term, trajectory_mean
from aem.losses import agg_loss, kl_k3, policy_loss
from aem.modulation import aem_alpha, aem_modulate, broadcast_to_tokens, empg_modulate
from aem.proxies import (
    response_entropy,
    response_proxy,
    response_surprisal,
    token_entropy_from_logits,
    topk_entropy,
)
from aem.registry import (
    StepBatch,
    get_estimator,
    get_modulator,
    list_estimators,
    list_modulators,
    register_estimator,
    register_modulator,
)
from aem.spans import aem_span_alpha, aem_span_modulate, span_table, spans_from_mask
from aem.theory import entropy_drift_agreement

__all__ = [
    "EPOState",
    "StepBatch",
    "aem_alpha",
    "aem_modulate",
    "aem_span_alpha",
    "aem_span_modulate",
    "agg_loss",
    "anchor_ids_from_observations",
    "broadcast_to_tokens",
    "diagnostics",
    "drgrpo_advantages",
    "empg_modulate",
    "entropy_drift_agreement",
    "epo_loss_term",
    "get_estimator",
    "get_modulator",
    "gigpo_advantages",
    "gigpo_step_advantages",
    "grpo_advantages",
    "kl_k3",
    "list_estimators",
    "list_modulators",
    "policy_loss",
    "register_estimator",
    "register_modulator",
    "relative_surprisal",
    "response_entropy",
    "response_proxy",
    "response_surprisal",
    "rloo_advantages",
    "span_table",
    "spans_from_mask",
    "step_discounted_returns",
    "token_entropy_from_logits",
    "topk_entropy",
    "trajectory_mean",
]
