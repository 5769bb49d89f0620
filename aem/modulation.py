"""Entropy modulation of base advantages: AEM (algorithms.md §4) and EMPG (§3).

Both take per-sample base advantages (``[B]``, or ``[B, T]`` already spread over tokens) and a per-sample entropy
proxy ``[B]`` (``response_entropy``), and return modulated advantages plus the per-sample coefficient. NaN proxies
(e.g. ``response_entropy(..., empty_value=nan)`` for empty responses) are left out of every statistic and get
coefficient 1 (AEM) / no modulation term (EMPG), so bad model output never poisons a group.
"""

from __future__ import annotations

import torch

from aem._segments import compact, pair_key, seg_amax, seg_amin, seg_sum, shuffle_within

AEM_SCOPES = ("group", "trajectory", "batch")
AEM_VARIANTS = ("aem", "reversed", "shuffled")


def broadcast_to_tokens(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Spread one value per response over its tokens: ``values[B]`` → ``values[:, None] * mask`` (``[B, T]``)."""
    keep = mask if mask.dtype == torch.bool else mask != 0
    return torch.where(keep, values[:, None], torch.zeros((), dtype=values.dtype))


def _apply(advantages: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
    return advantages * (coef[:, None] if advantages.dim() == 2 else coef).to(advantages.dtype)


def _scope_ids(scope: str, group_index: torch.Tensor, traj_index: torch.Tensor | None) -> torch.Tensor:
    if scope == "group":
        return group_index
    if scope == "trajectory":
        if traj_index is None:
            raise ValueError("scope='trajectory' needs traj_index")
        return pair_key(group_index, traj_index)
    if scope == "batch":
        return torch.zeros_like(group_index)
    raise ValueError(f"scope must be one of {AEM_SCOPES}, got {scope!r}")


@torch.no_grad()
def aem_alpha(
    proxy: torch.Tensor,
    group_index: torch.Tensor,
    *,
    lam: float = 1.0,
    min_range: float = 0.1,
    scope: str = "group",
    traj_index: torch.Tensor | None = None,
    variant: str = "aem",
    generator: torch.Generator | None = None,
    eps: float = 1e-8,
) -> torch.Tensor:
    """AEM coefficients ``α[B]`` (see ``aem_modulate``)."""
    if variant not in AEM_VARIANTS:
        raise ValueError(f"variant must be one of {AEM_VARIANTS}, got {variant!r}")
    dense, n = compact(_scope_ids(scope, group_index, traj_index))
    h = proxy.double()
    valid = torch.isfinite(h)
    # Invalid proxies take no part: +inf/-inf sentinels are neutral for min/max, weight 0 for the mean.
    low = seg_amin(torch.where(valid, h, torch.full_like(h, float("inf"))), dense, n)
    high = seg_amax(torch.where(valid, h, torch.full_like(h, float("-inf"))), dense, n)
    spread = high - low
    active = torch.isfinite(spread) & (spread >= min_range)  # degenerate-range guard: α = 1 for the whole group
    safe_low = torch.where(active, low, torch.zeros_like(low))
    safe_spread = torch.where(active, spread, torch.ones_like(spread))
    h_tilde = torch.where(valid, (h - safe_low[dense]) / (safe_spread[dense] + eps), torch.zeros_like(h))
    sign = -1.0 if variant in ("aem", "shuffled") else 1.0  # "reversed": amplify the high-entropy spans instead
    weight = torch.exp(sign * lam * h_tilde) * valid
    mean = seg_sum(weight, dense, n) / seg_sum(valid.double(), dense, n).clamp(min=1)
    alpha = torch.where(valid & active[dense], weight / mean[dense].clamp(min=1e-300), torch.ones_like(h))
    if variant == "shuffled":
        # Shuffle α among the valid members of each scope group (keeps the group's multiset of α, so its mean is 1).
        members = torch.where(valid & active[dense], dense, torch.full_like(dense, -1))
        perm = shuffle_within(members, generator)
        alpha = alpha[perm]
    return alpha.to(proxy.dtype)


@torch.no_grad()
def aem_modulate(
    advantages: torch.Tensor,
    proxy: torch.Tensor,
    group_index: torch.Tensor,
    *,
    lam: float = 1.0,
    min_range: float = 0.1,
    scope: str = "group",
    traj_index: torch.Tensor | None = None,
    variant: str = "aem",
    generator: torch.Generator | None = None,
    eps: float = 1e-8,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Adaptive Entropy Modulation: ``A^AEM = α · A^base`` with a self-calibrated decreasing map of the proxy.

    Per scope group ``G``: ``h̃ = (H̄ − min_G H̄) / (max_G H̄ − min_G H̄ + eps)``,
    ``α = exp(−λ h̃) / mean_G exp(−λ h̃)``; if ``max_G H̄ − min_G H̄ < min_range`` every ``α`` of ``G`` is 1 (guard).
    α > 0, so every advantage keeps its sign; the group mean of α is 1; ``lam = 0`` gives α ≡ 1. No additive term
    and no renormalisation afterwards (contrast with EMPG).

    Args:
        advantages: base advantages ``[B]`` or ``[B, T]`` (α multiplies every token of the span).
        proxy: ``[B]`` response proxy ``H̄`` (``response_entropy``); NaN/inf entries are excluded and get α = 1.
        group_index: ``[B]`` task-group ids (``uid``).
        lam: λ of the map (1.0 in all of the paper's experiments).
        min_range: guard threshold on the group's proxy range (0.1).
        scope: where min–max and the mean are taken: ``"group"`` (paper), ``"trajectory"`` (needs ``traj_index``)
            or ``"batch"`` — the normalisation-scope ablation.
        traj_index: ``[B]`` trajectory ids for ``scope="trajectory"``.
        variant: ``"aem"``; ``"reversed"`` (α ∝ exp(+λ h̃), the reversed-direction ablation) or ``"shuffled"``
            (AEM's α randomly permuted among the members of each scope group, the shuffling ablation).
        generator: RNG for ``"shuffled"``.
        eps: added to the range (not reported by the paper; 1e-8).

    Returns:
        ``(modulated, alpha)`` with ``modulated`` shaped like ``advantages`` and ``alpha[B]``.
    """
    alpha = aem_alpha(
        proxy, group_index, lam=lam, min_range=min_range, scope=scope, traj_index=traj_index,
        variant=variant, generator=generator, eps=eps,
    )
    return _apply(advantages, alpha), alpha


@torch.no_grad()
def empg_modulate(
    advantages: torch.Tensor,
    proxy: torch.Tensor,
    group_index: torch.Tensor,
    traj_index: torch.Tensor,
    step_index: torch.Tensor,
    *,
    k: float = 1.0,
    k_future: float = 1.0,
    zeta: float = 0.1,
    eps: float = 1e-8,
    zero_mean: bool = True,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """EMPG on step-samples: ``A_mod = g(H_t)·A + ζ·f(H_{t+1})``, then ``A ← A_mod − mean_B(A_mod)``.

    ``H̃ = (H − min_B H)/(max_B H − min_B H + eps)`` over the whole batch; ``g = exp(−k H̃) / (mean_B exp(−k H̃) + eps)``
    (batch mean 1); ``f = exp(−k' H̃_{next})`` where *next* is the sample of the same trajectory whose
    ``step_index`` is exactly ``step_index + 1``; a sample without one (last step) gets no bonus (ARLArena port).

    Args:
        advantages: base advantages ``[B]`` (per sample).
        proxy: ``[B]`` step entropy ``H`` (mean token entropy); NaN entries are excluded (g = 1, no bonus, their
            successor gets no bonus from them).
        group_index, traj_index, step_index: ``[B]`` layout ids (trajectories are ``(group, traj)`` pairs).
        k, k_future, zeta: ``k``, ``k'`` and ``ζ`` (official defaults 1.0, 1.0, 0.1; ARLArena used ζ = 0.05).
        eps: the ``1e-8`` of the min–max and of the g denominator.
        zero_mean: subtract the batch mean at the end ("e.g., zero-mean").
        weights: optional ``[B]`` weights for that final mean (e.g. response lengths to reproduce a token-level
            mean); default: plain mean over samples.

    Returns:
        ``(modulated[B], g[B])``.
    """
    if advantages.dim() != 1:
        raise ValueError("empg_modulate expects per-sample advantages [B]; broadcast_to_tokens afterwards")
    h = proxy.double()
    valid = torch.isfinite(h)
    if not bool(valid.any()):
        return advantages.clone(), torch.ones_like(proxy)
    low, high = h[valid].min(), h[valid].max()
    h_tilde = torch.where(valid, (h - low) / (high - low + eps), torch.zeros_like(h))
    raw_g = torch.exp(-k * h_tilde)
    g = torch.where(valid, raw_g / (raw_g[valid].mean() + eps), torch.ones_like(h))
    # Successor lookup: sort keys (trajectory, step) and binary-search key + 1.
    traj, _ = compact(pair_key(group_index, traj_index))
    steps = step_index.long() - step_index.min()
    span = int(steps.max()) + 2
    key = traj * span + steps
    sorted_key, order = torch.sort(key)
    pos = torch.searchsorted(sorted_key, key + 1).clamp(max=key.numel() - 1)
    has_next = sorted_key[pos] == key + 1
    nxt = order[pos]
    has_next = has_next & valid[nxt] & valid
    bonus = torch.where(has_next, zeta * torch.exp(-k_future * h_tilde[nxt]), torch.zeros_like(h))
    modulated = g * advantages.double() + bonus
    if zero_mean:
        w = torch.ones_like(modulated) if weights is None else weights.double()
        modulated = modulated - (modulated * w).sum() / w.sum().clamp(min=1e-12)
    return modulated.to(advantages.dtype), g.to(proxy.dtype)
