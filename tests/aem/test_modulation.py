"""AEM and EMPG: loop equivalence, hand-computed cases and the invariants of the issue."""

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
    torch.testing.assert_close(actual.double(), torch.tensor(expected, dtype=torch.float64), atol=tol, rtol=tol)


@FAST
@given(layouts)
def test_aem_matches_loop_every_scope_and_direction(lay: Layout) -> None:
    base = aem.grpo_advantages(lay.t("scores", torch.float64), lay.t("groups"))
    proxy, g, t = lay.t("proxy", torch.float64), lay.t("groups"), lay.t("trajs")
    scopes = {
        "group": lay.groups,
        "trajectory": list(zip(lay.groups, lay.trajs, strict=True)),
        "batch": [0] * len(lay.groups),
    }
    for scope, keys in scopes.items():
        for variant, rev in (("aem", False), ("reversed", True)):
            for lam in (0.0, 1.0, 2.5):
                expected = ref.aem_alpha_ref(lay.proxy, keys, lam=lam, reversed_=rev)
                mod, alpha = aem.aem_modulate(base, proxy, g, lam=lam, scope=scope, traj_index=t, variant=variant)
                close(alpha, expected)
                close(mod, [a * b for a, b in zip(expected, base.tolist(), strict=True)])


@FAST
@given(layouts)
def test_aem_invariants(lay: Layout) -> None:
    base = aem.grpo_advantages(lay.t("scores", torch.float64), lay.t("groups"))
    g = lay.t("groups")
    mod, alpha = aem.aem_modulate(base, lay.t("proxy", torch.float64), g)
    assert bool((alpha > 0).all())
    assert torch.equal(torch.sign(mod), torch.sign(base))  # sign of every advantage kept
    for group in set(lay.groups):
        assert abs(float(alpha[g == group].mean()) - 1.0) < 1e-9  # group mean of α is 1
    same, alpha0 = aem.aem_modulate(base, lay.t("proxy", torch.float64), g, lam=0.0)
    assert torch.equal(same, base) and bool((alpha0 == 1).all())  # λ = 0 is the identity


@FAST
@given(layouts)
def test_aem_shuffled_permutes_alpha_within_groups(lay: Layout) -> None:
    base = aem.grpo_advantages(lay.t("scores", torch.float64), lay.t("groups"))
    g, proxy = lay.t("groups"), lay.t("proxy", torch.float64)
    _, alpha = aem.aem_modulate(base, proxy, g)
    _, shuffled = aem.aem_modulate(base, proxy, g, variant="shuffled", generator=torch.Generator().manual_seed(1))
    for group in set(lay.groups):
        sel = g == group
        assert torch.equal(torch.sort(alpha[sel]).values, torch.sort(shuffled[sel]).values)


def test_aem_hand_computed_and_guard() -> None:
    proxy = torch.tensor([0.0, 0.5, 1.0, 2.0, 2.05, 7.0])
    groups = torch.tensor([0, 0, 0, 1, 1, 2])
    base = torch.tensor([1.0, -1.0, 2.0, 3.0, -3.0, 4.0])
    mod, alpha = aem.aem_modulate(base, proxy, groups)
    w = [1.0, math.exp(-0.5), math.exp(-1.0)]
    mean = sum(w) / 3
    # Group 0: h̃ = 0, .5, 1; group 1: range 0.05 < 0.1 → guard α = 1; group 2: singleton → range 0 → α = 1.
    close(alpha, [w[0] / mean, w[1] / mean, w[2] / mean, 1.0, 1.0, 1.0], 1e-6)
    close(mod, [w[0] / mean, -w[1] / mean, 2 * w[2] / mean, 3.0, -3.0, 4.0], 1e-6)
    assert alpha[0] > 1 > alpha[2]  # low-entropy spans amplified, high-entropy damped


def test_aem_token_level_advantages_and_nan_proxy() -> None:
    mask = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=torch.bool)
    base = aem.broadcast_to_tokens(torch.tensor([1.0, -1.0, 5.0]), mask)
    proxy = aem.response_entropy(torch.tensor([[0.1, 0.3, 9.0], [2.0, 9.0, 9.0], [9.0, 9.0, 9.0]]), mask,
                                 empty_value=float("nan"))
    mod, alpha = aem.aem_modulate(base, proxy, torch.zeros(3, dtype=torch.long))
    assert alpha[2] == 1.0  # the empty response is left out
    close(alpha[:2], [2 / (1 + math.exp(-1)), 2 * math.exp(-1) / (1 + math.exp(-1))], 1e-6)
    torch.testing.assert_close(mod, base * alpha[:, None])
    assert bool(torch.isfinite(mod).all())


def test_aem_rejects_bad_options() -> None:
    x = torch.zeros(2)
    ids = torch.zeros(2, dtype=torch.long)
    with pytest.raises(ValueError, match="scope"):
        aem.aem_modulate(x, x, ids, scope="token")
    with pytest.raises(ValueError, match="variant"):
        aem.aem_modulate(x, x, ids, variant="inverse")
    with pytest.raises(ValueError, match="traj_index"):
        aem.aem_modulate(x, x, ids, scope="trajectory")


@FAST
@given(layouts)
def test_empg_matches_loop(lay: Layout) -> None:
    base = aem.grpo_advantages(lay.t("scores", torch.float64), lay.t("groups"))
    traj_keys = list(zip(lay.groups, lay.trajs, strict=True))
    for zeta, zero_mean in ((0.1, True), (0.5, False)):
        expected = ref.empg_ref(base.tolist(), lay.proxy, traj_keys, lay.steps, zeta=zeta, zero_mean=zero_mean,
                                k=1.5, k_future=0.7)
        got, g = aem.empg_modulate(base, lay.t("proxy", torch.float64), lay.t("groups"), lay.t("trajs"),
                                   lay.t("steps"), zeta=zeta, zero_mean=zero_mean, k=1.5, k_future=0.7)
        close(got, expected)
        assert abs(float(g.mean()) - 1.0) < 1e-6  # EMPG's g has batch mean 1
        if zero_mean:
            assert abs(float(got.mean())) < 1e-9


def test_empg_hand_computed() -> None:
    # One trajectory, steps 0, 1, 2 with entropies 0, 1, 2 → h̃ = 0, .5, 1.
    adv = torch.tensor([1.0, 1.0, 1.0])
    proxy = torch.tensor([0.0, 1.0, 2.0])
    zeros = torch.zeros(3, dtype=torch.long)
    got, g = aem.empg_modulate(adv, proxy, zeros, zeros, torch.tensor([0, 1, 2]), zero_mean=False)
    raw = [1.0, math.exp(-0.5), math.exp(-1.0)]
    mean = sum(raw) / 3
    close(g, [r / (mean + 1e-8) for r in raw], 1e-6)
    close(got, [raw[0] / mean + 0.1 * raw[1], raw[1] / mean + 0.1 * raw[2], raw[2] / mean], 1e-6)


def test_broadcast_to_tokens() -> None:
    mask = torch.tensor([[1, 1, 0], [0, 0, 0]])
    assert aem.broadcast_to_tokens(torch.tensor([2.0, 3.0]), mask).tolist() == [[2.0, 2.0, 0.0], [0.0, 0.0, 0.0]]
