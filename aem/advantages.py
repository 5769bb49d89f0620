"""Base advantage estimators over step-samples (verl-agent layout: one sample per agent turn).

Layout tensors (all ``LongTensor[B]``, arbitrary ids): ``group_index`` = task group (verl ``uid``), ``traj_index`` =
trajectory within the batch (``traj_uid``; ids only need to be distinct inside a group), ``step_index`` = turn
number inside the trajectory. Math: algorithms.md §1 (GRPO / RLOO / Dr.GRPO) and §2 (GiGPO). Every function is
pure, runs under ``torch.no_grad()`` and returns one advantage per sample ``[B]``; ``broadcast_to_tokens`` spreads it
over the response tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from aem._segments import compact, pair_key, seg_count, seg_first, seg_mean, seg_std, seg_sum

STATS_MODES = ("steps", "trajectory")


def _group_values(
    scores: torch.Tensor, group_index: torch.Tensor, traj_index: torch.Tensor | None, stats: str
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The values that enter the group statistics and their dense group ids.

    ``stats="steps"``: every step-sample (verl-agent ``compute_mean_std_cross_steps=True``; longer trajectories weigh
    more). ``stats="trajectory"``: one value per trajectory, taken from its first sample in batch order (verl-agent
    ``episode_norm_reward`` with ``compute_mean_std_cross_all_data=False``), so each trajectory counts once.
    """
    if stats not in STATS_MODES:
        raise ValueError(f"stats must be one of {STATS_MODES}, got {stats!r}")
    dense, n = compact(group_index)
    if stats == "steps":
        return scores, dense, n
    if traj_index is None:
        raise ValueError("stats='trajectory' needs traj_index")
    traj, n_traj = compact(pair_key(group_index, traj_index))
    first = seg_first(traj, n_traj)
    return scores[first], dense[first], n


@torch.no_grad()
def grpo_advantages(
    scores: torch.Tensor,
    group_index: torch.Tensor,
    *,
    norm_by_std: bool = True,
    eps: float = 1e-6,
    traj_index: torch.Tensor | None = None,
    stats: str = "steps",
) -> torch.Tensor:
    """Multi-turn GRPO: ``A_k = (score_k − μ_g) / (σ_g + eps)`` (or ``score_k − μ_g`` with ``norm_by_std=False``).

    Args:
        scores: ``[B]`` per-sample scalar score (episode return minus that step's invalid-action penalty).
        group_index: ``[B]`` task-group ids.
        norm_by_std: divide by the unbiased group std (GRPO); ``False`` gives the Dr.GRPO / "mean_norm" form.
        eps: added to the std.
        traj_index: ``[B]`` trajectory ids; needed for ``stats="trajectory"``.
        stats: ``"steps"`` (verl-agent default: μ, σ over all step-samples of the group) or ``"trajectory"``
            (one value per trajectory).

    Returns:
        ``[B]`` advantages. A group with a single statistics element gets ``μ = 0, σ = 1`` (verl-agent).
    """
    values, dense, n = _group_values(scores, group_index, traj_index, stats)
    count = seg_count(dense, n, scores.dtype)
    mean = seg_mean(values, dense, n)
    std = seg_std(values, dense, n, mean)
    single = count <= 1
    mean = torch.where(single, torch.zeros_like(mean), mean)
    std = torch.where(single, torch.ones_like(std), std)
    sample_group, _ = compact(group_index)
    centred = scores - mean[sample_group]
    return centred / (std[sample_group] + eps) if norm_by_std else centred


@torch.no_grad()
def drgrpo_advantages(scores: torch.Tensor, group_index: torch.Tensor, **kwargs) -> torch.Tensor:
    """Dr.GRPO-style advantage: GRPO without the std division (``score − group mean``). Same kwargs as GRPO."""
    kwargs["norm_by_std"] = False
    return grpo_advantages(scores, group_index, **kwargs)


@torch.no_grad()
def rloo_advantages(
    scores: torch.Tensor, group_index: torch.Tensor, *, traj_index: torch.Tensor | None = None
) -> torch.Tensor:
    """Leave-one-out (RLOO) advantage: ``A_k = score_k − mean of the *other* members of the group``.

    Args:
        scores: ``[B]`` per-sample scores.
        group_index: ``[B]`` task-group ids.
        traj_index: optional ``[B]`` trajectory ids. Without it the members are step-samples
            (``A = n/(n−1)·(score − mean)``); with it the members are trajectories (value = first sample's score)
            and a sample's baseline excludes its whole trajectory.

    Returns:
        ``[B]`` advantages. A group with one member keeps its raw score (verl ``compute_rloo_outcome_advantage``).
    """
    values, dense, n = _group_values(scores, group_index, traj_index, "steps" if traj_index is None else "trajectory")
    count = seg_count(dense, n, scores.dtype)
    total = seg_sum(values, dense, n)
    sample_group, _ = compact(group_index)
    if traj_index is None:
        own = scores
    else:
        traj, n_traj = compact(pair_key(group_index, traj_index))
        own = scores[seg_first(traj, n_traj)][traj]
    others = count[sample_group] - 1
    baseline = (total[sample_group] - own) / others.clamp(min=1)
    return torch.where(others > 0, scores - baseline, scores)


@torch.no_grad()
def step_discounted_returns(
    step_rewards: torch.Tensor, traj_index: torch.Tensor, step_index: torch.Tensor, gamma: float = 0.95
) -> torch.Tensor:
    """Discounted return per step, ``R_t = Σ_{k≥t} γ^{k−t} r_k`` inside each trajectory (GiGPO Eq. 5).

    Steps are ordered by ``step_index`` inside a trajectory; ``k`` runs over the recorded steps (inactive steps that
    are absent from the batch are skipped, as verl-agent's ``compute_step_discounted_returns`` does).

    Args:
        step_rewards: ``[B]`` per-step env rewards.
        traj_index: ``[B]`` globally unique trajectory ids (combine with the group via ``pair_key`` if needed).
        step_index: ``[B]`` turn numbers.
        gamma: discount.

    Returns:
        ``[B]`` returns (float64 inside, cast back to the input dtype).
    """
    count = step_rewards.numel()
    if count == 0:
        return step_rewards.clone()
    traj, n_traj = compact(traj_index)
    steps, n_steps = compact(step_index)
    order = torch.argsort(traj * n_steps + steps)  # trajectory-major, then by step
    sorted_traj = traj[order]
    start = seg_first(sorted_traj, n_traj)
    rank = torch.empty_like(traj)
    rank[order] = torch.arange(count, device=traj.device) - start[sorted_traj]
    length = int(rank.max()) + 1
    dense = torch.zeros(n_traj, length, dtype=torch.float64, device=step_rewards.device)
    dense[traj, rank] = step_rewards.double()
    # Upper-triangular discount matrix: R[:, t] = Σ_k r[:, k] · γ^{k−t} for k ≥ t.
    pos = torch.arange(length, device=step_rewards.device, dtype=torch.float64)
    power = pos[:, None] - pos[None, :]
    discount = torch.where(power >= 0, gamma ** power.clamp(min=0), torch.zeros_like(power))
    returns = dense @ discount
    return returns[traj, rank].to(step_rewards.dtype)


@torch.no_grad()
def gigpo_step_advantages(
    step_returns: torch.Tensor,
    group_index: torch.Tensor,
    anchor_ids: torch.Tensor,
    *,
    norm_by_std: bool = True,
    eps: float = 1e-6,
) -> torch.Tensor:
    """GiGPO step-level advantage (Eq. 7) inside anchor-state groups ``(uid, anchor)``.

    Returns:
        ``[B]``; a singleton anchor group gives 0 (verl-agent ``step_norm_reward``: mean = its own value).
    """
    dense, n = compact(pair_key(group_index, anchor_ids))
    mean = seg_mean(step_returns, dense, n)
    std = seg_std(step_returns, dense, n, mean)
    std = torch.where(seg_count(dense, n, step_returns.dtype) > 1, std, torch.ones_like(std))
    centred = step_returns - mean[dense]
    return centred / (std[dense] + eps) if norm_by_std else centred


@torch.no_grad()
def gigpo_advantages(
    episode_returns: torch.Tensor,
    step_rewards: torch.Tensor,
    group_index: torch.Tensor,
    traj_index: torch.Tensor,
    step_index: torch.Tensor,
    anchor_ids: torch.Tensor,
    *,
    gamma: float = 0.95,
    omega: float = 1.0,
    norm_by_std: bool = True,
    eps: float = 1e-6,
    invalid: torch.Tensor | None = None,
    invalid_penalty: float = 0.1,
    episode_stats: str = "steps",
    step_returns: torch.Tensor | None = None,
) -> torch.Tensor:
    """GiGPO: ``A = A^E(τ_i) + ω · A^S(a_t^(i))`` (Eq. 8), as verl-agent computes it.

    Args:
        episode_returns: ``[B]`` episode return ``R(τ_i)`` repeated on every step-sample of the trajectory.
        step_rewards: ``[B]`` per-step env rewards ``r_t`` (discounted into ``R_t`` with ``gamma``).
        group_index: ``[B]`` task-group ids (``uid``).
        traj_index: ``[B]`` trajectory ids (``traj_uid``; distinct within a group suffices).
        step_index: ``[B]`` turn numbers.
        anchor_ids: ``[B]`` ids of the raw current observation; equal ids within a group form an anchor-state group
            (build them with ``anchor_ids_from_observations``).
        gamma: discount of the step return (0.95).
        omega: weight of the step-level advantage (1.0).
        norm_by_std: ``True`` = verl-agent ``mode=mean_std_norm`` (ALFWorld script), ``False`` = ``mean_norm``
            (WebShop script and the verl-agent config default); one switch for both levels.
        eps: added to the std.
        invalid: optional ``[B]`` bool; when given, ``invalid_penalty`` is subtracted from the episode score and from
            the step return *after* discounting (verl-agent). Leave it ``None`` if your inputs already include it.
        invalid_penalty: penalty per invalid step (0.1).
        episode_stats: ``"steps"`` or ``"trajectory"`` statistics for the episode level (see ``grpo_advantages``).
        step_returns: precomputed ``[B]`` step returns; overrides the discounting of ``step_rewards``.

    Returns:
        ``[B]`` advantages.
    """
    scores = episode_returns
    if step_returns is None:
        step_returns = step_discounted_returns(step_rewards, pair_key(group_index, traj_index), step_index, gamma)
    if invalid is not None:
        penalty = invalid.to(scores.dtype) * invalid_penalty
        scores = scores - penalty
        step_returns = step_returns - penalty
    episode = grpo_advantages(
        scores, group_index, norm_by_std=norm_by_std, eps=eps, traj_index=traj_index, stats=episode_stats
    )
    step = gigpo_step_advantages(step_returns, group_index, anchor_ids, norm_by_std=norm_by_std, eps=eps)
    return episode + omega * step


def anchor_ids_from_observations(
    observations: Sequence[str],
    group_index: torch.Tensor | None = None,
    *,
    similarity_thresh: float | None = None,
) -> torch.Tensor:
    """Turn raw anchor observations into ``anchor_ids[B]`` for ``gigpo_advantages``.

    Exact mode (default): equal strings get equal ids (verl-agent's hash map). Similarity mode
    (``similarity_thresh``, e.g. 0.95): inside each group, an observation joins the first existing cluster whose
    representative (first member) has ``difflib.SequenceMatcher`` ratio ≥ the threshold, else starts a new cluster
    (verl-agent ``build_step_group`` with ``enable_similarity``). Runs in Python over strings, not tensors.
    """
    if similarity_thresh is None:
        table: dict[str, int] = {}
        return torch.tensor([table.setdefault(obs, len(table)) for obs in observations], dtype=torch.long)
    import difflib

    groups = [0] * len(observations) if group_index is None else group_index.tolist()
    clusters: dict[object, list[tuple[str, int]]] = {}
    ids: list[int] = []
    next_id = 0
    for obs, group in zip(observations, groups, strict=True):
        members = clusters.setdefault(group, [])
        for rep, cluster_id in members:
            if rep == obs or difflib.SequenceMatcher(None, rep, obs).ratio() >= similarity_thresh:
                ids.append(cluster_id)
                break
        else:
            members.append((obs, next_id))
            ids.append(next_id)
            next_id += 1
    return torch.tensor(ids, dtype=torch.long)
