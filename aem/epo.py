"""EPO: entropy-regularised policy optimisation for multi-turn agents (algorithms.md §5).

``epo_loss_term`` returns the term to *add* to the actor loss, ``−λ·[L^H − β_k·L^smooth]`` (Eq. 6), and
``EPOState`` keeps the entropy history that defines the reference. Two variants:

* ``"paper"`` (v2 text, default): differentiable hinge corridor ``P = [κ_l·H̄_W − h]_+ + [h − κ_r·H̄_W]_+`` around
  the **cumulative** mean ``H̄_W`` of the previous RL steps' token-mean entropies, phase weight
  ``β_k = 1 + exp(−γ k/k_mid)``, trajectory-level aggregation (token mean per turn → mean over turns → mean over
  trajectories).
* ``"code"`` (authors' ``dp_actor.py``): per-turn-index reference, a constant indicator penalty (no gradient; only the
  plain entropy bonus trains), gated on the micro-batch holding a turn ``≥ max_turns // 2``, optional
  ``smooth_weights`` schedule, token-mean aggregation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from aem._segments import compact, pair_key, seg_sum

EPO_VARIANTS = ("paper", "code")


@dataclass
class EPOState:
    """EPO hyper-parameters and entropy history (one entry per RL step, appended by ``update``).

    Attributes:
        coef: λ, the entropy coefficient (0.001).
        kappa_low, kappa_high: corridor factors κ_l, κ_r (0.0, 2.0).
        alpha: penalty weight α (ALFWorld 0.1, ScienceWorld 0.05).
        gamma: phase-decay γ of β_k (3.0).
        total_steps: K, the planned number of RL steps (k_mid = ⌊K/2⌋; the code's schedule uses it as E).
        variant: ``"paper"`` or ``"code"``.
        max_turns: turn-index range kept by the code variant's per-turn history (env max steps, 50 for ALFWorld).
        smooth_weights: code variant's ``enable_smooth_weights`` schedule.
        history: token-mean entropy of each past RL step (``H̄_0 … H̄_{k−1}``).
        turn_history: per past RL step, the token-mean entropy of each turn index (NaN where a turn was absent).
    """

    coef: float = 0.001
    kappa_low: float = 0.0
    kappa_high: float = 2.0
    alpha: float = 0.1
    gamma: float = 3.0
    total_steps: int = 150
    variant: str = "paper"
    max_turns: int = 50
    smooth_weights: bool = False
    history: list[float] = field(default_factory=list)
    turn_history: list[torch.Tensor] = field(default_factory=list)

    @property
    def k(self) -> int:
        """Index of the current RL step (number of recorded steps)."""
        return len(self.history)

    def reference(self) -> float | None:
        """Cumulative mean ``H̄_W`` of all recorded steps, or ``None`` at k = 0."""
        return sum(self.history) / len(self.history) if self.history else None

    def turn_reference(self) -> torch.Tensor:
        """Per-turn-index reference ``H̄[t]`` (``[max_turns]``, NaN where never observed)."""
        if not self.turn_history:
            return torch.full((self.max_turns,), float("nan"), dtype=torch.float64)
        return torch.stack(self.turn_history).nanmean(dim=0)

    def beta(self) -> float:
        """Phase weight ``β_k = 1 + exp(−γ·k/k_mid)``, ``k_mid = ⌊K/2⌋`` (decays from 2 towards 1)."""
        return 1.0 + math.exp(-self.gamma * self.k / max(self.total_steps // 2, 1))

    def code_weight(self) -> float:
        """The code's ``enable_smooth_weights`` schedule ``w(e)`` at ``e = k`` (1 when disabled)."""
        if not self.smooth_weights:
            return 1.0
        half = self.total_steps / 2
        if self.k < half:
            return 1.0 - 0.2 * (1.0 - math.exp(-2.0 * self.k / half))
        return 0.8 * math.exp(-3.0 * (self.k - half) / half)

    @torch.no_grad()
    def update(self, token_entropy: torch.Tensor, mask: torch.Tensor, turn_index: torch.Tensor | None = None) -> None:
        """Record this RL step's entropy (call once per step, after the loss terms that use the old history).

        Args:
            token_entropy: ``[B, T]`` token entropies of the step's batch.
            mask: ``[B, T]`` response mask.
            turn_index: ``[B]`` turn numbers (needed to keep the per-turn history of the code variant).
        """
        maskf = mask.double()
        h = token_entropy.detach().double()
        self.history.append(float((h * maskf).sum() / maskf.sum().clamp(min=1)))
        if turn_index is not None:
            turns = turn_index.long().clamp(0, self.max_turns - 1)
            total = torch.zeros(self.max_turns, dtype=torch.float64).index_add_(0, turns, (h * maskf).sum(-1))
            count = torch.zeros(self.max_turns, dtype=torch.float64).index_add_(0, turns, maskf.sum(-1))
            self.turn_history.append(torch.where(count > 0, total / count.clamp(min=1), float("nan")))


def trajectory_mean(token_values: torch.Tensor, mask: torch.Tensor, traj_key: torch.Tensor) -> torch.Tensor:
    """EPO Eq. 2 aggregation: token mean per turn-sample → mean over a trajectory's turns → mean over trajectories.

    Samples with an empty mask are not counted as turns. Returns a differentiable scalar (0 if nothing is valid).
    """
    maskf = mask.to(token_values.dtype)
    length = maskf.sum(-1)
    present = length > 0
    per_turn = (token_values * maskf).sum(-1) / length.clamp(min=1)
    dense, n = compact(traj_key)
    turns = seg_sum(present.to(token_values.dtype), dense, n)
    per_traj = seg_sum(per_turn * present, dense, n) / turns.clamp(min=1)
    live = (turns > 0).to(token_values.dtype)
    return (per_traj * live).sum() / live.sum().clamp(min=1)


def epo_loss_term(
    token_entropy: torch.Tensor,
    mask: torch.Tensor,
    traj_index: torch.Tensor,
    state: EPOState,
    *,
    group_index: torch.Tensor | None = None,
    turn_index: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The EPO term to add to the actor loss, ``−λ·[L^H − β_k·L^smooth]`` (paper) or the code's form.

    Args:
        token_entropy: ``[B, T]`` token entropies of the *current* policy, with grad.
        mask: ``[B, T]`` response mask.
        traj_index: ``[B]`` trajectory ids (combined with ``group_index`` when given).
        state: history and hyper-parameters; not modified (call ``state.update`` once per RL step).
        group_index: optional ``[B]`` group ids when ``traj_index`` is only unique inside a group.
        turn_index: ``[B]`` turn numbers, required by the code variant.

    Returns:
        ``(term, metrics)`` with metrics ``epo_entropy``, ``epo_smooth``, ``epo_beta``, ``epo_reference``,
        ``epo_out_of_range`` (fraction of tokens outside the corridor).
    """
    if state.variant not in EPO_VARIANTS:
        raise ValueError(f"EPOState.variant must be one of {EPO_VARIANTS}, got {state.variant!r}")
    traj_key = traj_index if group_index is None else pair_key(group_index, traj_index)
    maskf = mask.to(token_entropy.dtype)
    zero = token_entropy.sum() * 0.0
    if state.variant == "paper":
        entropy = trajectory_mean(token_entropy, mask, traj_key)
        ref = state.reference()
        if ref is None:
            smooth, outside = zero, torch.zeros_like(maskf)
        else:
            low, high = state.kappa_low * ref, state.kappa_high * ref
            penalty = torch.relu(low - token_entropy) + torch.relu(token_entropy - high)
            smooth = trajectory_mean(state.alpha * penalty, mask, traj_key)
            outside = ((token_entropy.detach() < low) | (token_entropy.detach() > high)).to(maskf.dtype)
        beta = state.beta()
        term = -state.coef * (entropy - beta * smooth)
        ref_value = float("nan") if ref is None else ref
    else:
        if turn_index is None:
            raise ValueError("the 'code' EPO variant needs turn_index[B]")
        entropy = (token_entropy * maskf).sum() / maskf.sum().clamp(min=1)
        turn_ref = state.turn_reference().to(token_entropy.dtype)[turn_index.long().clamp(0, state.max_turns - 1)]
        h = token_entropy.detach()
        inside = (state.kappa_low * turn_ref[:, None] < h) & (h < state.kappa_high * turn_ref[:, None])
        known = torch.isfinite(turn_ref)[:, None].expand_as(h)
        outside = (~inside & known).to(maskf.dtype)
        gated = bool((turn_index >= state.max_turns // 2).any())
        smooth = (state.alpha * outside * maskf).sum() / maskf.sum().clamp(min=1) if gated else zero.detach()
        beta = state.code_weight()
        term = -state.coef * (entropy - beta * smooth)
        ref_value = float(torch.nanmean(turn_ref.double())) if bool(torch.isfinite(turn_ref).any()) else float("nan")
    metrics = {
        "epo_entropy": float(entropy.detach()),
        "epo_smooth": float(smooth.detach()),
        "epo_beta": float(beta),
        "epo_reference": ref_value,
        "epo_out_of_range": float((outside * maskf).sum() / maskf.sum().clamp(min=1)),
    }
    return term, metrics
