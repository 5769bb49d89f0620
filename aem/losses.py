"""Policy-gradient losses: PPO-clip (dual clip, asymmetric clip-higher), GSPO sequence ratio, k3 KL, aggregation.

Conventions follow verl ``core_algos`` (``compute_policy_loss_vanilla``, ``compute_policy_loss_gspo``, ``agg_loss``,
``kl_penalty(..., "low_var_kl")``); the defaults are verl-agent's (algorithms.md §0.1).
"""

from __future__ import annotations

import torch

AGG_MODES = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm")
_AGG_ALIASES = {"sequence-mean": "seq-mean-token-mean"}


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    total = mask.sum()
    return (values * mask).sum() / total.clamp(min=1)


def agg_loss(
    loss_mat: torch.Tensor, mask: torch.Tensor, agg: str = "token-mean", *, norm_constant: float | None = None
) -> torch.Tensor:
    """Aggregate a ``[B, T]`` loss matrix to a scalar.

    Modes: ``"token-mean"`` (Σ over all tokens / number of tokens), ``"seq-mean-token-mean"`` (alias
    ``"sequence-mean"``: mean over responses of each response's token mean), ``"seq-mean-token-sum"`` (mean over
    responses of the token sum), ``"seq-mean-token-sum-norm"`` (Dr.GRPO: token sums / ``norm_constant``, default
    ``T``, averaged over responses). Responses with an empty mask are left out of the sequence means; an all-empty
    batch gives 0 (still connected to the graph).
    """
    agg = _AGG_ALIASES.get(agg, agg)
    mask = mask.to(loss_mat.dtype)
    if agg == "token-mean":
        return _masked_mean(loss_mat, mask)
    token_sum = (loss_mat * mask).sum(dim=-1)
    length = mask.sum(dim=-1)
    present = (length > 0).to(loss_mat.dtype)
    if agg == "seq-mean-token-mean":
        per_seq = token_sum / length.clamp(min=1)
    elif agg == "seq-mean-token-sum":
        per_seq = token_sum
    elif agg == "seq-mean-token-sum-norm":
        per_seq = token_sum / (norm_constant if norm_constant is not None else loss_mat.shape[-1])
    else:
        raise ValueError(f"agg must be one of {AGG_MODES + tuple(_AGG_ALIASES)}, got {agg!r}")
    return (per_seq * present).sum() / present.sum().clamp(min=1)


def kl_k3(log_prob: torch.Tensor, ref_log_prob: torch.Tensor, *, clamp: float | None = 10.0) -> torch.Tensor:
    """Low-variance KL estimate (Schulman's k3) per token: ``exp(r) − r − 1`` with ``r = ref − logp``.

    Non-negative, unbiased for ``KL(π‖π_ref)`` under samples from π. Clamped to ``[−clamp, clamp]`` like verl's
    ``low_var_kl`` (``None`` disables). Shapes: ``[B, T]`` → ``[B, T]``.
    """
    r = ref_log_prob - log_prob
    kl = torch.exp(r) - r - 1
    return kl.clamp(min=-clamp, max=clamp) if clamp is not None else kl


def policy_loss(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    dual_clip: float | None = None,
    agg: str = "token-mean",
    ratio: str = "token",
    norm_constant: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO-clip surrogate loss (to minimise), optionally dual-clipped or with a GSPO sequence ratio.

    ``L = max(−A·ρ, −A·clip(ρ, 1−clip_low, 1+clip_high))``; with ``dual_clip = c`` (> 1) negative-advantage tokens are
    further bounded by ``−A·c`` (``min(·, −A·c)`` for ``A < 0``). DAPO's clip-higher = ``clip_high > clip_low``.

    Args:
        log_prob: ``[B, T]`` current log-probs (with grad).
        old_log_prob: ``[B, T]`` behaviour log-probs.
        advantages: ``[B, T]`` or ``[B]`` (broadcast over tokens).
        mask: ``[B, T]`` response mask.
        clip_low, clip_high: ε_low, ε_high (0.2, 0.2).
        dual_clip: ``c`` of dual-clip PPO (verl-agent uses 3.0), or ``None``.
        agg: aggregation mode (see ``agg_loss``).
        ratio: ``"token"`` (PPO) or ``"sequence"`` (GSPO: ``s_i = exp(mean_t(logp − old))`` per response, applied to
            every token as ``sg[s_i]·π/sg[π]`` so the gradient flows through each token; log-ratio capped at 10).
        norm_constant: for ``agg="seq-mean-token-sum-norm"``.

    Returns:
        ``(loss, metrics)``; metrics (floats): ``pg_loss``, ``pg_clipfrac``, ``pg_clipfrac_lower``, ``ppo_kl``,
        ``ratio_mean``.
    """
    if advantages.dim() == 1:
        advantages = advantages[:, None].expand_as(log_prob)
    maskf = mask.to(log_prob.dtype)
    log_ratio = (log_prob - old_log_prob).clamp(-20.0, 20.0)
    if ratio == "token":
        rho = torch.exp(log_ratio)
    elif ratio == "sequence":
        seq_log_ratio = (log_ratio * maskf).sum(-1) / maskf.sum(-1).clamp(min=1)
        rho = torch.exp((log_prob - log_prob.detach() + seq_log_ratio.detach()[:, None]).clamp(max=10.0))
    else:
        raise ValueError(f"ratio must be 'token' or 'sequence', got {ratio!r}")
    loss_unclipped = -advantages * rho
    loss_clipped = -advantages * rho.clamp(1.0 - clip_low, 1.0 + clip_high)
    loss_mat = torch.maximum(loss_unclipped, loss_clipped)
    clipfrac = _masked_mean((loss_clipped > loss_unclipped).to(log_prob.dtype), maskf)
    clipfrac_lower = torch.zeros((), dtype=log_prob.dtype)
    if dual_clip is not None:
        if dual_clip <= 1.0:
            raise ValueError(f"dual_clip must be > 1, got {dual_clip}")
        bound = -advantages * dual_clip
        lower = (loss_mat > bound) & (advantages < 0)
        clipfrac_lower = _masked_mean(lower.to(log_prob.dtype), maskf)
        loss_mat = torch.where(advantages < 0, torch.minimum(loss_mat, bound), loss_mat)
    loss = agg_loss(loss_mat, maskf, agg, norm_constant=norm_constant)
    with torch.no_grad():
        metrics = {
            "pg_loss": float(loss.detach()),
            "pg_clipfrac": float(clipfrac),
            "pg_clipfrac_lower": float(clipfrac_lower),
            "ppo_kl": float(_masked_mean(-log_ratio.detach(), maskf)),
            "ratio_mean": float(_masked_mean(rho.detach(), maskf)),
        }
    return loss, metrics
