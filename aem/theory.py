"""Numerical check of AEM's entropy-drift law on tabular policies (categorical, or autoregressive over letters).

Claim (algorithms.md §4, Theory): after a natural-gradient (Fisher–Rao) step that raises ``A·log π(a|s)`` for one
sampled response ``a``, the response entropy moves with the sign of ``A·(S(a|s) − H(s))``, ``S = −log π(a|s)``. For a
softmax over responses the first-order change is exactly ``η'·A·(S − H)`` (η' > 0). A tabular autoregressive policy
(softmax logits for every prefix, responses of ``length`` letters) parametrises the same simplex, and natural gradients
do not depend on the parametrisation, so the law holds there too; the plain (Euclidean) gradient obeys another law.

The plain gradient agrees with the sign law in most random cases as well (82–96%), so the overall agreement barely
separates the two. The discriminating score is taken only on the cases where the natural and the plain step move the
entropy in opposite directions: there exactly one of them follows the law, and the law predicts which.
"""

from __future__ import annotations

import itertools

import torch


def _sequence_logprobs(levels: list[torch.Tensor], seqs: torch.Tensor) -> torch.Tensor:
    """``[n, K^L]`` log-probabilities of all sequences ``seqs`` ``[K^L, L]`` under per-prefix logits ``levels``.

    ``levels[j]`` is ``[n, K^j, K]``: logits of letter j after each prefix of j letters (prefix index in base K).
    """
    k = levels[0].shape[-1]
    total = torch.zeros(levels[0].shape[0], seqs.shape[0], dtype=levels[0].dtype)
    prefix = torch.zeros(seqs.shape[0], dtype=torch.long)
    for j, logits in enumerate(levels):
        total = total + torch.log_softmax(logits, -1)[:, prefix, seqs[:, j]]
        prefix = prefix * k + seqs[:, j]
    return total


def _entropy(logp: torch.Tensor) -> torch.Tensor:
    return -(logp.exp() * logp).sum(-1)


def _natural_direction(levels: list[torch.Tensor], response: torch.Tensor, adv: torch.Tensor) -> list[torch.Tensor]:
    """Natural gradient of ``A·log π(response)`` (``response`` ``[n, L]``, ``adv`` ``[n]``), up to the null space.

    The Fisher matrix is block-diagonal over prefixes, block ``ρ(u)·(diag π_u − π_u π_uᵀ)``; the gradient lives in the
    blocks of the response's own prefixes, ``A·(e_{a_j} − π_u)``, and the block pseudo-inverse turns that into
    ``A / (ρ(u)·π_u(a_j)) = A / π(a_{≤j})`` on the one logit of ``a_j`` (plus a multiple of the null direction 1).
    """
    n, k = response.shape[0], levels[0].shape[-1]
    rows = torch.arange(n)
    out = [torch.zeros_like(z) for z in levels]
    prefix, prefix_logp = torch.zeros(n, dtype=torch.long), torch.zeros(n, dtype=levels[0].dtype)
    for j, logits in enumerate(levels):
        letter = response[:, j]
        prefix_logp = prefix_logp + torch.log_softmax(logits, -1)[rows, prefix, letter]
        out[j][rows, prefix, letter] = adv * torch.exp(-prefix_logp)
        prefix = prefix * k + letter
    return out


def _fisher_norm(levels: list[torch.Tensor], logp: torch.Tensor, direction: list[torch.Tensor]) -> torch.Tensor:
    """``[n]`` Fisher norm of a logit direction: Σ_prefix ρ(prefix)·Var_{c∼π(·|prefix)}[d(prefix, c)]."""
    n, k = logp.shape[0], levels[0].shape[-1]
    probs, total = logp.exp(), torch.zeros(n, dtype=logp.dtype)
    for j, (logits, d) in enumerate(zip(levels, direction, strict=True)):
        visit = probs.reshape(n, k**j, -1).sum(-1)  # ρ of each prefix of j letters (sequences are lexicographic)
        pi = torch.softmax(logits, -1)
        var = (pi * d.square()).sum(-1) - (pi * d).sum(-1).square()
        total = total + (visit * var).sum(-1)
    return total.clamp(min=1e-300).sqrt()


@torch.no_grad()
def entropy_drift_agreement(
    n_cases: int = 2000,
    *,
    min_responses: int = 2,
    max_responses: int = 8,
    length: int = 1,
    logit_scale: float = 2.0,
    step_size: float = 0.01,
    natural: bool = True,
    seed: int = 0,
) -> dict[str, float]:
    """How often one policy step changes the response entropy with the sign of ``A·(S − H)``.

    Each case: ``K ~ U{min_responses..max_responses}`` letters, responses of ``length`` letters (``length = 1``: a
    categorical over ``K`` responses), logits ``~ N(0, logit_scale²)`` for every prefix, a response ``a ~ π``, an
    advantage ``A ~ N(0, 1)``. Both steps ascend ``A·log π(a)`` in logit space and are scaled to the same Fisher norm
    ``step_size`` (a trust-region step, so rare responses do not get huge steps): the natural gradient ``F⁺∇`` (for a
    tabular autoregressive policy: ``A / π(a_{≤j})`` on the logit of letter ``a_j`` after ``a_{<j}``, nothing else), and
    the plain gradient ``∇``. ``natural`` picks which one is scored.

    Returns:
        ``fraction`` (agreeing / cases), ``cases``, ``agree``, ``mean_abs_delta_entropy`` for the scored step;
        ``disagree_cases``: cases where the two steps change the entropy in opposite directions;
        ``fraction_where_steps_disagree``: the scored step's agreement on those (natural + plain = 1 there).
    """
    if length < 1 or min_responses < 2 or max_responses < min_responses:
        raise ValueError(f"need length >= 1 and 2 <= min_responses <= max_responses, got {length=} "
                         f"{min_responses=} {max_responses=}")
    gen = torch.Generator().manual_seed(seed)
    sizes = torch.randint(min_responses, max_responses + 1, (n_cases,), generator=gen)
    agree = total = disagree = agree_on_disagree = 0
    delta_sum = 0.0
    for k in sizes.unique().tolist():
        n = int((sizes == k).sum())
        seqs = torch.tensor(list(itertools.product(range(k), repeat=length)), dtype=torch.long)
        levels = [torch.randn(n, k**j, k, generator=gen, dtype=torch.float64) * logit_scale for j in range(length)]
        logp = _sequence_logprobs(levels, seqs)
        action = torch.multinomial(logp.exp(), 1, generator=gen).squeeze(-1)
        adv = torch.randn(n, generator=gen, dtype=torch.float64)
        rows = torch.arange(n)
        with torch.enable_grad():  # plain gradient of A·log π(a) with respect to every prefix's logits
            leaves = [z.clone().requires_grad_(True) for z in levels]
            objective = (adv * _sequence_logprobs(leaves, seqs)[rows, action]).sum()
            plain = list(torch.autograd.grad(objective, leaves))
        nat = _natural_direction(levels, seqs[action], adv)
        before = _entropy(logp)
        change = {}
        for name, direction in (("natural", nat), ("plain", plain)):
            norm = _fisher_norm(levels, logp, direction)
            moved = [z + step_size * d / norm[:, None, None] for z, d in zip(levels, direction, strict=True)]
            change[name] = _entropy(_sequence_logprobs(moved, seqs)) - before
        surprisal = -logp[rows, action]
        predicted = torch.sign(adv * (surprisal - before))
        scored = change["natural" if natural else "plain"]
        hits = torch.sign(scored) == predicted
        opposite = torch.sign(change["natural"]) * torch.sign(change["plain"]) < 0
        agree += int(hits.sum())
        disagree += int(opposite.sum())
        agree_on_disagree += int((hits & opposite).sum())
        delta_sum += float(scored.abs().sum())
        total += n
    return {
        "fraction": agree / max(total, 1),
        "cases": float(total),
        "agree": float(agree),
        "mean_abs_delta_entropy": delta_sum / max(total, 1),
        "disagree_cases": float(disagree),
        "fraction_where_steps_disagree": agree_on_disagree / disagree if disagree else float("nan"),
    }
