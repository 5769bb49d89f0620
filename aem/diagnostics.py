"""Diagnostics of entropy modulation: relative surprisal, predicted entropy-drift sign, α statistics.

AEM's theory (algorithms.md §4): under a natural-gradient step on a sampled response the response entropy moves with
the sign of ``A·(S − H)``, ``S`` = response surprisal (Σ −log π over its tokens), ``H`` = response entropy (estimated by
Σ of the token entropies, the Doob compensator of ``S``). These numbers let a training log show whether a batch is
pushing entropy up or down and how α acts on it.
"""

from __future__ import annotations

import torch

from aem._segments import compact, seg_amax, seg_amin, seg_mean, seg_std


@torch.no_grad()
def relative_surprisal(
    token_logprobs: torch.Tensor, token_entropy: torch.Tensor, mask: torch.Tensor, *, normalize: bool = False
) -> torch.Tensor:
    """Per-response relative surprisal ``S − H`` (``[B, T]`` inputs → ``[B]``).

    ``S = Σ_j −log π(a_j)``, ``H = Σ_j h_j`` over the response tokens; ``normalize=True`` divides both by the length.
    """
    maskf = mask.to(token_logprobs.dtype)
    diff = ((-token_logprobs - token_entropy) * maskf).sum(-1)
    return diff / maskf.sum(-1).clamp(min=1) if normalize else diff


def _corr(x: torch.Tensor, y: torch.Tensor) -> float:
    if x.numel() < 2:
        return float("nan")
    xc, yc = x - x.mean(), y - y.mean()
    denom = (xc.square().sum() * yc.square().sum()).sqrt()
    return float((xc * yc).sum() / denom) if float(denom) > 0 else float("nan")


@torch.no_grad()
def diagnostics(
    advantages: torch.Tensor,
    token_logprobs: torch.Tensor,
    token_entropy: torch.Tensor,
    mask: torch.Tensor,
    group_index: torch.Tensor,
    *,
    alpha: torch.Tensor | None = None,
    normalize: bool = False,
) -> dict[str, float]:
    """Batch diagnostics for logging (plain floats).

    Args:
        advantages: ``[B]`` per-sample advantages (base or modulated; only signs and products are used).
        token_logprobs: ``[B, T]`` log-probs of the sampled tokens.
        token_entropy: ``[B, T]`` token entropies.
        mask: ``[B, T]`` response mask.
        group_index: ``[B]`` group ids.
        alpha: optional ``[B]`` AEM coefficients.
        normalize: length-normalise ``S`` and ``H`` (see ``relative_surprisal``).

    Returns:
        ``frac_positive`` / ``frac_negative`` / ``frac_zero`` (sign of A), ``rel_surprisal_mean`` / ``_std``,
        ``frac_entropy_up`` / ``frac_entropy_down`` (sign of the predicted drift ``A·(S − H)``), ``drift_mean``
        (mean of ``A·(S − H)``); with ``alpha``: ``alpha_mean``, ``alpha_min``, ``alpha_max``, ``alpha_group_mean_dev``
        (max |group mean of α − 1|), ``alpha_group_std`` (mean within-group std), ``alpha_group_range`` (mean
        within-group max − min), ``frac_alpha_above_1``, ``corr_alpha_rel_surprisal`` (Pearson r of α − 1 and S − H),
        ``frac_alpha_lt1_entropy_up`` (share of entropy-raising samples that α damps) and
        ``frac_alpha_gt1_entropy_down`` (share of entropy-lowering samples that α amplifies).
    """
    adv = advantages.double()
    rel = relative_surprisal(token_logprobs, token_entropy, mask, normalize=normalize).double()
    drift = adv * rel
    count = max(adv.numel(), 1)
    out = {
        "frac_positive": float((adv > 0).sum()) / count,
        "frac_negative": float((adv < 0).sum()) / count,
        "frac_zero": float((adv == 0).sum()) / count,
        "rel_surprisal_mean": float(rel.mean()) if rel.numel() else float("nan"),
        "rel_surprisal_std": float(rel.std()) if rel.numel() > 1 else float("nan"),
        "frac_entropy_up": float((drift > 0).sum()) / count,
        "frac_entropy_down": float((drift < 0).sum()) / count,
        "drift_mean": float(drift.mean()) if drift.numel() else float("nan"),
    }
    if alpha is not None and alpha.numel():
        a = alpha.double()
        dense, n = compact(group_index)
        group_mean = seg_mean(a, dense, n)
        up, down = drift > 0, drift < 0
        out.update(
            alpha_mean=float(a.mean()),
            alpha_min=float(a.min()),
            alpha_max=float(a.max()),
            alpha_group_mean_dev=float((group_mean - 1).abs().max()),
            alpha_group_std=float(seg_std(a, dense, n, group_mean).mean()),
            alpha_group_range=float((seg_amax(a, dense, n) - seg_amin(a, dense, n)).mean()),
            frac_alpha_above_1=float((a > 1).sum()) / count,
            corr_alpha_rel_surprisal=_corr(a - 1, rel),
            frac_alpha_lt1_entropy_up=float((a[up] < 1).sum()) / max(int(up.sum()), 1),
            frac_alpha_gt1_entropy_down=float((a[down] > 1).sum()) / max(int(down.sum()), 1),
        )
    return out
