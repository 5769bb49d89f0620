"""Response-level entropy proxies: one number per response span from per-token quantities.

AEM (algorithms.md §4, step 2) and EMPG (§3, row 1) both use the length-normalised mean of the old policy's
per-token entropies over the response. The sampled-token surprisal (mean negative log-prob) is the cheap variant
when only log-probs are available (e.g. from an OpenAI-compatible server): it is an unbiased Monte-Carlo estimate of
the same quantity with more variance (training.md §5.3).
"""

from __future__ import annotations

import torch


def token_entropy_from_logits(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Exact per-token entropy of ``softmax(logits / temperature)``.

    Args:
        logits: ``[B, T, V]`` (any leading shape works; the last dim is the vocabulary).
        temperature: sampling temperature applied before the softmax.

    Returns:
        ``[B, T]`` entropies in nats, ``H = logsumexp(z) - sum softmax(z) * z``. Differentiable.
    """
    z = logits / temperature if temperature != 1.0 else logits
    log_p = torch.log_softmax(z.float() if z.dtype in (torch.float16, torch.bfloat16) else z, dim=-1)
    return -(log_p.exp() * log_p).sum(dim=-1)


def topk_entropy(top_logprobs: torch.Tensor) -> torch.Tensor:
    """Entropy estimate from the top-k log-probs an API returns (``[B, T, k]`` → ``[B, T]``).

    The k probabilities are renormalised to sum to 1, so this is the entropy of the truncated distribution (a lower
    estimate of the full one when the tail carries mass). ``-inf`` entries (missing) contribute nothing.
    """
    log_norm = top_logprobs - torch.logsumexp(top_logprobs, dim=-1, keepdim=True)
    p = log_norm.exp()
    return -(p * torch.nan_to_num(log_norm, neginf=0.0)).sum(dim=-1)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor, empty_value: float) -> torch.Tensor:
    keep = mask if mask.dtype == torch.bool else mask != 0
    # where() instead of values * mask.float(): no float copy of the mask, and NaN/inf at padding cannot leak in.
    total = torch.where(keep, values, torch.zeros((), dtype=values.dtype)).sum(dim=-1)
    # Summing the bool mask viewed as uint8 with an int32 accumulator is ~2-4x faster than count_nonzero on CPU.
    length = keep.view(torch.uint8).sum(dim=-1, dtype=torch.int32).to(values.dtype)
    return torch.where(length > 0, total / length.clamp(min=1), torch.full_like(total, empty_value))


def response_entropy(token_entropy: torch.Tensor, mask: torch.Tensor, *, empty_value: float = 0.0) -> torch.Tensor:
    """Length-normalised mean token entropy per response: ``H̄_i = (1/|a_i|) Σ_{j∈a_i} h_ij``.

    Args:
        token_entropy: ``[B, T]`` per-token entropies (old policy, usually from the log-prob pass).
        mask: ``[B, T]`` response mask (bool or 0/1); prompt and padding positions are 0.
        empty_value: value for a response with no tokens (an empty mask). Pass ``float('nan')`` to have
            ``aem_modulate`` / ``empg_modulate`` leave such samples out of the statistics.

    Returns:
        ``[B]`` proxies.
    """
    return _masked_mean(token_entropy, mask, empty_value)


def response_surprisal(token_logprobs: torch.Tensor, mask: torch.Tensor, *, empty_value: float = 0.0) -> torch.Tensor:
    """Length-normalised sampled-token surprisal per response: ``(1/|a_i|) Σ_j −log π(a_ij)``.

    Args:
        token_logprobs: ``[B, T]`` log-probs of the sampled tokens.
        mask: ``[B, T]`` response mask.
        empty_value: value for an empty response.

    Returns:
        ``[B]`` proxies (mean NLL per token).
    """
    return _masked_mean(-token_logprobs, mask, empty_value)


def response_proxy(
    mask: torch.Tensor,
    *,
    token_entropy: torch.Tensor | None = None,
    token_logprobs: torch.Tensor | None = None,
    kind: str = "entropy",
    empty_value: float = 0.0,
) -> torch.Tensor:
    """Select the response proxy by name: ``kind="entropy"`` (default, needs ``token_entropy``) or ``"surprisal"``.

    Returns:
        ``[B]`` proxies.

    Raises:
        ValueError: unknown ``kind`` or the tensor it needs is missing.
    """
    if kind == "entropy":
        if token_entropy is None:
            raise ValueError("proxy kind 'entropy' needs token_entropy[B,T]")
        return response_entropy(token_entropy, mask, empty_value=empty_value)
    if kind == "surprisal":
        if token_logprobs is None:
            raise ValueError("proxy kind 'surprisal' needs token_logprobs[B,T]")
        return response_surprisal(token_logprobs, mask, empty_value=empty_value)
    raise ValueError(f"unknown proxy kind {kind!r}; choose 'entropy' or 'surprisal'")
