"""Numerical check of AEM's entropy-drift law on a toy categorical policy.

Claim (algorithms.md §4, Theory): after a natural-gradient (Fisher–Rao) step that raises ``A·log π(a|s)`` for one
sampled response ``a``, the entropy of ``π(·|s)`` moves with the sign of ``A·(S(a|s) − H(s))``, ``S = −log π(a|s)``.
For a softmax over ``K`` responses the first-order change is exactly ``η'·A·(S − H)`` (η' > 0), so finite steps should
agree in nearly every case; the vanilla (Euclidean) gradient obeys a different law and agrees less often.
"""

from __future__ import annotations

import torch


def _entropy(logits: torch.Tensor) -> torch.Tensor:
    log_p = torch.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(-1)


@torch.no_grad()
def entropy_drift_agreement(
    n_cases: int = 2000,
    *,
    min_responses: int = 2,
    max_responses: int = 8,
    logit_scale: float = 2.0,
    step_size: float = 0.1,
    natural: bool = True,
    seed: int = 0,
) -> dict[str, float]:
    """Fraction of random cases where one policy step changes the entropy with the sign of ``A·(S − H)``.

    Each case: ``K ~ U{min_responses..max_responses}`` responses, logits ``~ N(0, logit_scale²)``, a response
    ``a ~ π``, an advantage ``A ~ N(0, 1)``. The step ascends ``A·log π(a)`` in logit space: natural gradient
    ``d = F⁺ ∇_z (A log π(a))`` with ``F = diag(π) − ππᵀ`` (pseudo-inverse; the all-ones direction is null),
    scaled to a fixed Fisher norm ``step_size`` (a trust-region step, so rare responses do not get huge steps);
    ``natural=False`` uses the plain gradient, same norm.

    Returns:
        ``{"fraction": agreeing / cases, "cases": n, "agree": count, "mean_abs_delta_entropy": ...}``.
    """
    gen = torch.Generator().manual_seed(seed)
    sizes = torch.randint(min_responses, max_responses + 1, (n_cases,), generator=gen)
    agree, total, delta_sum = 0, 0, 0.0
    for k in sizes.unique().tolist():
        n = int((sizes == k).sum())
        logits = torch.randn(n, k, generator=gen, dtype=torch.float64) * logit_scale
        probs = torch.softmax(logits, -1)
        action = torch.multinomial(probs, 1, generator=gen).squeeze(-1)
        adv = torch.randn(n, generator=gen, dtype=torch.float64)
        onehot = torch.nn.functional.one_hot(action, k).double()
        grad = adv[:, None] * (onehot - probs)  # ∇_z A·log π(a)
        fisher = torch.diag_embed(probs) - probs[:, :, None] * probs[:, None, :]
        direction = (torch.linalg.pinv(fisher, hermitian=True) @ grad[:, :, None]).squeeze(-1) if natural else grad
        norm = torch.einsum("bi,bij,bj->b", direction, fisher, direction).clamp(min=1e-300).sqrt()
        new_logits = logits + step_size * direction / norm[:, None]
        before, after = _entropy(logits), _entropy(new_logits)
        surprisal = -torch.log(probs.gather(1, action[:, None]).squeeze(-1))
        predicted = torch.sign(adv * (surprisal - before))
        agree += int((torch.sign(after - before) == predicted).sum())
        delta_sum += float((after - before).abs().sum())
        total += n
    return {
        "fraction": agree / max(total, 1),
        "cases": float(total),
        "agree": float(agree),
        "mean_abs_delta_entropy": delta_sum / max(total, 1),
    }
