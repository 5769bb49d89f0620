"""AEM per response span inside multi-turn samples (verl agent-loop / rLLM layout: one sample = one trajectory).

In that layout a sample's ``response_mask`` is 1 on the model's turns and 0 on the env's replies (and padding). The
paper's AEM is response-level (algorithms.md §4, step 1): every turn — every span of the model's tokens — gets its
own α from its own mean token entropy, normalised over all spans of all trajectories of the task group, and α
multiplies that span's tokens only. These functions turn the spans into a flat list of span-samples and reuse
``aem_alpha`` on it, so the per-span math is exactly the step-sample math of ``modulation.py``.
"""

from __future__ import annotations

import torch

from aem.modulation import aem_alpha


def spans_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Number the 1-runs of each row of a response mask: the turns of a multi-turn sample.

    Args:
        mask: ``[B, T]`` response mask (bool or 0/1).

    Returns:
        ``LongTensor[B, T]``: ``0, 1, 2, ...`` for the tokens of a row's first, second, third run of ones, ``-1`` on
        zeros. Two turns with no zero between them are one run: a layout whose env replies can be empty must pass its
        own span ids to ``aem_span_alpha`` instead.
    """
    keep = mask if mask.dtype == torch.bool else mask != 0
    previous = torch.zeros_like(keep)
    previous[:, 1:] = keep[:, :-1]
    starts = keep & ~previous
    return torch.where(keep, starts.long().cumsum(dim=-1) - 1, torch.full_like(keep, -1, dtype=torch.long))


def span_table(
    token_values: torch.Tensor, span_ids: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The non-empty spans of a batch as a flat list, with each span's mean token value.

    Args:
        token_values: ``[B, T]`` per-token values (entropies, or negative log-probs for the surprisal proxy).
            Values outside spans are ignored (NaN there cannot leak in).
        span_ids: ``LongTensor[B, T]``: span number of each token within its row, ``-1`` outside spans (as
            ``spans_from_mask`` returns; numbers may skip values, absent numbers are simply no span).

    Returns:
        ``(proxy[N], row[N], slot[B, T])``: the mean value of each of the ``N`` non-empty spans (float64), the row
        it lies in, and for every token the index of its span in that list (``-1`` outside spans). Spans are listed
        row by row in increasing span number.
    """
    batch = span_ids.shape[0]
    inside = span_ids >= 0
    per_row = int(span_ids.max()) + 1 if span_ids.numel() and bool(inside.any()) else 0
    cell = torch.where(inside, torch.arange(batch, device=span_ids.device)[:, None] * per_row + span_ids,
                       torch.zeros_like(span_ids))
    values = torch.where(inside, token_values.double(), torch.zeros((), dtype=torch.float64))
    cells = batch * per_row
    total = torch.zeros(cells, dtype=torch.float64, device=span_ids.device).index_add_(0, cell[inside], values[inside])
    count = torch.zeros(cells, dtype=torch.long, device=span_ids.device).index_add_(
        0, cell[inside], torch.ones_like(cell[inside]))
    live = torch.nonzero(count > 0).squeeze(-1)
    position = torch.full((max(cells, 1),), -1, dtype=torch.long, device=span_ids.device)  # 1: index 0 is safe
    position[live] = torch.arange(live.numel(), device=span_ids.device)
    slot = torch.where(inside, position[cell], torch.full_like(span_ids, -1))
    return total[live] / count[live], torch.div(live, max(per_row, 1), rounding_mode="floor"), slot


@torch.no_grad()
def aem_span_alpha(
    token_values: torch.Tensor,
    span_ids: torch.Tensor,
    group_index: torch.Tensor,
    *,
    lam: float = 1.0,
    min_range: float = 0.1,
    scope: str = "group",
    traj_index: torch.Tensor | None = None,
    variant: str = "aem",
    generator: torch.Generator | None = None,
    eps: float = 1e-8,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """AEM's α for every span of multi-turn samples (``aem_alpha`` over the flat list of spans).

    Each span's proxy is the mean of ``token_values`` over its tokens; min–max, guard and the mean of α run over all
    spans of the scope group: the task group (``scope="group"``: all turns of all trajectories sharing the ``uid``),
    one trajectory (``"trajectory"``), or the whole batch (``"batch"``). ``variant``: ``"aem"``, ``"reversed"``,
    ``"shuffled"`` (α permuted among the spans of each scope group).

    Args:
        token_values: ``[B, T]`` per-token entropies (or negative log-probs).
        span_ids: ``LongTensor[B, T]`` span numbers per row, ``-1`` outside spans (``spans_from_mask``).
        group_index: ``[B]`` task-group ids (uid) of the samples.
        lam, min_range, variant, generator, eps: as in ``aem_modulate``.
        scope: ``"group"`` | ``"trajectory"`` | ``"batch"``.
        traj_index: ``[B]`` trajectory ids for ``scope="trajectory"``; default: every row is one trajectory.

    Returns:
        ``(alpha_tokens[B, T], alpha[N], row[N])``: α spread over each span's tokens (1 outside spans, in the dtype
        of ``token_values``), and α and row of each of the ``N`` non-empty spans (``span_table`` order).
    """
    proxy, row, slot = span_table(token_values, span_ids)
    trajectories = torch.arange(span_ids.shape[0], device=span_ids.device) if traj_index is None else traj_index
    alpha = aem_alpha(proxy, group_index[row], lam=lam, min_range=min_range, scope=scope,
                      traj_index=trajectories[row], variant=variant, generator=generator, eps=eps)
    alpha_tokens = torch.where(slot >= 0, alpha[slot.clamp(min=0)] if alpha.numel() else 1.0,
                               torch.ones((), dtype=alpha.dtype))
    return alpha_tokens.to(token_values.dtype), alpha, row


@torch.no_grad()
def aem_span_modulate(
    advantages: torch.Tensor,
    token_values: torch.Tensor,
    span_ids: torch.Tensor,
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
    """Per-span AEM on multi-turn samples: ``A^AEM[b, t] = α(span of t) · A^base[b]`` on span tokens, 0 elsewhere.

    The base advantage stays trajectory-level (one value per sample, e.g. GRPO over the group's trajectories);
    only α varies from turn to turn. With one span per sample this equals ``aem_modulate`` on the response entropy.

    Args:
        advantages: base advantages ``[B]`` or ``[B, T]``.
        token_values: ``[B, T]`` per-token entropies (or negative log-probs).
        span_ids: ``LongTensor[B, T]`` (``spans_from_mask(response_mask)``).
        group_index: ``[B]`` task-group ids.
        lam, min_range, scope, traj_index, variant, generator, eps: as in ``aem_span_alpha``.

    Returns:
        ``(modulated[B, T], alpha_tokens[B, T])``, ``modulated`` in the dtype of ``advantages``.
    """
    alpha_tokens, _, _ = aem_span_alpha(token_values, span_ids, group_index, lam=lam, min_range=min_range,
                                        scope=scope, traj_index=traj_index, variant=variant, generator=generator,
                                        eps=eps)
    base = advantages[:, None] if advantages.dim() == 1 else advantages
    modulated = base * alpha_tokens.to(advantages.dtype)
    return torch.where(span_ids >= 0, modulated, torch.zeros((), dtype=advantages.dtype)), alpha_tokens
