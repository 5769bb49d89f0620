"""Base estimators: property tests against the loop references plus hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings

import aem
from aem import reference as ref
from tests.aem.layouts import Layout, layouts

FAST = settings(max_examples=60, deadline=None)


def close(actual: torch.Tensor, expected: list[float], tol: float = 1e-6) -> None:
    assert actual.shape == (len(expected),)
    torch.testing.assert_close(actual.double(), torch.tensor(expected, dtype=torch.float64), atol=tol, rtol=tol)


@FAST
@given(layouts)
def test_grpo_matches_loop(lay: Layout) -> None:
    s, g, t = lay.t("scores", torch.float64), lay.t("groups"), lay.t("trajs")
    close(aem.grpo_advantages(s, g), ref.grpo_ref(lay.scores, lay.groups))
    close(aem.grpo_advantages(s, g, norm_by_std=False), ref.grpo_ref(lay.scores, lay.groups, norm_by_std=False))
    close(aem.drgrpo_advantages(s, g), ref.grpo_ref(lay.scores, lay.groups, norm_by_std=False))
    traj_keys = list(zip(lay.groups, lay.trajs, strict=True))
    close(aem.grpo_advantages(s, g, traj_index=t, stats="trajectory"), ref.grpo_ref(lay.scores, lay.groups,
                                                                                    trajs=traj_keys))


@FAST
@given(layouts)
def test_rloo_matches_loop(lay: Layout) -> None:
    s, g, t = lay.t("scores", torch.float64), lay.t("groups"), lay.t("trajs")
    close(aem.rloo_advantages(s, g), ref.rloo_ref(lay.scores, lay.groups))
    traj_keys = list(zip(lay.groups, lay.trajs, strict=True))
    close(aem.rloo_advantages(s, g, traj_index=t), ref.rloo_ref(lay.scores, lay.groups, trajs=traj_keys))


@FAST
@given(layouts)
def test_gigpo_matches_loop(lay: Layout) -> None:
    args = (lay.t("scores", torch.float64), lay.t("rewards", torch.float64), lay.t("groups"), lay.t("trajs"),
            lay.t("steps"), lay.t("anchors"))
    for norm in (True, False):
        expected = ref.gigpo_ref(lay.scores, lay.rewards, lay.groups, lay.trajs, lay.steps, lay.anchors,
                                 norm_by_std=norm, invalid=lay.invalid, gamma=0.9, omega=0.7)
        got = aem.gigpo_advantages(*args, norm_by_std=norm, invalid=lay.t("invalid", torch.bool), gamma=0.9,
                                   omega=0.7)
        close(got, expected)


@FAST
@given(layouts)
def test_discounted_returns_match_loop(lay: Layout) -> None:
    keys = [g * 100 + t for g, t in zip(lay.groups, lay.trajs, strict=True)]
    got = aem.step_discounted_returns(lay.t("rewards", torch.float64), torch.tensor(keys), lay.t("steps"), 0.95)
    close(got, ref.discounted_ref(lay.rewards, keys, lay.steps, 0.95))


def test_grpo_hand_computed() -> None:
    # group 0: scores 1,0,0 → mean 1/3, std (unbiased) = sqrt(1/3); group 1 all equal → 0; group 2 singleton → raw.
    scores = torch.tensor([1.0, 0.0, 0.0, 2.0, 2.0, 5.0])
    groups = torch.tensor([7, 7, 7, 3, 3, 9])
    std = math.sqrt(1 / 3)
    expected = [(2 / 3) / (std + 1e-6), (-1 / 3) / (std + 1e-6), (-1 / 3) / (std + 1e-6), 0.0, 0.0, 5 / (1 + 1e-6)]
    close(aem.grpo_advantages(scores, groups), expected, 1e-5)
    close(aem.grpo_advantages(scores, groups, norm_by_std=False), [2 / 3, -1 / 3, -1 / 3, 0.0, 0.0, 5.0], 1e-6)
    # RLOO: baseline = mean of the others.
    close(aem.rloo_advantages(scores, groups), [1.0, -0.5, -0.5, 0.0, 0.0, 5.0])


def test_grpo_all_equal_rewards_give_zero() -> None:
    scores = torch.full((8,), 10.0)
    assert torch.equal(aem.grpo_advantages(scores, torch.zeros(8, dtype=torch.long)), torch.zeros(8))


def test_gigpo_hand_computed() -> None:
    # One group, two trajectories. Traj A: 2 steps (rewards 0, 10), won; traj B: 2 steps (0, 0), lost.
    # Both first steps share the anchor "start"; the second steps have distinct anchors (singletons → A^S = 0).
    episode = torch.tensor([10.0, 10.0, 0.0, 0.0])
    rewards = torch.tensor([0.0, 10.0, 0.0, 0.0])
    group = torch.zeros(4, dtype=torch.long)
    traj = torch.tensor([0, 0, 1, 1])
    step = torch.tensor([0, 1, 0, 1])
    anchors = aem.anchor_ids_from_observations(["start", "room A", "start", "room B"])
    got = aem.gigpo_advantages(episode, rewards, group, traj, step, anchors, gamma=0.5, norm_by_std=False)
    # Episode level (cross-step mean = 5): ±5. Step returns: A0 = 0 + 0.5·10 = 5, B0 = 0 → anchor "start" mean 2.5.
    close(got, [5.0 + 2.5, 5.0 + 0.0, -5.0 - 2.5, -5.0 + 0.0])
    with_std = aem.gigpo_advantages(episode, rewards, group, traj, step, anchors, gamma=0.5)
    ep_std = math.sqrt(4 * 25 / 3)  # unbiased std of [10, 10, 0, 0]
    step_std = math.sqrt(12.5)  # unbiased std of [5, 0]
    close(with_std, [5 / (ep_std + 1e-6) + 2.5 / (step_std + 1e-6), 5 / (ep_std + 1e-6),
                     -5 / (ep_std + 1e-6) - 2.5 / (step_std + 1e-6), -5 / (ep_std + 1e-6)], 1e-5)


def test_gigpo_invalid_penalty_after_discounting() -> None:
    episode = torch.tensor([0.0, 0.0])
    rewards = torch.tensor([1.0, 1.0])
    got = aem.gigpo_advantages(episode, rewards, torch.zeros(2, dtype=torch.long), torch.tensor([0, 1]),
                               torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long),
                               norm_by_std=False, invalid=torch.tensor([True, False]))
    # scores −0.1 / 0 → episode ±0.05; step returns 1 − 0.1 / 1 → ±0.05.
    close(got, [-0.1, 0.1])


def test_anchor_similarity_mode_clusters_near_duplicates() -> None:
    obs = ["You are in the kitchen. You see a pan.", "You are in the kitchen. You see a pot.", "A totally other room"]
    assert aem.anchor_ids_from_observations(obs).tolist() == [0, 1, 2]
    ids = aem.anchor_ids_from_observations(obs, torch.zeros(3, dtype=torch.long), similarity_thresh=0.9)
    assert ids[0] == ids[1] != ids[2]


def test_bad_stats_mode_raises() -> None:
    with pytest.raises(ValueError, match="stats"):
        aem.grpo_advantages(torch.zeros(2), torch.zeros(2, dtype=torch.long), stats="episode")
    with pytest.raises(ValueError, match="traj_index"):
        aem.grpo_advantages(torch.zeros(2), torch.zeros(2, dtype=torch.long), stats="trajectory")


def test_empty_batch() -> None:
    empty = torch.zeros(0)
    ids = torch.zeros(0, dtype=torch.long)
    assert aem.grpo_advantages(empty, ids).shape == (0,)
    assert aem.gigpo_advantages(empty, empty, ids, ids, ids, ids).shape == (0,)
