"""Segment (group) reductions over a flat batch: the vectorised building blocks of every estimator.

A layout is a LongTensor of arbitrary ids per sample (``group_index[B]``). ``compact`` maps ids to 0..G-1; the
reductions then use ``index_add_`` / ``scatter_reduce_`` so no Python loop touches samples or tokens.
"""

from __future__ import annotations

import torch


def compact(index: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Map arbitrary ids ``index[B]`` to dense ids ``0..G-1`` (order of first sorted id).

    Returns:
        ``(dense[B], G)``.
    """
    if index.numel() == 0:
        return index.new_zeros(0, dtype=torch.long), 0
    uniq, inverse = torch.unique(index, return_inverse=True)
    return inverse.long(), int(uniq.numel())


def pair_key(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """One dense id per distinct ``(first[i], second[i])`` pair (e.g. ``(uid, traj_uid)`` → global trajectory id)."""
    a, _ = compact(first)
    b, nb = compact(second)
    return compact(a * max(nb, 1) + b)[0]


def seg_count(dense: torch.Tensor, n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Number of members of each segment → ``[G]``."""
    return torch.zeros(n, dtype=dtype, device=dense.device).index_add_(
        0, dense, torch.ones_like(dense, dtype=dtype)
    )


def seg_sum(values: torch.Tensor, dense: torch.Tensor, n: int) -> torch.Tensor:
    """Sum of ``values[B]`` per segment → ``[G]``."""
    return torch.zeros(n, dtype=values.dtype, device=values.device).index_add_(0, dense, values)


def seg_mean(values: torch.Tensor, dense: torch.Tensor, n: int) -> torch.Tensor:
    """Mean of ``values[B]`` per segment → ``[G]`` (0 for an empty segment)."""
    count = seg_count(dense, n, values.dtype)
    return seg_sum(values, dense, n) / count.clamp(min=1)


def seg_std(values: torch.Tensor, dense: torch.Tensor, n: int, mean: torch.Tensor | None = None) -> torch.Tensor:
    """Unbiased (``torch.std``-style, ``n-1``) standard deviation per segment → ``[G]``; 0 where a segment has < 2."""
    if mean is None:
        mean = seg_mean(values, dense, n)
    count = seg_count(dense, n, values.dtype)
    sq = seg_sum((values - mean[dense]) ** 2, dense, n)
    return torch.where(count > 1, sq / (count - 1).clamp(min=1), torch.zeros_like(sq)).sqrt()


def seg_amin(values: torch.Tensor, dense: torch.Tensor, n: int) -> torch.Tensor:
    """Minimum per segment → ``[G]`` (+inf for an empty segment)."""
    out = torch.full((n,), float("inf"), dtype=values.dtype, device=values.device)
    return out.scatter_reduce_(0, dense, values, reduce="amin", include_self=True)


def seg_amax(values: torch.Tensor, dense: torch.Tensor, n: int) -> torch.Tensor:
    """Maximum per segment → ``[G]`` (-inf for an empty segment)."""
    out = torch.full((n,), float("-inf"), dtype=values.dtype, device=values.device)
    return out.scatter_reduce_(0, dense, values, reduce="amax", include_self=True)


def seg_first(dense: torch.Tensor, n: int) -> torch.Tensor:
    """Position (in batch order) of the first member of each segment → ``LongTensor[G]``."""
    pos = torch.arange(dense.numel(), device=dense.device)
    out = torch.full((n,), dense.numel(), dtype=torch.long, device=dense.device)
    return out.scatter_reduce_(0, dense, pos, reduce="amin", include_self=True)


def shuffle_within(dense: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random permutation ``perm[B]`` that only moves samples inside their own segment.

    ``values[perm]`` is ``values`` shuffled within each segment: sorting by ``(segment, random key)`` and by
    ``(segment, position)`` gives two orderings with identical segment blocks; pairing them moves every sample
    to a random slot of its own block.
    """
    count = dense.numel()
    if count == 0:
        return dense.clone()
    noise = torch.rand(count, generator=generator, dtype=torch.float64).to(dense.device)
    by_random = torch.argsort(dense.double() + 0.5 * noise, stable=True)
    by_position = torch.argsort(dense, stable=True)
    perm = torch.empty_like(dense)
    perm[by_position] = by_random
    return perm
